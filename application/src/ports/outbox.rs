//! The webhook outbox: events written in the same transaction as the change
//! they report (by the repositories, when webhooks are on), then claimed,
//! delivered and settled by the [`Dispatcher`](crate::webhooks::Dispatcher).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::conversation_repository::RepositoryError;

/// An event claimed for delivery: leased to the claimer until its outcome
/// is recorded (or the lease runs out, when another claimer may take it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The outbox's own order: per conversation, the order of the changes.
    pub position: i64,
    /// The event id (a ULID), as in the body: receivers deduplicate by it.
    pub id: String,
    pub conversation_id: String,
    pub event_type: String,
    /// The JSON body, exactly as it is sent and signed.
    pub body: String,
    /// Attempts that failed so far.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// Retried until then, then given up.
    pub deadline: DateTime<Utc>,
}

/// An event given up on after its retries (until `revive`d).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEvent {
    pub id: String,
    pub conversation_id: String,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub dead_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// How many events wait, and how many are dead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: u64,
    pub dead: u64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Leases up to `limit` events due at `now` for `lease`: only the
    /// earliest undelivered event of each conversation (a later one waits
    /// for it), none leased by anyone else. Of concurrent claimers (other
    /// nodes), each event goes to one.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, RepositoryError>;

    /// Removes delivered events.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn delivered(&self, positions: &[i64]) -> Result<(), RepositoryError>;

    /// Records a failed attempt: the event is due again at `due`, its lease
    /// released.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn retry_at(
        &self,
        position: i64,
        due: DateTime<Utc>,
        error: &str,
    ) -> Result<(), RepositoryError>;

    /// Gives the event up: it is kept as dead, and no longer holds back
    /// its conversation's later events.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn give_up(
        &self,
        position: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), RepositoryError>;

    /// Dead events, oldest first.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn dead_events(&self, limit: u32) -> Result<Vec<DeadEvent>, RepositoryError>;

    /// Makes dead events due again at `now`, with a new 24 h window from
    /// `now`: the one with `id`, or every one. Returns how many.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn revive<'a>(
        &self,
        id: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<u64, RepositoryError>;

    /// Releases every lease (a single-node database at start: nobody else
    /// can hold one, and the previous process's are void).
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn release_leases(&self) -> Result<u64, RepositoryError>;

    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn backlog(&self) -> Result<Backlog, RepositoryError>;
}

/// Why an attempt failed (anything but a 2xx within the timeout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// Sends one event to the receiver, signed.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// # Errors
    /// [`DeliveryError`] unless the receiver answered 2xx in time.
    async fn send(&self, event: &OutboxEvent) -> Result<(), DeliveryError>;
}
