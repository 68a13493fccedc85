//! The node-local hub: which connections this node holds for each user, and
//! the fan-out to them.
//!
//! An event is rendered once per node into shared bytes, and every
//! recipient connection's outbox holds the same buffer by reference (a
//! text to N connections is serialized once and copied by nobody). The hub
//! is the [`Broker`] use cases publish to: local connections first, then
//! the [`Transport`] (if any) towards other nodes, which hands back what
//! they publish for users held here. One node needs no transport at all.
//!
//! The registry is a sharded map: publishes for different users do not
//! contend on one lock, and nothing awaits while holding a shard.
//!
//! This node publishes each conversation's texts in seq order (the store's
//! publish turns see to it). With a transport, texts also pass a
//! [`sequencer::Sequencer`] per (conversation, recipient) on their way to
//! the connections, local ones included: this node delivers its own texts
//! at once and another node's after a Redis hop, so two nodes storing seq
//! 5 and 6 at once would otherwise be seen out of order.

mod sequencer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use qc_application::ConversationAccess;
use qc_application::ports::{Broker, BrokerError, Envelope, RemoteEvents, Transport};
use qc_domain::{ChatEvent, Side, User};

use crate::frames::{Frame, render_event};
use crate::ws::Outbox;
use sequencer::Sequencer;

/// Everything this node keeps for one user: one entry, one key, so an
/// idle connection pays for one map slot.
#[derive(Default)]
pub struct UserEntry {
    /// The user's open connections here.
    connections: Vec<(u64, Arc<Outbox>)>,
    /// Connection slots taken (upgrades under way included), for the cap.
    slots: usize,
    /// The user's frame bucket, shared by those connections.
    bucket: Option<crate::ws::TokenBucket>,
}

type Registry = DashMap<User, UserEntry>;

/// How long a text waits for an earlier one still in flight from another
/// node. A text that comes later than this after its successor is dropped
/// for that recipient (history has it), so the hold is generous: a node
/// under load (here, a test suite on two cores) delivered Redis hops later
/// than 250 ms. A gap only opens when a publish is lost or late (notes
/// leave none), so a long hold costs nothing otherwise.
const REORDER_HOLD: Duration = Duration::from_secs(1);

pub struct Hub {
    /// user → that user's connections on this node (a Vec: a user has a
    /// handful of tabs and devices, and a publish walks them all anyway),
    /// connection slots and frame bucket.
    by_user: Arc<Registry>,
    /// Only with a transport: one node publishes in seq order already.
    /// `None` items are seqs the recipient may not see (a note, for a
    /// customer): they only move the order on.
    sequencer: Option<Arc<Sequencer<Option<Frame>>>>,
    next_id: AtomicU64,
    /// Kept exact by the assignments and closes passing through here.
    access: Arc<ConversationAccess>,
    transport: Option<Arc<dyn Transport>>,
}

impl Hub {
    /// A hub over `transport` (`None`: a single node).
    pub fn new(
        access: Arc<ConversationAccess>,
        transport: Option<Arc<dyn Transport>>,
    ) -> Arc<Self> {
        let by_user: Arc<Registry> = Arc::new(DashMap::new());
        let sequencer = transport.as_ref().map(|_| {
            let registry = by_user.clone();
            let sequencer = Sequencer::new(
                REORDER_HOLD,
                Box::new(move |(_, user): &sequencer::Key, frame: Option<Frame>| {
                    if let Some(frame) = frame {
                        push_to(&registry, user, &frame);
                    }
                }),
            );
            sequencer.sweep_periodically(Duration::from_secs(10), Duration::from_secs(60));
            sequencer
        });
        let hub = Arc::new(Self {
            by_user,
            sequencer,
            next_id: AtomicU64::new(0),
            access,
            transport,
        });
        if let Some(transport) = &hub.transport {
            // Weak: the transport's task must not keep a stopped node alive.
            transport.attach(Arc::new(Inbound(Arc::downgrade(&hub))));
        }
        hub
    }

