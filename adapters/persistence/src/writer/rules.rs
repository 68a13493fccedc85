//! The rules of a batch, the same on every database: which appends store
//! (and at which seq) against the locked conversations and the
//! `client_msg_id`s already stored, and the keys and ids the statements of
//! [`super::sqlite`] and [`super::postgres`] look them up by.

use std::collections::HashMap;

use qc_application::ports::{AppendError, Appended, PublishTurn};
use qc_domain::{Conversation, ConversationError, Message, MessageKind, Side};

use super::{Pending, Reply};
use crate::entities::message;

/// A conversation as locked for this batch, and its counter so far.
pub(super) struct Locked {
    pub conversation: Conversation,
    pub last_seq: i64,
    pub first_seq: i64,
    /// Texts this batch adds from the customer (unread by the agents) and
    /// from agents (unread by the customer). Notes count for neither.
    pub from_customer: i64,
    pub from_agents: i64,
}

/// A conversation that grew: its new `last_seq` and what its unread
/// counters gain.
pub(super) struct Bump {
    pub id: String,
    pub last_seq: i64,
    pub unread_by_agent: i64,
    pub unread_by_customer: i64,
}

/// `(conversation id, sender side, sender id, client_msg_id)`.
pub(super) type DuplicateKey = (String, String, String, String);

/// What a batch does, decided against the locked conversations and the
/// `client_msg_id`s already stored: every sender's outcome, in batch order.
pub(super) struct Decision {
    pub outcomes: Vec<Reply>,
    /// The messages to insert, seq assigned.
    pub stored: Vec<Message>,
    /// Every conversation that grew.
    pub bumped: Vec<Bump>,
}

/// The rules of one batch, the same on every database: a missing
/// conversation, a closed one, a sender who is not a participant, and a
/// `client_msg_id` seen before (stored, or earlier in this batch) store
/// nothing; every other text takes its conversation's next seq in batch
/// order.
pub(super) fn decide(
    batch: &[Pending],
    mut locked: HashMap<String, Locked>,
    mut seen: HashMap<DuplicateKey, Message>,
) -> Decision {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut stored = Vec::with_capacity(batch.len());
    for pending in batch {
        let new = &pending.new;
        let cid = new.conversation_id().to_string();
        let Some(conv) = locked.get_mut(&cid) else {
            outcomes.push(Err(AppendError::ConversationMissing));
            continue;
        };
        match conv
            .conversation
            .ensure_can_send_as(new.sender_side(), new.sender_id())
        {
            Ok(()) => {}
            Err(ConversationError::Closed) => {
                outcomes.push(Err(AppendError::ConversationClosed));
                continue;
            }
            Err(_) => {
                outcomes.push(Err(AppendError::NotParticipant));
                continue;
            }
        }
        let key = new.client_msg_id().as_ref().map(|c| {
            (
                cid,
                new.sender_side().as_str().to_owned(),
                new.sender_id().to_string(),
                c.as_str().to_owned(),
            )
        });
        if let Some(existing) = key.as_ref().and_then(|k| seen.get(k)) {
            outcomes.push(Ok(Appended::Duplicate(existing.clone())));
            continue;
        }
        conv.last_seq += 1;
        if new.kind() == MessageKind::Text {
            match new.sender_side() {
                Side::Customer => conv.from_customer += 1,
                Side::Agent => conv.from_agents += 1,
            }
        }
        let message = Message::stored(new.clone(), conv.last_seq);
        if let Some(key) = key {
            seen.insert(key, message.clone());
        }
        stored.push(message.clone());
        outcomes.push(Ok(Appended::Stored {
            participants: conv.conversation.participants(),
            message,
            turn: PublishTurn::default(),
        }));
    }
    let bumped = locked
        .into_iter()
        .filter(|(_, l)| l.last_seq != l.first_seq)
        .map(|(id, l)| Bump {
            id,
            last_seq: l.last_seq,
            unread_by_agent: l.from_customer,
            unread_by_customer: l.from_agents,
        })
        .collect();
    Decision {
        outcomes,
        stored,
        bumped,
    }
}

/// The `client_msg_id`s of a batch and their conversations, deduplicated
/// (for the one duplicate lookup; empty when no append carries one).
pub(super) fn client_msg_ids(batch: &[Pending]) -> (Vec<String>, Vec<String>) {
    let mut conversations = Vec::new();
    let mut cmids = Vec::new();
    for p in batch {
        if let Some(c) = &p.new.client_msg_id() {
            conversations.push(p.new.conversation_id().to_string());
            cmids.push(c.as_str().to_owned());
        }
    }
    for v in [&mut conversations, &mut cmids] {
        v.sort_unstable();
        v.dedup();
    }
    (conversations, cmids)
}

/// The distinct conversation ids of a batch, sorted (the lock order).
pub(super) fn conversation_ids(batch: &[Pending]) -> Vec<String> {
    let mut ids: Vec<String> = batch
        .iter()
        .map(|p| p.new.conversation_id().to_string())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Keys a stored row for the duplicate lookup.
pub(super) fn duplicate_key(row: &message::Model) -> DuplicateKey {
    (
        row.conversation_id.clone(),
        row.sender_side.clone(),
        row.sender_id.clone(),
        row.client_msg_id.clone().unwrap_or_default(),
    )
}
