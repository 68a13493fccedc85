//! The agents the desk knows: everyone who ever connected or called the
//! API with a support token, and whether they set themselves away.

use async_trait::async_trait;
use qc_domain::UserId;

use super::conversation_repository::RepositoryError;

/// One agent as the desk lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub id: UserId,
    /// Set by the agent (`PUT /agents/me/status`), kept across reconnects.
    pub away: bool,
    /// Open conversations assigned to them now.
    pub open_conversations: u64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AgentRepository: Send + Sync {
    /// Records that `agent` exists (idempotent; the first time, not away).
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn seen(&self, agent: &UserId) -> Result<(), RepositoryError>;

    /// The agent, if ever seen.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn find(&self, agent: &UserId) -> Result<Option<AgentRecord>, RepositoryError>;

    /// Sets the agent's away flag (recording the agent if new). Returns
    /// the flag as it was before.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn set_away(&self, agent: &UserId, away: bool) -> Result<bool, RepositoryError>;

    /// Every agent ever seen, by id, with their open conversations counted
    /// in the same query.
    ///
    /// # Errors
    /// MUST return [`RepositoryError`] on storage failure.
    async fn list(&self) -> Result<Vec<AgentRecord>, RepositoryError>;
}