    /// Starts delivering `user`'s events to `outbox` until the returned
    /// registration is dropped. The user's first connection on this node
    /// waits until the transport receives the user's events from other
    /// nodes too (bounded by the transport).
    pub async fn register(self: &Arc<Self>, user: &User, outbox: Arc<Outbox>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut entry = self.by_user.entry(user.clone()).or_default();
        // Asked under the shard lock, so watch and unwatch of one user reach
        // the transport in the order they happened; awaited outside it.
        let watched = match &self.transport {
            Some(t) if entry.connections.is_empty() => Some(t.watch(user)),
            _ => None,
        };
        entry.connections.push((id, outbox));
        drop(entry);
        let registration = Registration {
            hub: self.clone(),
            user: user.clone(),
            id,
        };
        if let Some(watched) = watched {
            watched.await;
        }
        registration
    }

    /// Delivers to this node's connections of the recipients, rendering
    /// the frame once (and only if someone here receives it).
    pub fn deliver_local(&self, envelope: &Envelope) {
        self.access.observe(&envelope.event);
        if let ChatEvent::MessageWithheld {
            conversation_id,
            seq,
        } = &envelope.event
        {
            // Nothing to show; with a sequencer, the seq moves on.
            if let Some(sequencer) = &self.sequencer {
                for user in &envelope.recipients {
                    if self.holds(user) {
                        sequencer.offer((*conversation_id, user.clone()), *seq, None);
                    }
                }
            }
            return;
        }
        let mut frame: Option<Frame> = None;
        // With several nodes, a transfer's event reaches the previous agent
        // in its run of texts, right after the last one that was theirs
        // (another node may still be delivering it), and the new agent's
        // run starts after that one.
        let mut in_run: Option<User> = None;
        if let (
            Some(sequencer),
            ChatEvent::ConversationAssigned {
                conversation_id,
                support_id,
                previous_support_id,
                last_seq,
                ..
            },
        ) = (&self.sequencer, &envelope.event)
        {
            let cid = *conversation_id;
            if let Some(agent) = support_id {
                let key = (cid, User::agent(agent.clone()));
                match last_seq {
                    Some(seq) => sequencer.start_at(key, seq + 1),
                    None => sequencer.forget(&key),
                }
            }
            if let (Some(previous), Some(seq)) = (previous_support_id, last_seq) {
                let user = User::agent(previous.clone());
                if envelope.recipients.contains(&user) && self.holds(&user) {
                    let frame = frame.get_or_insert_with(|| render_event(&envelope.event));
                    sequencer.offer_after((cid, user.clone()), seq + 1, Some(frame.clone()));
                    in_run = Some(user);
                }
            }
        }
        if let (Some(sequencer), ChatEvent::MessageStored { message, .. }) =
            (&self.sequencer, &envelope.event)
        {
            for user in &envelope.recipients {
                if self.holds(user) {
                    let frame = frame.get_or_insert_with(|| render_event(&envelope.event));
                    sequencer.offer(
                        (message.conversation_id(), user.clone()),
                        message.seq(),
                        Some(frame.clone()),
                    );
                }
            }
            return;
        }
        for user in &envelope.recipients {
            if self.holds(user) && in_run.as_ref() != Some(user) {
                let frame = frame.get_or_insert_with(|| render_event(&envelope.event));
                push_to(&self.by_user, user, frame);
            }
        }
        if envelope.all_agents {
            // Every agent held here, the listed ones not twice. Pushed from
            // the entry itself: no second lookup under the iteration's lock.
            for entry in self.by_user.iter() {
                let (user, held) = entry.pair();
                if user.side() != Side::Agent
                    || held.connections.is_empty()
                    || envelope.recipients.contains(user)
                {
                    continue;
                }
                let frame = frame.get_or_insert_with(|| render_event(&envelope.event));
                for (_, outbox) in &held.connections {
                    outbox.push(frame.clone());
                }
            }
        }
    }

