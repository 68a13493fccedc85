//! Webhooks (CONTRACT §6): every change is written to an outbox in the
//! transaction that makes it ([`events`] renders the bodies), and each
//! node's [`Dispatcher`] claims due events, sends them signed, and records
//! the outcome: delivered (removed), retried with exponential backoff and
//! jitter, or, 24 h after the event, given up (kept as dead, counted in
//! `/metrics`, sent again by `quickconnect webhooks retry`).
//!
//! Nothing on the chat path waits for this: a message's transaction only
//! adds its event's row; sending happens on the dispatcher's task, up to
//! [`IN_FLIGHT`] at once, each bounded by the sender's 10 s timeout.

pub mod events;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::ports::{Clock, DeliveryError, Outbox, OutboxEvent, WebhookSender};

pub use events::WebhookRecord;

/// How long a claimed event is this node's: longer than an attempt can take
/// (the 10 s timeout) plus recording it. A node that dies mid-delivery
/// leaves it to another node after this.
pub const LEASE: Duration = Duration::from_secs(30);

/// Attempts in flight per node (at most one per conversation).
pub const IN_FLIGHT: usize = 256;

/// How long an event is retried before it is given up (from its creation,
/// or from `quickconnect webhooks retry`).
pub const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);

/// How often the outbox is looked at when nothing told this node of a new
/// event (another node's events, retries coming due).
const POLL: Duration = Duration::from_millis(500);

/// Least time between two claims: a busy node stores events in every
/// batch, and each tells the dispatcher; they are taken together.
const CLAIM_GAP: Duration = Duration::from_millis(10);

/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// The delay before retry number `attempt` (1 for the first retry):
/// 2 s doubled per attempt, at most 10 min, with equal jitter (`jitter` in
/// 0..1 picks between half and all of it). The first retry comes within
/// 2 s, and a failing event is tried at least every 10 min.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    const FIRST: Duration = Duration::from_secs(2);
    const MOST: Duration = Duration::from_secs(600);
    let doubled = FIRST.saturating_mul(1 << attempt.saturating_sub(1).min(20));
    let full = doubled.min(MOST);
    full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

/// What happens to an event after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// A failed attempt number `attempts` (counting this one) at `now`: retried
/// after [`retry_delay`], but never past `deadline`; at the deadline it is
/// given up.
pub fn after_failure(
    attempts: u32,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    jitter: f64,
) -> AfterFailure {
    if now >= deadline {
        return AfterFailure::GiveUp;
    }
    let delay =
        chrono::Duration::from_std(retry_delay(attempts, jitter)).unwrap_or(chrono::Duration::MAX);
    AfterFailure::RetryAt((now + delay).min(deadline))
}

type Attempt = (OutboxEvent, Result<(), DeliveryError>, Duration);

/// A node's delivery worker.
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    kick: Arc<Notify>,
    /// Set by [`Dispatcher::stop`]: claim nothing more, finish what is in
    /// flight.
    stopping: watch::Sender<bool>,
    /// Set by the task when it has recorded its last attempt.
    stopped: watch::Receiver<bool>,
}

impl Dispatcher {
    /// Starts the node's delivery task; it stops when the returned handle
    /// (and every clone) is dropped. `stored` is notified when this node
    /// stores an event (it is sent at once instead of at the next poll).
    pub fn start(
        outbox: Arc<dyn Outbox>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        stored: Arc<Notify>,
    ) -> Arc<Self> {
        for outcome in ["delivered", "failed"] {
            metrics::counter!("qc_webhook_deliveries_total", "outcome" => outcome).increment(0);
        }
        metrics::counter!("qc_webhook_events_dead_total").increment(0);
        let (stopping, stop) = watch::channel(false);
        let (done, stopped) = watch::channel(false);
        let dispatcher = Arc::new(Self {
            outbox,
            sender,
            clock,
            kick: stored,
            stopping,
            stopped,
        });
        tokio::spawn(run(Arc::downgrade(&dispatcher), stop, done));
        dispatcher
    }

