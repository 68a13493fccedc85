//! Storage of messages, with the per-conversation `seq`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_domain::{ConversationId, Message, MessageId, NewMessage, UserId};

use super::conversation_repository::RepositoryError;

/// What `append` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next `seq`. `participants` are the
    /// conversation's participants as the store saw them when it accepted
    /// the message (the recipients of its broadcast).
    Stored {
        message: Message,
        participants: Vec<UserId>,
    },
    /// The sender already stored a message with this `client_msg_id` here:
    /// that one, unchanged.
    Duplicate(Message),
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("conversation is closed")]
    ConversationClosed,
    #[error("conversation does not exist")]
    ConversationMissing,
    #[error("the sender is not a participant")]
    NotParticipant,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Where a page of history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCursor {
    /// The latest messages.
    Latest,
    /// The first messages after this one.
    After(MessageId),
    /// The messages just before this one.
    Before(MessageId),
    /// The first messages after the first id and before the second.
    Between(MessageId, MessageId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub cursor: HistoryCursor,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// Oldest first.
    pub items: Vec<Message>,
    /// For `Latest`/`Before`: the oldest item's id when older ones exist (pass
    /// as `before`); for `After`/`Between`: the newest item's id when more
    /// follow (pass as `after`).
    pub next: Option<MessageId>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cursor is not a message of this conversation")]
    UnknownCursor,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

#[derive(Debug, thiserror::Error)]
pub enum MarkReadError {
    #[error("message is not in this conversation")]
    UnknownMessage,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MessageRepository: Send + Sync {
    /// Stores `message` with the conversation's next `seq`, atomically: two
    /// concurrent appends never get the same `seq` and leave no gap. Only
    /// into an open conversation, and only from one of its participants,
    /// as the database has them at that moment (no earlier read decides). A
    /// `(conversation, sender, client_msg_id)` seen before returns the
    /// stored message as [`Appended::Duplicate`]. Returns only once the
    /// message is durable (committed).
    ///
    /// # Errors
    /// MUST return `ConversationClosed` / `ConversationMissing` /
    /// `NotParticipant` and store nothing when the conversation is closed /
    /// absent / not the sender's; `Storage` otherwise (nothing stored).
    async fn append(&self, message: NewMessage) -> Result<Appended, AppendError>;

    /// A page of history, oldest first within the page.
    ///
    /// # Errors
    /// MUST return `UnknownCursor` when the cursor message is not in this
    /// conversation.
    async fn history(
        &self,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> Result<HistoryPage, HistoryError>;

    /// Sets `read_at = at` on the messages of `conversation` not sent by
    /// `reader`, up to and including `up_to`, that are still unread. Returns
    /// how many changed.
    ///
    /// # Errors
    /// MUST return `UnknownMessage` when `up_to` is not in this conversation.
    async fn mark_read(
        &self,
        conversation: ConversationId,
        reader: &UserId,
        up_to: MessageId,
        at: DateTime<Utc>,
    ) -> Result<u64, MarkReadError>;
}
