//! The wire format of the WebSocket: frames in (parsed with the contract's
//! error codes) and frames out (`{type, sub_type, timestamp, payload}`).

use chrono::{DateTime, SecondsFormat, Utc};
use qc_domain::{
    ChatEvent, ClientMsgId, Conversation, ConversationView, Message, MessageKind, Side, TypingKind,
    UserId,
};
use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A rendered outbound frame: UTF-8 in a shared, reference-counted buffer
/// (cloning it for another connection copies nothing).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// RFC 3339, UTC, milliseconds, `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `error.code` values of the bad-input table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    InvalidMessage,
    InvalidContent,
    ConversationNotFound,
    ConversationClosed,
    Unavailable,
    RateLimited,
}

impl ErrorCode {
    /// Every code, for exporting their counters at 0 from the start.
    pub const ALL: [Self; 7] = [
        Self::InvalidJson,
        Self::InvalidMessage,
        Self::InvalidContent,
        Self::ConversationNotFound,
        Self::ConversationClosed,
        Self::Unavailable,
        Self::RateLimited,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidMessage => "invalid_message",
            Self::InvalidContent => "invalid_content",
            Self::ConversationNotFound => "conversation_not_found",
            Self::ConversationClosed => "conversation_closed",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub conversation_id: Option<String>,
}

impl FrameError {
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        conversation_id: Option<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            conversation_id,
        }
    }
}

/// A valid inbound frame. `conversation_id` is still the raw string: whether
/// it names a conversation is answered later, after content checks (the
/// table's row order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A text, or (`kind` note) an agent's internal note.
    Text {
        kind: MessageKind,
        conversation_id: String,
        /// As sent: the message policy checks it next.
        content: String,
        client_msg_id: Option<ClientMsgId>,
    },
    Typing {
        conversation_id: String,
        kind: TypingKind,
    },
}

/// A field of an inbound frame as sent: a string (borrowed from the frame
/// when it has no escapes), `null`, or anything else. Only its JSON type
/// and string value matter for the bad-input table.
enum Field<'a> {
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// An inbound frame, borrowed from the frame's text: no map of owned keys
/// and values is built. `null` and absent are the same (`None`). Unknown
/// fields are ignored.
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Field<'a>>,
    #[serde(borrow)]
    sub_type: Option<Field<'a>>,
    #[serde(borrow)]
    conversation_id: Option<Field<'a>>,
    #[serde(borrow)]
    content: Option<Field<'a>>,
    #[serde(borrow)]
    client_msg_id: Option<Field<'a>>,
}

/// Parses one text frame as an agent may send it (notes included).
///
/// # Errors
/// The first matching row of the bad-input table.
pub fn parse_inbound(text: &str) -> Result<Inbound, FrameError> {
    parse_inbound_from(text, Side::Agent)
}

