//! Rendering frames out: the payload structs and the
//! `{type, sub_type, timestamp, payload}` frame of each event and error.

use chrono::{DateTime, Utc};
use qc_application::json::{ConversationJson, MessageJson};
use qc_domain::{ChatEvent, Message};

use serde::Serialize;

use super::{Frame, FrameError, timestamp};

#[derive(Serialize)]
struct Out<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    sub_type: &'a str,
    timestamp: String,
    payload: P,
}

fn to_frame<P: Serialize>(kind: &str, sub_type: &str, at: DateTime<Utc>, payload: P) -> Frame {
    let out = Out {
        kind,
        sub_type,
        timestamp: timestamp(at),
        payload,
    };
    // Serializing these plain structs cannot fail.
    Frame::from(serde_json::to_string(&out).unwrap_or_default())
}

/// The frame for a stored message: type `text`, or `note` for a note.
pub fn render_message(message: &Message, at: DateTime<Utc>) -> Frame {
    to_frame(message.kind().as_str(), "", at, MessageJson::from(message))
}

/// The frame for any event.
pub fn render_event(event: &ChatEvent) -> Frame {
    use serde_json::json;
    match event {
        ChatEvent::MessageStored { message, at } => render_message(message, *at),
        ChatEvent::Typing {
            conversation_id,
            sender_id,
            kind,
            at,
        } => to_frame(
            "system",
            kind.sub_type(),
            *at,
            json!({ "conversation_id": conversation_id.to_string(), "sender_id": sender_id.as_str() }),
        ),
        ChatEvent::ConversationAssigned {
            conversation_id,
            support_id,
            previous_support_id,
            at,
            ..
        } => to_frame(
            "system",
            "conversation_assigned",
            *at,
            json!({
                "conversation_id": conversation_id.to_string(),
                "support_id": support_id.as_ref().map(|s| s.as_str()),
                "previous_support_id": previous_support_id.as_ref().map(|s| s.as_str()),
            }),
        ),
        ChatEvent::ConversationCreated { conversation, at } => to_frame(
            "system",
            "conversation_created",
            *at,
            ConversationJson::new(conversation, None, 0),
        ),
        ChatEvent::Presence { user, status, at } => to_frame(
            "system",
            "presence",
            *at,
            json!({
                "user_id": user.id().as_str(),
                "side": user.side().as_str(),
                "status": status.as_str(),
            }),
        ),
        // Never rendered: the hub consumes it (see ChatEvent).
        ChatEvent::MessageWithheld { .. } => Frame::from(""),
        ChatEvent::ConversationClosed {
            conversation_id,
            closed_by,
            at,
        } => to_frame(
            "system",
            "conversation_closed",
            *at,
            json!({ "conversation_id": conversation_id.to_string(), "closed_by": closed_by.as_str() }),
        ),
        ChatEvent::MessagesRead {
            conversation_id,
            reader_id,
            up_to,
            at,
        } => to_frame(
            "system",
            "messages_read",
            *at,
            json!({
                "conversation_id": conversation_id.to_string(),
                "reader_id": reader_id.as_str(),
                "up_to": up_to.to_string(),
            }),
        ),
    }
}

/// A `system/error` frame for the sending connection.
pub fn render_error(err: &FrameError, at: DateTime<Utc>) -> Frame {
    let mut payload = serde_json::Map::new();
    payload.insert("code".into(), err.code.as_str().into());
    payload.insert("message".into(), err.message.clone().into());
    if let Some(cid) = &err.conversation_id {
        payload.insert("conversation_id".into(), cid.clone().into());
    }
    to_frame("system", "error", at, payload)
}
