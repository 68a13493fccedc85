//! HTTP request and response bodies. Timestamps are RFC 3339 UTC strings with
//! milliseconds and a `Z`, exactly as on the WebSocket.

use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use qc_application::AgentEntry;
use qc_application::json::{ConversationJson, MessageJson};
use qc_domain::{ConversationView, Message};

use super::strict_string::StrictString;
use super::ulid_param::UlidParam;

/// An error: a stable machine-readable `code` and a human `message`.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// e.g. `not_found`, `already_assigned`, `at_capacity`, `unknown_agent`,
    /// `conversation_closed`, `unauthorized`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Conversation")]
pub struct ConversationDto {
    /// ULID.
    pub id: String,
    pub client_id: String,
    #[oai(nullable)]
    pub support_id: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    #[oai(nullable)]
    pub subject: Option<String>,
    pub created_at: String,
    #[oai(nullable)]
    pub closed_at: Option<String>,
    /// The latest message the caller may see: for a customer the latest
    /// text, for an agent the latest text or note.
    #[oai(nullable)]
    pub last_message: Option<MessageDto>,
    /// Texts from the other side the caller has not marked read.
    pub unread_count: u64,
}

impl From<ConversationView> for ConversationDto {
    fn from(v: ConversationView) -> Self {
        // The one rendering of a conversation (frames, webhooks), owned.
        let j = ConversationJson::from(&v);
        Self {
            id: j.id,
            client_id: j.client_id.to_owned(),
            support_id: j.support_id.map(str::to_owned),
            status: j.status.to_owned(),
            subject: j.subject.map(str::to_owned),
            created_at: j.created_at,
            closed_at: j.closed_at,
            last_message: j.last_message.map(MessageDto::from),
            unread_count: j.unread_count,
        }
    }
}

/// The stored message, as in the WebSocket `text` frame's payload.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Message")]
pub struct MessageDto {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    /// `text`, or `note` (an internal note: agents only).
    pub message_type: String,
    pub content: String,
    pub created_at: String,
    #[oai(nullable)]
    pub read_at: Option<String>,
    /// 1, 2, 3… within the conversation.
    pub seq: i64,
    #[oai(nullable)]
    pub client_msg_id: Option<String>,
}

impl From<&Message> for MessageDto {
    fn from(m: &Message) -> Self {
        Self::from(MessageJson::from(m))
    }
}

impl From<MessageJson<'_>> for MessageDto {
    fn from(j: MessageJson<'_>) -> Self {
        Self {
            id: j.id,
            conversation_id: j.conversation_id,
            sender_id: j.sender_id.to_owned(),
            message_type: j.message_type.to_owned(),
            content: j.content.to_owned(),
            created_at: j.created_at,
            read_at: j.read_at,
            seq: j.seq,
            client_msg_id: j.client_msg_id.map(str::to_owned),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct ConversationList {
    pub items: Vec<ConversationDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct MessageList {
    /// Oldest first.
    pub items: Vec<MessageDto>,
    /// A message id: pass as `before` for older messages (or as `after` when
    /// paging forward with `after`); null when there are no more.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct OpenConversationRequest {
    /// Up to 200 characters; blank means none.
    #[oai(nullable)]
    pub subject: Option<StrictString>,
}

#[derive(Debug, Clone, Object)]
pub struct MarkReadRequest {
    /// Marks the other side's messages read up to and including this one.
    pub up_to: UlidParam,
}

#[derive(Debug, Clone, Object)]
pub struct HealthStatus {
    /// `ok`, or `unavailable` with the failing parts.
    pub status: String,
    #[oai(nullable)]
    pub database: Option<String>,
    #[oai(nullable)]
    pub broker: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct TransferRequest {
    /// The `sub` of the agent to hand the conversation to; null hands it
    /// back to the queue. Required: a body without it is refused, so a
    /// mistaken empty body never empties an agent's conversation.
    #[oai(nullable)]
    pub to: MaybeUndefined<StrictString>,
}

/// An agent on the desk.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Agent")]
pub struct AgentDto {
    /// The agent's `sub`.
    pub id: String,
    /// `online`, `away` or `offline`.
    pub status: String,
    /// Open conversations assigned to the agent now.
    pub open_conversations: u64,
}

impl From<AgentEntry> for AgentDto {
    fn from(a: AgentEntry) -> Self {
        Self {
            id: a.id.to_string(),
            status: a.status.as_str().to_owned(),
            open_conversations: a.open_conversations,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct AgentList {
    pub items: Vec<AgentDto>,
}

#[derive(Debug, Clone, Object)]
pub struct SetStatusRequest {
    /// `online` or `away`.
    pub status: StrictString,
}