/// Parses one text frame from a user on `side`: for a customer, `note` is
/// an unknown type (`invalid_message`, before any content check).
///
/// # Errors
/// The first matching row of the bad-input table.
pub fn parse_inbound_from(text: &str, side: Side) -> Result<Inbound, FrameError> {
    // Only an object: serde would also fill the struct from an array.
    if !text.trim_start().starts_with('{') {
        let message = if serde_json::from_str::<IgnoredAny>(text).is_ok() {
            "frame is not a JSON object"
        } else {
            "frame is not valid JSON"
        };
        return Err(FrameError::new(ErrorCode::InvalidJson, message, None));
    }
    // A duplicated key is refused too: the frame would say two things.
    let raw: RawFrame<'_> = serde_json::from_str(text).map_err(|e| {
        let message = if e.is_data() {
            "frame is not a JSON object with one value per key"
        } else {
            "frame is not valid JSON"
        };
        FrameError::new(ErrorCode::InvalidJson, message, None)
    })?;
    let invalid = |msg: &str, cid: &Option<String>| {
        FrameError::new(ErrorCode::InvalidMessage, msg, cid.clone())
    };
    // Known early so that later errors can name it.
    let conversation_id = match raw.conversation_id {
        Some(Field::Str(s)) => Some(s.into_owned()),
        Some(Field::Other) => return Err(invalid("conversation_id must be a string", &None)),
        None => None,
    };
    let kind = match raw.kind {
        Some(Field::Str(s)) => s,
        Some(Field::Other) => return Err(invalid("type must be a string", &conversation_id)),
        None => return Err(invalid("type is required", &conversation_id)),
    };
    let Some(cid) = conversation_id.clone() else {
        return Err(invalid("conversation_id is required", &None));
    };
    match &*kind {
        "note" if !MessageKind::Note.writable_by(side) => {
            Err(invalid("type must be text or system", &conversation_id))
        }
        "text" | "note" => {
            let message_kind = if &*kind == "note" {
                MessageKind::Note
            } else {
                MessageKind::Text
            };
            let content = match raw.content {
                Some(Field::Str(s)) => s,
                Some(Field::Other) => {
                    return Err(invalid("content must be a string", &conversation_id));
                }
                None => {
                    return Err(invalid(
                        "content is required for text and note",
                        &conversation_id,
                    ));
                }
            };
            let client_msg_id = match raw.client_msg_id {
                None => None,
                Some(Field::Str(s)) => Some(ClientMsgId::new(s.into_owned()).ok_or_else(|| {
                    invalid("client_msg_id must be 1 to 64 characters", &conversation_id)
                })?),
                Some(Field::Other) => {
                    return Err(invalid("client_msg_id must be a string", &conversation_id));
                }
            };
            Ok(Inbound::Text {
                kind: message_kind,
                conversation_id: cid,
                content: content.into_owned(),
                client_msg_id,
            })
        }
        "system" => {
            let kind = match raw.sub_type {
                Some(Field::Str(s)) if s == "typing_started" => TypingKind::Started,
                Some(Field::Str(s)) if s == "typing_stopped" => TypingKind::Stopped,
                Some(Field::Str(_)) => {
                    return Err(invalid(
                        "sub_type must be typing_started or typing_stopped",
                        &conversation_id,
                    ));
                }
                Some(Field::Other) => {
                    return Err(invalid("sub_type must be a string", &conversation_id));
                }
                None => return Err(invalid("sub_type is required for system", &conversation_id)),
            };
            Ok(Inbound::Typing {
                conversation_id: cid,
                kind,
            })
        }
        _ => Err(invalid(
            "type must be text, note or system",
            &conversation_id,
        )),
    }
}

#[derive(Serialize)]
struct Out<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    sub_type: &'a str,
    timestamp: String,
    payload: P,
}

/// The seed's Message object plus `seq` and `client_msg_id`, in the seed's
/// field order.
#[derive(Serialize)]
pub struct MessagePayload<'a> {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: &'a str,
    pub message_type: &'a str,
    pub content: &'a str,
    pub created_at: String,
    pub read_at: Option<String>,
    pub seq: i64,
    pub client_msg_id: Option<&'a str>,
}

impl<'a> From<&'a Message> for MessagePayload<'a> {
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
    to_frame(
        message.kind().as_str(),
        "",
        at,
        MessagePayload::from(message),
    )
}

/// The Conversation object of the HTTP API, as one user sees it.
#[derive(Serialize)]
pub struct ConversationPayload<'a> {
    pub id: String,
    pub client_id: &'a str,
    pub support_id: Option<&'a str>,
    pub status: &'a str,
    pub subject: Option<&'a str>,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub last_message: Option<MessagePayload<'a>>,
    pub unread_count: u64,
}

impl<'a> ConversationPayload<'a> {
    pub fn new(c: &'a Conversation, last_message: Option<&'a Message>, unread_count: u64) -> Self {
        Self {
            id: c.id().to_string(),
            client_id: c.client_id().as_str(),
            support_id: c.support_id().map(UserId::as_str),
            status: c.status().as_str(),
            subject: c.subject(),
            created_at: timestamp(c.created_at()),
            closed_at: c.closed_at().map(timestamp),
            last_message: last_message.map(MessagePayload::from),
            unread_count,
        }
    }
}

impl<'a> From<&'a ConversationView> for ConversationPayload<'a> {
    fn from(v: &'a ConversationView) -> Self {
        Self::new(
            v.conversation(),
            v.last_message().as_ref().cloned(),
            v.unread_count(),
        )
    }
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
            ConversationPayload::new(conversation, None, 0),
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

#[cfg(test)]
mod tests;
