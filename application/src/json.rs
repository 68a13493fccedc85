//! The JSON shapes the contract gives the domain's values, written once
//! for every way they leave the server: WebSocket frames and the HTTP API
//! (qc-http), and webhook bodies ([`crate::webhooks`]). Borrowing, so a
//! frame serializes straight from the stored message.

use chrono::{DateTime, SecondsFormat, Utc};
use qc_domain::{ClientMsgId, Conversation, ConversationView, Message, UserId};
use serde::Serialize;

/// A timestamp as the contract writes it: RFC 3339, UTC, milliseconds
/// (`2025-11-18T10:30:00.000Z`).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The Message object.
#[derive(Debug, Serialize)]
pub struct MessageJson<'a> {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: &'a str,
    /// `text`, or `note` (an internal note: agents only).
    pub message_type: &'static str,
    pub content: &'a str,
    pub created_at: String,
    pub read_at: Option<String>,
    pub seq: i64,
    pub client_msg_id: Option<&'a str>,
}

impl<'a> From<&'a Message> for MessageJson<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            id: m.id().to_string(),
            conversation_id: m.conversation_id().to_string(),
            sender_id: m.sender_id().as_str(),
            message_type: m.kind().as_str(),
            content: m.content(),
            created_at: timestamp(m.created_at()),
            read_at: m.read_at().map(timestamp),
            seq: m.seq(),
            client_msg_id: m.client_msg_id().map(ClientMsgId::as_str),
        }
    }
}

/// The Conversation object, as one user sees it.
#[derive(Debug, Serialize)]
pub struct ConversationJson<'a> {
    pub id: String,
    pub client_id: &'a str,
    pub support_id: Option<&'a str>,
    /// `open` or `closed`.
    pub status: &'static str,
    pub subject: Option<&'a str>,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// The latest message the viewer may see.
    pub last_message: Option<MessageJson<'a>>,
    /// Texts from the other side the viewer has not marked read.
    pub unread_count: u64,
}

impl<'a> ConversationJson<'a> {
    pub fn new(c: &'a Conversation, last_message: Option<&'a Message>, unread_count: u64) -> Self {
        Self {
            id: c.id().to_string(),
            client_id: c.client_id().as_str(),
            support_id: c.support_id().map(UserId::as_str),
            status: c.status().as_str(),
            subject: c.subject(),
            created_at: timestamp(c.created_at()),
            closed_at: c.closed_at().map(timestamp),
            last_message: last_message.map(MessageJson::from),
            unread_count,
        }
    }
}

impl<'a> From<&'a ConversationView> for ConversationJson<'a> {
    fn from(v: &'a ConversationView) -> Self {
        Self::new(v.conversation(), v.last_message(), v.unread_count())
    }
}
