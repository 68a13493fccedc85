//! The envelope on a Redis channel: JSON, versioned. The publishing node's
//! tag goes in front of it (see the crate docs), outside the JSON, so a
//! node can skip its own envelopes without decoding them.
//! Decoding validates every id, so a malformed publish is dropped, never
//! delivered.

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use qc_application::ports::Envelope;
use qc_domain::{
    ChatEvent, ClientMsgId, Conversation, ConversationStatus, Message, MessageKind, PresenceStatus,
    Side, TypingKind, User, UserId,
};
use serde::{Deserialize, Serialize};

/// 4: the desk's events (created, presence, withheld seqs), notes, the
/// previous agent of an assignment, and envelopes for every agent.
/// (3: recipients are users, `c:<sub>` or `a:<sub>`, and a text carries its
/// sender's side.)
const VERSION: u8 = 4;

/// A user as the transport names it: `c:<sub>` (customer) or `a:<sub>`
/// (agent). Channel names and recipients use it, so a customer and an
/// agent sharing a `sub` never share a channel.
pub fn user_key(user: &User) -> String {
    let side = match user.side() {
        Side::Customer => 'c',
        Side::Agent => 'a',
    };
    format!("{side}:{}", user.id().as_str())
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all_agents: bool,
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
        message_type: String,
        content: String,
        client_msg_id: Option<String>,
        created_at: i64,
        read_at: Option<i64>,
        at: i64,
    },
    Withheld {
        conversation_id: String,
        seq: i64,
    },
    Created {
        id: String,
        client_id: String,
        support_id: Option<String>,
        status: String,
        subject: Option<String>,
        created_at: i64,
        closed_at: Option<i64>,
        at: i64,
    },
    Presence {
        user: String,
        status: String,
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
        support_id: Option<String>,
        previous_support_id: Option<String>,
        #[serde(default)]
        last_seq: Option<i64>,
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
            id: m.id().to_string(),
            conversation_id: m.conversation_id().to_string(),
            seq: m.seq(),
            sender_id: m.sender_id().to_string(),
            sender_side: m.sender_side().as_str().to_owned(),
            message_type: m.kind().as_str().to_owned(),
            content: m.content().to_owned(),
            client_msg_id: m.client_msg_id().map(|c| c.as_str().to_owned()),
            created_at: millis(m.created_at()),
            read_at: m.read_at().map(millis),
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
            previous_support_id,
            last_seq,
            at,
        } => WireEvent::Assigned {
            conversation_id: conversation_id.to_string(),
            support_id: support_id.as_ref().map(ToString::to_string),
            previous_support_id: previous_support_id.as_ref().map(ToString::to_string),
            last_seq: *last_seq,
            at: millis(*at),
        },
        ChatEvent::MessageWithheld {
            conversation_id,
            seq,
        } => WireEvent::Withheld {
            conversation_id: conversation_id.to_string(),
            seq: *seq,
        },
        ChatEvent::ConversationCreated {
            conversation: c,
            at,
        } => WireEvent::Created {
            id: c.id().to_string(),
            client_id: c.client_id().to_string(),
            support_id: c.support_id().map(ToString::to_string),
            status: c.status().as_str().to_owned(),
            subject: c.subject().map(str::to_owned),
            created_at: millis(c.created_at()),
            closed_at: c.closed_at().map(millis),
            at: millis(*at),
        },
        ChatEvent::Presence { user, status, at } => WireEvent::Presence {
            user: user_key(user),
            status: status.as_str().to_owned(),
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
        all_agents: envelope.all_agents,
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
            message_type,
            content,
            client_msg_id,
            created_at,
            read_at,
            at,
        } => ChatEvent::MessageStored {
            message: Message::restore(
                id.parse().context("bad message id")?,
                conversation_id.parse().context("bad conversation id")?,
                seq,
                User::new(
                    Side::parse(&sender_side).context("bad sender side")?,
                    user(sender_id)?,
                ),
                MessageKind::parse(&message_type).context("bad message type")?,
                content,
                client_msg_id
                    .map(|c| ClientMsgId::new(c).ok_or_else(|| anyhow!("bad client_msg_id")))
                    .transpose()?,
                time(created_at)?,
                read_at.map(time).transpose()?,
            ),
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
            previous_support_id,
            last_seq,
            at,
        } => ChatEvent::ConversationAssigned {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            support_id: support_id.map(user).transpose()?,
            previous_support_id: previous_support_id.map(user).transpose()?,
            last_seq,
            at: time(at)?,
        },
        WireEvent::Withheld {
            conversation_id,
            seq,
        } => ChatEvent::MessageWithheld {
            conversation_id: conversation_id.parse().context("bad conversation id")?,
            seq,
        },
        WireEvent::Created {
            id,
            client_id,
            support_id,
            status,
            subject,
            created_at,
            closed_at,
            at,
        } => ChatEvent::ConversationCreated {
            conversation: Conversation::restore(
                id.parse().context("bad conversation id")?,
                user(client_id)?,
                support_id.map(user).transpose()?,
                ConversationStatus::parse(&status).context("bad status")?,
                subject,
                time(created_at)?,
                closed_at.map(time).transpose()?,
            ),
            at: time(at)?,
        },
        WireEvent::Presence { user, status, at } => ChatEvent::Presence {
            user: parse_user_key(&user).ok_or_else(|| anyhow!("bad user {user:?}"))?,
            status: PresenceStatus::parse(&status).context("bad presence status")?,
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
    let mut envelope = Envelope::new(recipients, event);
    envelope.all_agents = wire.all_agents;
    Ok(envelope)
}

#[cfg(test)]
mod tests;