    /// A graceful stop: nothing more is claimed, the attempts in flight end
    /// (each within the sender's timeout) and their outcomes are recorded,
    /// so a delivered event is not sent again after a restart.
    pub async fn stop(&self) {
        self.stopping.send_replace(true);
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|done| *done).await;
    }

    /// Records the outcomes of finished attempts. A failure to record
    /// leaves the events leased: they are sent again when the lease ends
    /// (at least once).
    async fn settle(&self, finished: Vec<Attempt>) {
        if finished.is_empty() {
            return;
        }
        let now = self.clock.now();
        let mut delivered = Vec::new();
        for (event, outcome, took) in finished {
            metrics::histogram!("qc_webhook_delivery_seconds").record(took.as_secs_f64());
            let error = match outcome {
                Ok(()) => {
                    metrics::counter!("qc_webhook_deliveries_total", "outcome" => "delivered")
                        .increment(1);
                    delivered.push(event.position);
                    continue;
                }
                Err(e) => e,
            };
            metrics::counter!("qc_webhook_deliveries_total", "outcome" => "failed").increment(1);
            let attempts = event.attempts + 1;
            let recorded = match after_failure(attempts, now, event.deadline, rand::random()) {
                AfterFailure::RetryAt(due) => {
                    tracing::debug!(event = %event.id, attempts, %error, %due, "webhook attempt failed; retrying");
                    self.outbox.retry_at(event.position, due, &error.0).await
                }
                AfterFailure::GiveUp => {
                    tracing::warn!(event = %event.id, kind = %event.event_type, attempts, %error,
                        "webhook event given up after its retries (`quickconnect webhooks retry` sends it again)");
                    metrics::counter!("qc_webhook_events_dead_total").increment(1);
                    self.outbox.give_up(event.position, now, &error.0).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, event = %event.id, "could not record a webhook attempt");
            }
        }
        if !delivered.is_empty()
            && let Err(e) = self.outbox.delivered(&delivered).await
        {
            tracing::warn!(error = %e, events = delivered.len(), "could not record delivered webhook events; they will be sent again");
        }
    }

    async fn refresh_backlog(&self) {
        match self.outbox.backlog().await {
            Ok(b) => {
                metrics::gauge!("qc_webhook_outbox_pending").set(b.pending as f64);
                metrics::gauge!("qc_webhook_outbox_dead").set(b.dead as f64);
            }
            Err(e) => tracing::debug!(error = %e, "webhook backlog unavailable"),
        }
    }
}

async fn run(
    dispatcher: Weak<Dispatcher>,
    mut stop: watch::Receiver<bool>,
    done: watch::Sender<bool>,
) {
    let mut in_flight: JoinSet<Attempt> = JoinSet::new();
    let mut finished = Vec::new();
    let mut backlog_at = Instant::now();
    let mut last_claim = tokio::time::Instant::now() - CLAIM_GAP;
    loop {
        let Some(d) = dispatcher.upgrade() else {
            break;
        };
        if *stop.borrow() {
            while let Some(attempt) = in_flight.join_next().await {
                if let Ok(attempt) = attempt {
                    finished.push(attempt);
                }
            }
            d.settle(std::mem::take(&mut finished)).await;
            break;
        }
        while let Some(attempt) = in_flight.try_join_next() {
            if let Ok(attempt) = attempt {
                finished.push(attempt);
            }
        }
        d.settle(std::mem::take(&mut finished)).await;
        if Instant::now() >= backlog_at {
            d.refresh_backlog().await;
            backlog_at = Instant::now() + BACKLOG_EVERY;
        }
        let room = IN_FLIGHT - in_flight.len();
        let mut full = false;
        if room > 0 {
            tokio::time::sleep_until(last_claim + CLAIM_GAP).await;
            last_claim = tokio::time::Instant::now();
            let limit = u32::try_from(room).unwrap_or(u32::MAX);
            match d.outbox.claim(d.clock.now(), LEASE, limit).await {
                Ok(events) => {
                    full = events.len() == room;
                    for event in events {
                        let sender = d.sender.clone();
                        in_flight.spawn(async move {
                            let started = Instant::now();
                            let outcome = sender.send(&event).await;
                            (event, outcome, started.elapsed())
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook outbox unavailable"),
            }
        }
        // Wait for an attempt to finish, a new event here, or the poll.
        // While full, only a finished attempt makes room.
        let wait = if full { LEASE } else { POLL };
        tokio::select! {
            Some(attempt) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(attempt) = attempt {
                    finished.push(attempt);
                }
            }
            () = d.kick.notified(), if !full => {}
            _ = stop.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    done.send_replace(true);
}

#[cfg(test)]
mod tests;
