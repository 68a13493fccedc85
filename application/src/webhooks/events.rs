//! The events webhooks report, rendered once, when the change is stored:
//! the outbox keeps the exact body that is sent and signed (CONTRACT §6).
//! `data` has the same fields as the HTTP API's Conversation and Message
//! (a test in `tests/` holds the two together).

use chrono::{DateTime, Utc};

use crate::json::{ConversationJson, MessageJson, timestamp};
use qc_domain::{Conversation, ConversationId, Message, MessageId, UserId};
use serde::Serialize;
use serde_json::json;
use ulid::Ulid;

/// One event for the outbox, written in the transaction of its change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: String,
    pub conversation_id: String,
    pub event_type: &'static str,
    /// `{"id", "type", "created_at", "data"}`, as sent.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// RFC 3339 UTC with milliseconds and a `Z`, as everywhere on the wire.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: String,
    data: T,
}

/// A fresh event id.
pub fn event_id() -> String {
    Ulid::generate().to_string()
}

fn body(id: &str, event_type: &str, at: DateTime<Utc>, data: impl Serialize) -> String {
    serde_json::to_string(&Envelope {
        id,
        event_type,
        created_at: timestamp(at),
        data,
    })
    // Plain strings and numbers: serializing cannot fail.
    .unwrap_or_default()
}

fn record(
    conversation: ConversationId,
    event_type: &'static str,
    at: DateTime<Utc>,
    data: impl Serialize,
) -> WebhookRecord {
    let id = event_id();
    let body = body(&id, event_type, at, data);
    WebhookRecord {
        id,
        conversation_id: conversation.to_string(),
        event_type,
        body,
        created_at: at,
    }
}

/// `conversation.created`: the Conversation as its owner sees it (new: no
/// message yet, nothing unread).
pub fn conversation_created(c: &Conversation) -> WebhookRecord {
    record(
        c.id(),
        "conversation.created",
        c.created_at(),
        ConversationJson::new(c, None, 0),
    )
}

pub const MESSAGE_CREATED: &str = "message.created";

/// The body of `message.created` event `id`: the Message as it was stored
/// (unread: a later read is its own `messages.read` event). Rendered when
/// the event is sent, from the message row, so the outbox does not keep a
/// second copy of every text.
pub fn message_created_body(id: &str, m: &Message) -> String {
    let mut data = MessageJson::from(m);
    data.read_at = None;
    body(id, MESSAGE_CREATED, m.created_at(), data)
}

/// `conversation.assigned`: `support_id` null is a hand-back to the
/// queue; `previous_support_id` null a first assignment.
pub fn conversation_assigned(
    conversation: ConversationId,
    support_id: Option<&UserId>,
    previous_support_id: Option<&UserId>,
    at: DateTime<Utc>,
) -> WebhookRecord {
    record(
        conversation,
        "conversation.assigned",
        at,
        json!({
            "conversation_id": conversation.to_string(),
            "support_id": support_id.map(UserId::as_str),
            "previous_support_id": previous_support_id.map(UserId::as_str),
        }),
    )
}

/// `conversation.closed`.
pub fn conversation_closed(
    conversation: ConversationId,
    closed_by: &UserId,
    at: DateTime<Utc>,
) -> WebhookRecord {
    record(
        conversation,
        "conversation.closed",
        at,
        json!({
            "conversation_id": conversation.to_string(),
            "closed_by": closed_by.as_str(),
        }),
    )
}

/// `messages.read`.
pub fn messages_read(
    conversation: ConversationId,
    reader_id: &UserId,
    up_to: MessageId,
    at: DateTime<Utc>,
) -> WebhookRecord {
    record(
        conversation,
        "messages.read",
        at,
        json!({
            "conversation_id": conversation.to_string(),
            "reader_id": reader_id.as_str(),
            "up_to": up_to.to_string(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use qc_domain::{MessageKind, User};
    use serde_json::Value;

    fn parsed(r: &WebhookRecord) -> Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn a_message_event_carries_the_message_and_a_fresh_id() {
        let stored = |read_at| {
            Message::restore(
                MessageId::from_ulid(Ulid::from_parts(1, 7)),
                ConversationId::from_ulid(Ulid::from_parts(1, 9)),
                7,
                User::agent(UserId::new("agent-1").unwrap()),
                MessageKind::Note,
                "Refund approved".into(),
                None,
                "2026-12-01T10:00:00.123456Z".parse().unwrap(),
                read_at,
            )
        };
        let m = stored(None);
        let (a, b) = (event_id(), event_id());
        assert_ne!(a, b, "every event has its own id");
        let read = stored(Some(Utc::now()));
        let body = message_created_body(&a, &read);
        assert_eq!(
            body,
            message_created_body(&a, &m),
            "rendered as stored, unread"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["id"], a.as_str());
        assert_eq!(v["type"], "message.created");
        assert_eq!(v["created_at"], "2026-12-01T10:00:00.123Z");
        let data = &v["data"];
        assert_eq!(data["id"], m.id().to_string());
        assert_eq!(data["message_type"], "note");
        assert_eq!(data["content"], "Refund approved");
        assert_eq!(data["seq"], 7);
        assert_eq!(data["sender_id"], "agent-1");
        assert!(data["read_at"].is_null() && data["client_msg_id"].is_null());
        assert_eq!(data["conversation_id"], m.conversation_id().to_string());
    }

    #[test]
    fn assignment_close_and_read_events_name_their_people() {
        let id = ConversationId::from_ulid(Ulid::generate());
        let (a1, a2) = (UserId::new("a1").unwrap(), UserId::new("a2").unwrap());
        let at = Utc::now();
        let v = parsed(&conversation_assigned(id, None, Some(&a1), at));
        assert!(v["data"]["support_id"].is_null());
        assert_eq!(v["data"]["previous_support_id"], "a1");
        let v = parsed(&conversation_closed(id, &a2, at));
        assert_eq!(v["type"], "conversation.closed");
        assert_eq!(v["data"]["closed_by"], "a2");
        let up_to = MessageId::from_ulid(Ulid::generate());
        let v = parsed(&messages_read(id, &a1, up_to, at));
        assert_eq!(v["data"]["up_to"], up_to.to_string());
        assert_eq!(v["data"]["reader_id"], "a1");
        assert_eq!(v["data"]["conversation_id"], id.to_string());
    }
}
