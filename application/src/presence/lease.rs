//! The node's lease task: renews this node's presence lease (asking for
//! its users to be told again when it had run out) and reaps the users of
//! dead nodes, announcing them offline.

use qc_domain::PresenceStatus;
use tokio::sync::mpsc;

use super::announcer::Announcer;
use super::{Command, RENEW_EVERY, TICK};

/// The node's lease, on a task of its own so that no database wait or
/// backlog of arrivals delays a renewal past the lease (other nodes would
/// take this node's users for offline); and the reaping of dead nodes.
pub(super) async fn lease(announcer: Announcer, commands: mpsc::UnboundedSender<Command>) {
    let store = announcer.ports.store.clone();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tick.tick().await;
        if commands.is_closed() {
            return;
        }
        ticks = ticks.wrapping_add(1);
        if ticks % RENEW_EVERY == 1 {
            match store.renew().await {
                Ok(true) => {
                    let _ = commands.send(Command::Rearrive);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "presence lease not renewed"),
            }
        }
        match store.reap().await {
            Ok(offline) => {
                for user in offline {
                    announcer.announce(&user, PresenceStatus::Offline).await;
                }
            }
            Err(e) => tracing::debug!(error = %e, "dead nodes not reaped this time"),
        }
    }
}
