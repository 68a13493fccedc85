//! Storage of conversations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use qc_domain::{Conversation, ConversationId, ConversationView, RoutingRule, Side, UserId};

/// Storage failed (unreachable, timeout, constraint it should not have hit).
#[derive(Debug, thiserror::Error)]
#[error("storage unavailable: {0:#}")]
pub struct RepositoryError(#[from] pub anyhow::Error);

/// Which conversations a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationFilter {
    /// A client's own, newest first.
    OwnedBy(UserId),
    /// An agent's assigned ones, newest first.
    AssignedTo(UserId),
    /// Open and unassigned, oldest first.
    Queue,
}

impl ConversationFilter {
    /// Whose view the listing shows: a customer's own listing is theirs,
    /// the other two are agents'.
    pub const fn viewer(&self) -> Side {
        match self {
            Self::OwnedBy(_) => Side::Customer,
            Self::AssignedTo(_) | Self::Queue => Side::Agent,
        }
    }
}

/// An assignment automatic routing made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub conversation: ConversationId,
    pub agent: UserId,
    /// The conversation's owner.
    pub customer: UserId,
}

/// One routing decision: what it assigned, and the queue after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteOutcome {
    pub routed: Vec<Routed>,
    /// Conversations still waiting.
    pub waiting: u64,
    /// When the oldest of them was opened.
    pub oldest_waiting: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a claim within a capacity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call assigned it.
    Assigned,
    /// The agent already holds the most open conversations allowed.
    AtCapacity,
    /// Not open and unassigned any more (closed or taken meanwhile).
    Lost,
}

/// What a transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Moved; `last_seq` is the conversation's last seq at that moment
    /// (texts up to it were the previous agent's).
    Moved { last_seq: i64 },
    /// The target already holds the most open conversations allowed.
    AtCapacity,
    /// Not moved: closed, or no longer the caller's.
    Lost,
}

/// Keyset pagination: `after` is the last id of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<ConversationId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationPage {
    /// Each as the listing's viewer sees it (last message, unread count).
    pub items: Vec<ConversationView>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<ConversationId>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// Stores a new conversation unless its owner already has `max_open`
    /// open ones. Returns whether it was stored. The count and the insert
    /// are one decision in the database: of concurrent calls by one owner,
    /// no more than `max_open` leave that many open.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] when storage failed.
    async fn insert(
        &self,
        conversation: &Conversation,
        max_open: u32,
    ) -> Result<bool, RepositoryError>;

    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure; a missing
    /// conversation is `Ok(None)`.
    async fn find(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError>;

    /// The conversation as a user on `viewer`'s side sees it: the latest
    /// message that side may see and the texts from the other side still
    /// unread, computed by the database in the same query.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure; a missing
    /// conversation is `Ok(None)`.
    async fn find_view(
        &self,
        id: ConversationId,
        viewer: Side,
    ) -> Result<Option<ConversationView>, RepositoryError>;

    /// Atomically hands the conversation from agent `from` to `to` (`None`:
    /// back to the queue) if it is open and `from` holds it, and, with a
    /// `capacity`, only if `to` holds fewer open conversations than that
    /// (decided under the routing lock, so no agent ends above it). One
    /// decision in the database: of a transfer and a close (or two
    /// transfers, or a text) racing, the database decides.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_transfer(
        &self,
        id: ConversationId,
        from: &UserId,
        to: Option<UserId>,
        capacity: Option<u32>,
    ) -> Result<Transfer, RepositoryError>;

    /// Claims an open, unassigned conversation for `agent` if the agent
    /// holds fewer than `capacity` open ones, under the routing lock, and
    /// records the assignment time (automatic routing's tie-break).
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_assign_within(
        &self,
        id: ConversationId,
        agent: &UserId,
        capacity: u32,
    ) -> Result<Claim, RepositoryError>;

    /// One routing decision, whole or not at all, one at a time across
    /// every node (the routing lock): the waiting conversations (oldest
    /// first) and the agents among `online` who are not away, with their
    /// open conversations and last assignment, go to `rule`; its
    /// assignments are applied (each only if the conversation still waits)
    /// and returned.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure (nothing applied).
    async fn route(
        &self,
        online: &[UserId],
        capacity: u32,
        rule: Arc<dyn RoutingRule>,
    ) -> Result<RouteOutcome, RepositoryError>;

    /// The owners of the open conversations assigned to `agent` (who hears
    /// of the agent's presence), without duplicates.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn customers_served_by(&self, agent: &UserId) -> Result<Vec<UserId>, RepositoryError>;

    /// The agents assigned to `customer`'s open conversations, without
    /// duplicates.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn agents_serving(&self, customer: &UserId) -> Result<Vec<UserId>, RepositoryError>;

    /// Atomically assigns `agent` if the conversation is open and unassigned.
    /// Returns whether this call assigned it: of two concurrent callers,
    /// exactly one gets `true`.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_assign(&self, id: ConversationId, agent: &UserId)
    -> Result<bool, RepositoryError>;

    /// Atomically closes the conversation if open (`closed_by` is who
    /// closed it, for the webhook event). Returns whether this call closed
    /// it.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_close(
        &self,
        id: ConversationId,
        at: DateTime<Utc>,
        closed_by: &UserId,
    ) -> Result<bool, RepositoryError>;

    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn list(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> Result<ConversationPage, RepositoryError>;

    /// Readiness probe.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] when the database is unreachable.
    async fn health(&self) -> Result<(), RepositoryError>;
}
