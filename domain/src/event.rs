//! What happens in a conversation (and on the desk) that people are told
//! about.

use chrono::{DateTime, Utc};

use crate::conversation::Conversation;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::message::Message;
use crate::role::User;

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

/// Whether a user can be reached now: `online` while any of their
/// connections is open on any node, `away` when an agent who is online
/// said so, `offline` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

impl PresenceStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "online" => Some(Self::Online),
            "away" => Some(Self::Away),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }

    /// The status shown for a user who is `connected` (anywhere) and has
    /// (as an agent) set `away`: away only counts while connected.
    pub const fn of(connected: bool, away: bool) -> Self {
        match (connected, away) {
            (false, _) => Self::Offline,
            (true, true) => Self::Away,
            (true, false) => Self::Online,
        }
    }
}

/// An event delivered to its recipients. `at` is when it happened; every
/// recipient sees the same timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A text or a note was stored: to every recipient allowed to see it,
    /// sender included.
    MessageStored { message: Message, at: DateTime<Utc> },
    /// A stored message this recipient may not see (a note, for the
    /// customer): only its `seq` passes, so that recipient's in-order
    /// delivery does not wait for it. Never sent to a client.
    MessageWithheld {
        conversation_id: ConversationId,
        seq: i64,
    },
    /// Typing indicator: to the other participants only; never stored.
    Typing {
        conversation_id: ConversationId,
        sender_id: UserId,
        kind: TypingKind,
        at: DateTime<Utc>,
    },
    /// A conversation entered the queue: to every agent and to its owner.
    ConversationCreated {
        conversation: Conversation,
        at: DateTime<Utc>,
    },
    /// Claimed, or transferred: `support_id` `None` when handed back to the
    /// queue, `previous_support_id` `None` on a first claim.
    ConversationAssigned {
        conversation_id: ConversationId,
        support_id: Option<UserId>,
        previous_support_id: Option<UserId>,
        /// On a transfer: the conversation's last `seq` when it changed
        /// hands. Texts up to it were the previous agent's, later ones the
        /// new agent's; with several nodes the hub orders the event after
        /// the former. Never sent to a client.
        last_seq: Option<i64>,
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
    /// A user's presence changed (once per change, not per connection).
    Presence {
        user: User,
        status: PresenceStatus,
        at: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_sub_types_match_the_seed() {
        assert_eq!(TypingKind::Started.sub_type(), "typing_started");
        assert_eq!(TypingKind::Stopped.sub_type(), "typing_stopped");
    }

    #[test]
    fn away_counts_only_while_connected() {
        assert_eq!(PresenceStatus::of(false, true), PresenceStatus::Offline);
        assert_eq!(PresenceStatus::of(false, false), PresenceStatus::Offline);
        assert_eq!(PresenceStatus::of(true, true), PresenceStatus::Away);
        assert_eq!(PresenceStatus::of(true, false), PresenceStatus::Online);
        for s in [
            PresenceStatus::Online,
            PresenceStatus::Away,
            PresenceStatus::Offline,
        ] {
            assert_eq!(PresenceStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(PresenceStatus::parse("busy"), None);
    }
}
