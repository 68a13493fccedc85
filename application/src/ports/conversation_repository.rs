//! Storage of conversations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_domain::{Conversation, ConversationId, ConversationView, Side, UserId};

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
    /// back to the queue) if it is open and `from` holds it. Returns the
    /// conversation's last `seq` at that moment when this call moved it
    /// (texts up to it were `from`'s), `None` when it did not: one
    /// conditional update, so of a transfer and a close (or two transfers,
    /// or a text) racing, the database decides.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_transfer(
        &self,
        id: ConversationId,
        from: &UserId,
        to: Option<UserId>,
    ) -> Result<Option<i64>, RepositoryError>;

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

    /// Atomically closes the conversation if open. Returns whether this call
    /// closed it.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn try_close(
        &self,
        id: ConversationId,
        at: DateTime<Utc>,
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
