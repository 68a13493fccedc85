//! Messages and the rules on their content.

use chrono::{DateTime, Utc};

use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::{ContentError, DefaultPolicy, MessagePolicy};
use crate::role::{Side, User};

/// Longest allowed content, in Unicode scalar values.
pub const MAX_CONTENT_CHARS: usize = 4096;

/// Text content that passed a [`MessagePolicy`]. Stored as sent (not
/// trimmed), so what the sender typed is what everyone sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    /// Content under the contract's rule ([`DefaultPolicy`]): non-empty
    /// after trimming, at most 4,096 characters.
    ///
    /// # Errors
    /// [`ContentError::Empty`] when blank, [`ContentError::TooLong`] past
    /// the limit.
    pub fn new(raw: impl Into<String>) -> Result<Self, ContentError> {
        let raw = raw.into();
        DefaultPolicy::new().check_text(&raw)?;
        Ok(Self(raw))
    }

    /// Content `sender` wants to post as `kind`, under `policy`.
    ///
    /// # Errors
    /// What the policy refuses.
    pub fn checked(
        raw: String,
        sender: &User,
        kind: MessageKind,
        policy: &dyn MessagePolicy,
    ) -> Result<Self, ContentError> {
        policy.check(sender, kind, &raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A sender-chosen id that makes a retried send idempotent: 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub const MAX_CHARS: usize = 64;

    /// Returns `None` when empty or longer than 64 characters.
    pub fn new(raw: impl Into<String>) -> Option<Self> {
        let raw = raw.into();
        let n = raw.chars().count();
        (1..=Self::MAX_CHARS).contains(&n).then_some(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a message is: a text every participant sees, or an internal note
/// only agents see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    /// Written by an agent, for agents: never shown to the customer (live,
    /// in history, in `last_message`, in unread counts).
    Note,
}

impl MessageKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Note => "note",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "text" => Some(Self::Text),
            "note" => Some(Self::Note),
            _ => None,
        }
    }

    /// Whether a user on `side` may see a message of this kind.
    pub const fn visible_to(self, side: Side) -> bool {
        matches!((self, side), (Self::Text, _) | (Self::Note, Side::Agent))
    }

    /// Whether a user on `side` may write a message of this kind.
    pub const fn writable_by(self, side: Side) -> bool {
        self.visible_to(side)
    }
}

/// A message about to be stored: everything but its `seq`, which the store
/// assigns atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    id: MessageId,
    conversation_id: ConversationId,
    sender: User,
    kind: MessageKind,
    content: MessageContent,
    client_msg_id: Option<ClientMsgId>,
    created_at: DateTime<Utc>,
}

impl NewMessage {
    /// A message `sender` writes into `conversation_id`.
    ///
    /// # Errors
    /// [`MessageError::KindNotAllowed`] when the sender's side may not write
    /// this kind (a customer writing a note).
    pub fn write(
        id: MessageId,
        conversation_id: ConversationId,
        sender: User,
        kind: MessageKind,
        content: MessageContent,
        client_msg_id: Option<ClientMsgId>,
        created_at: DateTime<Utc>,
    ) -> Result<Self, MessageError> {
        if !kind.writable_by(sender.side()) {
            return Err(MessageError::KindNotAllowed(kind));
        }
        Ok(Self {
            id,
            conversation_id,
            sender,
            kind,
            content,
            client_msg_id,
            created_at,
        })
    }

    pub const fn id(&self) -> MessageId {
        self.id
    }

    pub const fn conversation_id(&self) -> ConversationId {
        self.conversation_id
    }

    pub const fn sender(&self) -> &User {
        &self.sender
    }

    pub const fn sender_id(&self) -> &UserId {
        self.sender.id()
    }

    pub const fn sender_side(&self) -> Side {
        self.sender.side()
    }

    pub const fn kind(&self) -> MessageKind {
        self.kind
    }

    pub fn content(&self) -> &str {
        self.content.as_str()
    }

