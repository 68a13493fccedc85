//! Parsing client frames: the raw fields of an inbound frame as sent, and
//! the bad-input table's checks that turn them into an [`Inbound`].

use qc_domain::{ClientMsgId, MessageKind, Side, TypingKind};
use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{ErrorCode, FrameError};

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