    /// Takes one of `user`'s `max` connection slots on this node, or `None`
    /// when all are taken. Atomic per user (under the map's shard lock), so
    /// concurrent upgrades never pass the cap; the slot is given back when
    /// the returned guard drops.
    /// `rate` is the user's bucket (per second, burst), made with the first
    /// slot and kept while any is held.
    pub fn reserve(&self, user: &User, max: usize, rate: Option<(u32, u32)>) -> Option<Slot> {
        let mut held = self.by_user.entry(user.clone()).or_default();
        if held.slots == 0 {
            held.bucket = rate.map(|(per_sec, burst)| {
                crate::ws::TokenBucket::new(per_sec, burst, std::time::Instant::now())
            });
        }
        if held.slots >= max {
            let unused = held.slots == 0 && held.connections.is_empty();
            drop(held);
            if unused {
                self.by_user
                    .remove_if(user, |_, e| e.slots == 0 && e.connections.is_empty());
            }
            return None;
        }
        held.slots += 1;
        let bucket = held.bucket.is_some();
        drop(held);
        Some(Slot {
            registry: self.by_user.clone(),
            user: user.clone(),
            bucket,
        })
    }

    /// Whether this node holds a connection of `user`.
    fn holds(&self, user: &User) -> bool {
        self.by_user
            .get(user)
            .is_some_and(|e| !e.connections.is_empty())
    }

    /// Connections held right now (all users).
    pub fn connections(&self) -> usize {
        self.by_user
            .iter()
            .map(|e| e.value().connections.len())
            .sum()
    }

    fn unregister(&self, user: &User, id: u64) {
        if let dashmap::Entry::Occupied(mut entry) = self.by_user.entry(user.clone()) {
            let held = entry.get_mut();
            let had = held.connections.len();
            held.connections.retain(|(i, _)| *i != id);
            if had > 0 && held.connections.is_empty() {
                if let Some(t) = &self.transport {
                    t.unwatch(user);
                }
                if held.slots == 0 {
                    entry.remove();
                }
            }
        }
    }
}

fn push_to(registry: &Registry, user: &User, frame: &Frame) {
    if let Some(held) = registry.get(user) {
        for (_, outbox) in &held.connections {
            outbox.push(frame.clone());
        }
    }
}

/// One of a user's connection slots; dropping it frees the slot.
pub struct Slot {
    registry: Arc<Registry>,
    user: User,
    /// Whether the user has a bucket: without one, a frame needs no lookup.
    bucket: bool,
}

impl Slot {
    /// Takes a token from the user's bucket (always granted when off).
    pub fn take_user_token(&self, now: std::time::Instant) -> bool {
        !self.bucket
            || self
                .registry
                .get_mut(&self.user)
                .is_none_or(|mut s| s.bucket.as_mut().is_none_or(|b| b.try_take(now)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let dashmap::Entry::Occupied(mut held) = self.registry.entry(self.user.clone()) {
            let entry = held.get_mut();
            entry.slots -= 1;
            if entry.slots == 0 && entry.connections.is_empty() {
                held.remove();
            }
        }
    }
}

/// A connection's place in the hub; dropping it removes the connection.
pub struct Registration {
    hub: Arc<Hub>,
    user: User,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(&self.user, self.id);
    }
}

struct Inbound(Weak<Hub>);

impl RemoteEvents for Inbound {
    fn deliver(&self, envelope: Arc<Envelope>) {
        if let Some(hub) = self.0.upgrade() {
            hub.deliver_local(&envelope);
        }
    }
}

#[async_trait]
impl Broker for Hub {
    /// Delivers locally, then hands the event to the transport. A transport
    /// failure is logged, not returned: this node's connections (the
    /// sender's included) already have the event, and other nodes' clients
    /// catch up through history.
    async fn publish(&self, envelope: Arc<Envelope>) -> Result<(), BrokerError> {
        self.deliver_local(&envelope);
        if let Some(t) = &self.transport
            && let Err(e) = t.publish(&envelope)
        {
            tracing::warn!(error = %e, "event not sent to other nodes; their clients catch up via history");
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), BrokerError> {
        match &self.transport {
            Some(t) => t.health().await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