    pub const fn client_msg_id(&self) -> Option<&ClientMsgId> {
        self.client_msg_id.as_ref()
    }

    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// Why a message may not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("this side may not write a {} message", .0.as_str())]
    KindNotAllowed(MessageKind),
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: MessageId,
    conversation_id: ConversationId,
    seq: i64,
    sender: User,
    kind: MessageKind,
    content: String,
    client_msg_id: Option<ClientMsgId>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl Message {
    /// The stored form of `new` once the store gave it `seq`.
    pub fn stored(new: NewMessage, seq: i64) -> Self {
        Self {
            id: new.id,
            conversation_id: new.conversation_id,
            seq,
            sender: new.sender,
            kind: new.kind,
            content: new.content.into_inner(),
            client_msg_id: new.client_msg_id,
            created_at: new.created_at,
            read_at: None,
        }
    }

    /// Rebuilds a message that was stored (or sent between nodes): the one
    /// way an adapter makes a `Message` other than [`Message::stored`]. The
    /// content is taken as stored: it was checked (by the policy then in
    /// force) when it was written.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: MessageId,
        conversation_id: ConversationId,
        seq: i64,
        sender: User,
        kind: MessageKind,
        content: String,
        client_msg_id: Option<ClientMsgId>,
        created_at: DateTime<Utc>,
        read_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            id,
            conversation_id,
            seq,
            sender,
            kind,
            content,
            client_msg_id,
            created_at,
            read_at,
        }
    }

    pub const fn id(&self) -> MessageId {
        self.id
    }

    pub const fn conversation_id(&self) -> ConversationId {
        self.conversation_id
    }

    /// 1, 2, 3… within the conversation, in storing order.
    pub const fn seq(&self) -> i64 {
        self.seq
    }

    /// Who sent it (payloads show only the bare `sender_id`).
    pub const fn sender(&self) -> &User {
        &self.sender
    }

    pub const fn sender_id(&self) -> &UserId {
        self.sender.id()
    }

    pub const fn sender_side(&self) -> Side {
        self.sender.side()
    }

    pub const fn kind(&self) -> MessageKind {
        self.kind
    }

    pub fn content(&self) -> &str {
        &self.content
    }

    pub const fn client_msg_id(&self) -> Option<&ClientMsgId> {
        self.client_msg_id.as_ref()
    }

    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When the other side marked it read; `None` while unread.
    pub const fn read_at(&self) -> Option<DateTime<Utc>> {
        self.read_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_have_something_after_trimming() {
        assert_eq!(MessageContent::new(""), Err(ContentError::Empty));
        assert_eq!(MessageContent::new(" \n\t "), Err(ContentError::Empty));
        let c = MessageContent::new("  hi ").unwrap();
        assert_eq!(c.as_str(), "  hi ", "stored as sent");
    }

    #[test]
    fn content_limit_counts_characters_not_bytes() {
        assert!(MessageContent::new("a".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert_eq!(
            MessageContent::new("a".repeat(MAX_CONTENT_CHARS + 1)),
            Err(ContentError::TooLong {
                limit: MAX_CONTENT_CHARS
            })
        );
        // 4,096 three-byte characters: 12 KiB, still allowed.
        assert!(MessageContent::new("€".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert_eq!(
            MessageContent::new("€".repeat(MAX_CONTENT_CHARS + 1)),
            Err(ContentError::TooLong {
                limit: MAX_CONTENT_CHARS
            })
        );
    }

    #[test]
    fn client_msg_id_is_1_to_64_chars() {
        assert!(ClientMsgId::new("").is_none());
        assert!(ClientMsgId::new("x").is_some());
        assert!(ClientMsgId::new("ж".repeat(64)).is_some());
        assert!(ClientMsgId::new("x".repeat(65)).is_none());
    }

    #[test]
    fn message_kinds_parse_and_notes_are_for_agents_only() {
        assert_eq!(MessageKind::parse("text"), Some(MessageKind::Text));
        assert_eq!(MessageKind::parse("note"), Some(MessageKind::Note));
        assert_eq!(MessageKind::parse("system"), None);
        assert_eq!(MessageKind::Text.as_str(), "text");
        assert_eq!(MessageKind::Note.as_str(), "note");
        assert!(MessageKind::Text.visible_to(Side::Customer));
        assert!(MessageKind::Text.visible_to(Side::Agent));
        assert!(!MessageKind::Note.visible_to(Side::Customer));
        assert!(MessageKind::Note.visible_to(Side::Agent));
        assert!(!MessageKind::Note.writable_by(Side::Customer));
    }
}
