//! A conversation as one user sees it: its state, the latest message they
//! may see, and how many texts from the other side they have not read.

use super::Conversation;
use crate::message::Message;

/// A conversation as one user sees it: the latest message they may see,
/// and how many texts from the other side they have not marked read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    conversation: Conversation,
    last_message: Option<Message>,
    unread_count: u64,
}

impl ConversationView {
    /// `last_message` is the latest message the viewer may see.
    pub const fn new(
        conversation: Conversation,
        last_message: Option<Message>,
        unread_count: u64,
    ) -> Self {
        Self {
            conversation,
            last_message,
            unread_count,
        }
    }

    /// A conversation with no message yet (just opened).
    pub const fn empty(conversation: Conversation) -> Self {
        Self::new(conversation, None, 0)
    }

    pub const fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    pub const fn last_message(&self) -> Option<&Message> {
        self.last_message.as_ref()
    }

    pub const fn unread_count(&self) -> u64 {
        self.unread_count
    }

    /// The conversation, for a caller that keeps it.
    pub fn into_conversation(self) -> Conversation {
        self.conversation
    }

    /// The same summary over `conversation` (a fresher state of the same
    /// conversation).
    #[must_use]
    pub fn with_conversation(self, conversation: Conversation) -> Self {
        Self {
            conversation,
            ..self
        }
    }
}
