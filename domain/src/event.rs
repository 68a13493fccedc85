//! What happens in a conversation that its participants are told about.

use chrono::{DateTime, Utc};

use crate::ids::{ConversationId, MessageId, UserId};
use crate::message::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingKind {
    Started,
    Stopped,
}

impl TypingKind {
    pub const fn sub_type(self) -> &'static str {
        match self {
            Self::Started => "typing_started",
            Self::Stopped => "typing_stopped",
        }
    }
}

/// An event delivered to participants. `at` is when it happened; every
/// recipient sees the same timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A text message was stored: to every participant, sender included.
    MessageStored { message: Message, at: DateTime<Utc> },
    /// Typing indicator: to the other participants only; never stored.
    Typing {
        conversation_id: ConversationId,
        sender_id: UserId,
        kind: TypingKind,
        at: DateTime<Utc>,
    },
    ConversationAssigned {
        conversation_id: ConversationId,
        support_id: UserId,
        at: DateTime<Utc>,
    },
    ConversationClosed {
        conversation_id: ConversationId,
        closed_by: UserId,
        at: DateTime<Utc>,
    },
    MessagesRead {
        conversation_id: ConversationId,
        reader_id: UserId,
        up_to: MessageId,
        at: DateTime<Utc>,
    },
}

impl ChatEvent {
    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Self::MessageStored { message, .. } => message.conversation_id,
            Self::Typing {
                conversation_id, ..
            }
            | Self::ConversationAssigned {
                conversation_id, ..
            }
            | Self::ConversationClosed {
                conversation_id, ..
            }
            | Self::MessagesRead {
                conversation_id, ..
            } => *conversation_id,
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::MessageStored { at, .. }
            | Self::Typing { at, .. }
            | Self::ConversationAssigned { at, .. }
            | Self::ConversationClosed { at, .. }
            | Self::MessagesRead { at, .. } => *at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    #[test]
    fn typing_sub_types_match_the_seed() {
        assert_eq!(TypingKind::Started.sub_type(), "typing_started");
        assert_eq!(TypingKind::Stopped.sub_type(), "typing_stopped");
    }

    #[test]
    fn every_event_names_its_conversation_and_time() {
        let cid = ConversationId::from_ulid(Ulid::generate());
        let at = Utc::now();
        let e = ChatEvent::ConversationClosed {
            conversation_id: cid,
            closed_by: UserId::new("u").unwrap(),
            at,
        };
        assert_eq!(e.conversation_id(), cid);
        assert_eq!(e.at(), at);
    }
}
