//! The envelope on a Redis channel: JSON, versioned. The publishing node's
//! tag goes in front of it (see the crate docs), outside the JSON, so a
//! node can skip its own envelopes without decoding them.
//! Decoding validates every id, so a malformed publish is dropped, never
//! delivered.

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use qc_application::ports::Envelope;
use qc_domain::{ChatEvent, ClientMsgId, Message, MessageKind, Side, TypingKind, User, UserId};
use serde::{Deserialize, Serialize};

/// 3: recipients are users, `c:<sub>` or `a:<sub>`, and a text carries its
/// sender's side.
const VERSION: u8 = 3;

/// A user as the transport names it: `c:<sub>` (customer) or `a:<sub>`
/// (agent). Channel names and recipients use it, so a customer and an
/// agent sharing a `sub` never share a channel.
pub fn user_key(user: &User) -> String {
    let side = match user.side {
        Side::Customer => 'c',
        Side::Agent => 'a',
    };
    format!("{side}:{}", user.id.as_str())
}

/// The inverse of [`user_key`]; `None` for anything else.
pub fn parse_user_key(key: &str) -> Option<User> {
    let (side, sub) = key.split_at_checked(2)?;
    let side = match side {
        "c:" => Side::Customer,
        "a:" => Side::Agent,
        _ => return None,
    };
    UserId::new(sub).ok().map(|id| User::new(side, id))
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    recipients: Vec<String>,
    event: WireEvent,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireEvent {
    MessageStored {
        id: String,
        conversation_id: String,
        seq: i64,
        sender_id: String,
        sender_side: String,
        content: String,
        client_msg_id: Option<String>,
        created_at: i64,
        read_at: Option<i64>,
        at: i64,
    },
    Typing {
        conversation_id: String,
        sender_id: String,
        started: bool,
        at: i64,
    },
    Assigned {
        conversation_id: String,
        support_id: String,
        at: i64,
    },
    Closed {
        conversation_id: String,
        closed_by: String,
        at: i64,
    },
    Read {
        conversation_id: String,
        reader_id: String,
        up_to: String,
        at: i64,
    },
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> anyhow::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| anyhow!("bad timestamp {ms}"))
}

fn user(s: String) -> anyhow::Result<UserId> {
    UserId::new(s).context("bad user id")
}

pub fn encode(envelope: &Envelope) -> String {
    let event = match &envelope.event {
        ChatEvent::MessageStored { message: m, at } => WireEvent::MessageStored {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            seq: m.seq,
            sender_id: m.sender_id.to_string(),
            sender_side: m.sender_side.as_str().to_owned(),
            content: m.content.clone(),
            client_msg_id: m.client_msg_id.as_ref().map(|c| c.as_str().to_owned()),
            created_at: millis(m.created_at),
            read_at: m.read_at.map(millis),
            at: millis(*at),
        },
        ChatEvent::Typing {
            conversation_id,
            sender_id,
            kind,
            at,
        } => WireEvent::Typing {
            conversation_id: conversation_id.to_string(),
            sender_id: sender_id.to_string(),
            started: *kind == TypingKind::Started,
            at: millis(*at),
        },
        ChatEvent::ConversationAssigned {
            conversation_id,
            support_id,
            at,
        } => WireEvent::Assigned {
            conversation_id: conversation_id.to_string(),
            support_id: support_id.to_string(),
            at: millis(*at),
        },
        ChatEvent::ConversationClosed {
            conversation_id,
            closed_by,
            at,
        } => WireEvent::Closed {
            conversation_id: conversation_id.to_string(),
            closed_by: closed_by.to_string(),
            at: millis(*at),
        },
        ChatEvent::MessagesRead {
            conversation_id,
            reader_id,
            up_to,
            at,
        } => WireEvent::Read {
            conversation_id: conversation_id.to_string(),
            reader_id: reader_id.to_string(),
            up_to: up_to.to_string(),
            at: millis(*at),
        },
    };
    let wire = Wire {
        v: VERSION,
        recipients: envelope.recipients.iter().map(user_key).collect(),
        event,
    };
    serde_json::to_string(&wire).unwrap_or_default()
}

