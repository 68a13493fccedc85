//! Storage of messages, with the per-conversation `seq`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_domain::{ConversationId, Message, MessageId, NewMessage, Side, User};

use tokio::sync::oneshot;

use super::conversation_repository::RepositoryError;

/// A stored text's place in its conversation's broadcast order on this
/// node. Texts of one conversation are stored together in one batch and
/// their senders publish concurrently; a text waits for the turn of the
/// one stored just before it (by this node) and releases its own when
/// dropped, so this node publishes every conversation in seq order without
/// holding a lock across the store.
#[derive(Debug, Default)]
pub struct PublishTurn {
    after: Option<oneshot::Receiver<()>>,
    /// Dropped once this text is published: that releases the next one.
    _done: Option<oneshot::Sender<()>>,
}

impl PublishTurn {
    /// A turn that waits for `after` (the previous text's release, if this
    /// node stored it) and is released by dropping `done`.
    pub fn new(after: Option<oneshot::Receiver<()>>, done: oneshot::Sender<()>) -> Self {
        Self {
            after,
            _done: Some(done),
        }
    }

    /// Waits until the previous text of the conversation was published (or
    /// its sender gave up).
    pub async fn wait(&mut self) {
        if let Some(after) = self.after.take() {
            let _ = after.await;
        }
    }
}

/// Turns carry no data: two are always equal (so outcomes compare by content).
impl PartialEq for PublishTurn {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for PublishTurn {}

/// What `append` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next `seq`. `participants` are the
    /// conversation's participants as the store saw them when it accepted
    /// the message (the recipients of its broadcast). Publish after
    /// [`PublishTurn::wait`], then drop the turn.
    Stored {
        message: Message,
        participants: Vec<User>,
        turn: PublishTurn,
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
    /// Whose history: a customer's has no notes (and a note is no cursor
    /// for them), an agent's has everything.
    pub viewer: Side,
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

    /// A turn after every text of `conversation` this node has stored so
    /// far: [`PublishTurn::wait`] returns once they are published. Held
    /// while publishing an event that must reach their recipients after
    /// them (a transfer: the previous agent gets its last texts, then the
    /// event, then nothing).
    async fn settled(&self, conversation: ConversationId) -> PublishTurn;

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

    /// Sets `read_at = at` on the texts of `conversation` sent by the other
    /// side than `reader`'s, up to and including `up_to`, that are still
    /// unread (notes are never read receipts). Returns how many changed.
    ///
    /// # Errors
    /// MUST return `UnknownMessage` when `up_to` is not a text of this
    /// conversation (a note is no read receipt: its id would reach the
    /// customer).
    async fn mark_read(
        &self,
        conversation: ConversationId,
        reader: &User,
        up_to: MessageId,
        at: DateTime<Utc>,
    ) -> Result<u64, MarkReadError>;
}
