//! The node's presence task: arrivals and departures applied in the order
//! they happened to the [`Book`] of what this node has told the store, and
//! what the store missed retried every tick.

use std::collections::HashSet;
use std::sync::Arc;

use dashmap::DashMap;
use qc_domain::{PresenceStatus, Side, User};
use tokio::sync::mpsc;

use super::announcer::Announcer;
use super::{Command, Local, TICK};
use crate::ports::PresenceStore;

/// The node's presence task: arrivals and departures in order, the lease,
/// the reaping of dead nodes, and the retries of what the store could not
/// record (it was unreachable).
pub(super) async fn run(
    announcer: Announcer,
    local: Arc<DashMap<User, Local>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut book = Book {
        store: announcer.ports.store.clone(),
        announcer,
        local,
        present: HashSet::new(),
        arrive_again: HashSet::new(),
        depart_again: HashSet::new(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Arrive(user)) => book.arrive(user).await,
                Some(Command::Depart(user, generation)) => {
                    let gone = book
                        .local
                        .remove_if(&user, |_, l| l.connections == 0 && l.generation == generation)
                        .is_some();
                    if gone {
                        book.depart(user).await;
                    }
                }
                Some(Command::Rearrive) => book.rearrive().await,
                Some(Command::Snapshot(user)) => book.announcer.customer_arrived(&user, false).await,
            },
            _ = tick.tick() => book.retry().await,
        }
    }
}

/// What this node has told the store, and what it still owes it.
struct Book {
    store: Arc<dyn PresenceStore>,
    announcer: Announcer,
    local: Arc<DashMap<User, Local>>,
    /// Users the store knows this node holds.
    present: HashSet<User>,
    /// Arrivals the store did not record yet.
    arrive_again: HashSet<User>,
    /// Departures the store did not record yet.
    depart_again: HashSet<User>,
}

impl Book {
    fn held_here(&self, user: &User) -> bool {
        self.local.get(user).is_some_and(|l| l.connections > 0)
    }

    /// The user's presence changed (`online`) or a customer's new
    /// connection needs the agents' presence.
    async fn arrived(&self, user: &User, online: bool) {
        match user.side() {
            Side::Customer => self.announcer.customer_arrived(user, online).await,
            Side::Agent if online => self.announcer.came_online(user).await,
            Side::Agent => {}
        }
    }

    async fn arrive(&mut self, user: User) {
        if self.depart_again.remove(&user) || self.present.contains(&user) {
            // Back before the store heard of the departure (it still has
            // the user as held here, which is true again), or back within
            // the grace: no change, but a new connection.
            self.present.insert(user.clone());
            self.arrived(&user, false).await;
            return;
        }
        match self.store.arrive(&user).await {
            Ok(online) => {
                self.arrive_again.remove(&user);
                self.present.insert(user.clone());
                self.arrived(&user, online).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "presence arrival not recorded; retrying every second");
                self.arrive_again.insert(user);
            }
        }
    }

    async fn depart(&mut self, user: User) {
        // An arrival that failed may still have been recorded (a timeout
        // after the script ran): undo it all the same (departing is
        // idempotent).
        let uncertain = self.arrive_again.remove(&user);
        if !self.present.remove(&user) && !uncertain {
            return;
        }
        match self.store.depart(&user).await {
            Ok(true) => {
                self.depart_again.remove(&user);
                self.announcer
                    .announce(&user, PresenceStatus::Offline)
                    .await;
            }
            Ok(false) => {
                self.depart_again.remove(&user);
            }
            Err(e) => {
                tracing::warn!(error = %e, "presence departure not recorded; retrying every second");
                self.depart_again.insert(user);
            }
        }
    }

    async fn rearrive(&mut self) {
        tracing::warn!(
            users = self.present.len(),
            "this node's presence lease had run out; announcing its users again"
        );
        let users: Vec<User> = self.present.iter().cloned().collect();
        for user in users {
            match self.store.arrive(&user).await {
                Ok(true) => self.arrived(&user, true).await,
                Ok(false) => {}
                Err(_) => {
                    self.present.remove(&user);
                    self.arrive_again.insert(user);
                }
            }
        }
    }

    /// What the store missed while it was unreachable, as things are now:
    /// an arrival of a user since gone is dropped, a departure of a user
    /// since back is dropped.
    async fn retry(&mut self) {
        let arrivals: Vec<User> = self.arrive_again.drain().collect();
        for user in arrivals {
            if self.held_here(&user) {
                self.arrive(user).await;
            }
        }
        let departures: Vec<User> = self.depart_again.drain().collect();
        for user in departures {
            if self.held_here(&user) {
                self.present.insert(user);
            } else {
                self.present.insert(user.clone());
                self.depart(user).await;
            }
        }
    }
}