/// The envelope, every id validated.
pub fn decode(payload: &[u8]) -> anyhow::Result<Envelope> {
    let wire: Wire = serde_json::from_slice(payload).context("not a broker envelope")?;
    anyhow::ensure!(wire.v == VERSION, "unknown envelope version {}", wire.v);
    let recipients = wire
        .recipients
        .iter()
        .map(|k| parse_user_key(k).ok_or_else(|| anyhow!("bad recipient {k:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = match wire.event {
        WireEvent::MessageStored {
            id,
            conversation_id,
            seq,
            sender_id,
            sender_side,
            content,
            client_msg_id,
            created_at,
            read_at,
            at,
        } => ChatEvent::MessageStored {
            message: Message {
                id: id.parse().context("bad message id")?,
                conversation_id: conversation_id.parse().context("bad conversation id")?,
                seq,
                sender_id: user(sender_id)?,
                sender_side: Side::parse(&sender_side).context("bad sender side")?,
                kind: MessageKind::Text,
                content,
                client_msg_id: client_msg_id
                    .map(|c| ClientMsgId::new(c).ok_or_else(|| anyhow!("bad client_msg_id")))
                    .transpose()?,
                created_at: time(created_at)?,
                read_at: read_at.map(time).transpose()?,
            },
            at: time(at)?,
        },
        WireEvent::Typing {
            conversation_id,
            sender_id,
            started,
            at,
        } => ChatEvent::Typing {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            sender_id: user(sender_id)?,
            kind: if started {
                TypingKind::Started
            } else {
                TypingKind::Stopped
            },
            at: time(at)?,
        },
        WireEvent::Assigned {
            conversation_id,
            support_id,
            at,
        } => ChatEvent::ConversationAssigned {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            support_id: user(support_id)?,
            at: time(at)?,
        },
        WireEvent::Closed {
            conversation_id,
            closed_by,
            at,
        } => ChatEvent::ConversationClosed {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            closed_by: user(closed_by)?,
            at: time(at)?,
        },
        WireEvent::Read {
            conversation_id,
            reader_id,
            up_to,
            at,
        } => ChatEvent::MessagesRead {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            reader_id: user(reader_id)?,
            up_to: up_to.parse().context("bad message id")?,
            at: time(at)?,
        },
    };
    Ok(Envelope::new(recipients, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qc_domain::{ConversationId, MessageId};
    use ulid::Ulid;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_763_461_800_123).unwrap()
    }

    #[test]
    fn every_event_round_trips() {
        let cid = ConversationId::from_ulid(Ulid::generate());
        let u = |s: &str| UserId::new(s).unwrap();
        let events = vec![
            ChatEvent::MessageStored {
                message: Message {
                    id: MessageId::from_ulid(Ulid::generate()),
                    conversation_id: cid,
                    seq: 7,
                    sender_id: u("client"),
                    sender_side: Side::Agent,
                    kind: MessageKind::Text,
                    content: "héllo \"quoted\"".into(),
                    client_msg_id: ClientMsgId::new("k-1"),
                    created_at: at(),
                    read_at: Some(at()),
                },
                at: at(),
            },
            ChatEvent::Typing {
                conversation_id: cid,
                sender_id: u("a"),
                kind: TypingKind::Stopped,
                at: at(),
            },
            ChatEvent::ConversationAssigned {
                conversation_id: cid,
                support_id: u("agent"),
                at: at(),
            },
            ChatEvent::ConversationClosed {
                conversation_id: cid,
                closed_by: u("agent"),
                at: at(),
            },
            ChatEvent::MessagesRead {
                conversation_id: cid,
                reader_id: u("agent"),
                up_to: MessageId::from_ulid(Ulid::generate()),
                at: at(),
            },
        ];
        for event in events {
            let env = Envelope::new(vec![User::customer(u("x")), User::agent(u("x"))], event);
            let back = decode(encode(&env).as_bytes()).unwrap();
            assert_eq!(back, env);
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!(decode(b"not json").is_err());
        assert!(decode(br#"{"v":9,"recipients":[],"event":{"kind":"closed","conversation_id":"x","closed_by":"a","at":0}}"#).is_err());
        assert!(decode(br#"{"v":3,"recipients":["c:"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_err());
        assert!(decode(br#"{"v":3,"recipients":["u"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_err(), "a bare sub is no user");
        assert!(decode(br#"{"v":3,"recipients":["c:u"],"event":{"kind":"closed","conversation_id":"nope","closed_by":"a","at":0}}"#).is_err());
        assert!(decode(br#"{"v":3,"recipients":["a:u"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_ok());
    }

    #[test]
    fn user_keys_keep_the_side() {
        let sub = UserId::new("a:b").unwrap();
        for user in [User::customer(sub.clone()), User::agent(sub.clone())] {
            assert_eq!(parse_user_key(&user_key(&user)), Some(user));
        }
        assert_ne!(
            user_key(&User::customer(sub.clone())),
            user_key(&User::agent(sub))
        );
        assert_eq!(parse_user_key("x:u"), None);
        assert_eq!(parse_user_key("c"), None);
    }
}
