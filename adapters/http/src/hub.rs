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
                        (message.conversation_id, user.clone()),
                        message.seq,
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
                if user.side != Side::Agent
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
mod tests {
    use super::*;
    use chrono::Utc;
    use qc_application::ports::conversation_repository::MockConversationRepository;
    use qc_domain::{ChatEvent, ConversationId, TypingKind, UserId};
    use std::sync::Mutex;
    use std::time::Duration;
    use ulid::Ulid;

    fn user(s: &str) -> User {
        User::customer(UserId::new(s).unwrap())
    }

    fn agent(s: &str) -> User {
        User::agent(UserId::new(s).unwrap())
    }

    fn hub(transport: Option<Arc<dyn Transport>>) -> Arc<Hub> {
        let access = Arc::new(ConversationAccess::new(
            Arc::new(MockConversationRepository::new()),
            Duration::from_secs(5),
        ));
        Hub::new(access, transport)
    }

    fn typing(from: &str, to: Vec<User>) -> Arc<Envelope> {
        Arc::new(Envelope::new(
            to,
            ChatEvent::Typing {
                conversation_id: ConversationId::from_ulid(Ulid::generate()),
                sender_id: user(from).id,
                kind: TypingKind::Started,
                at: Utc::now(),
            },
        ))
    }

    #[tokio::test]
    async fn every_connection_of_every_recipient_shares_one_rendered_frame() {
        let hub = hub(None);
        let (a1, mut rx_a1) = Outbox::new(8, 1 << 20);
        let (a2, mut rx_a2) = Outbox::new(8, 1 << 20);
        let (b, mut rx_b) = Outbox::new(8, 1 << 20);
        let (c, mut rx_c) = Outbox::new(8, 1 << 20);
        let _r1 = hub.register(&user("alice"), a1).await;
        let _r2 = hub.register(&user("alice"), a2).await;
        let _r3 = hub.register(&user("bob"), b).await;
        let _r4 = hub.register(&user("carol"), c).await;

        hub.publish(typing("carol", vec![user("alice"), user("bob")]))
            .await
            .unwrap();

        let f1 = rx_a1.try_recv().unwrap();
        let f2 = rx_a2.try_recv().unwrap();
        let f3 = rx_b.try_recv().unwrap();
        assert!(f1.contains("typing_started"));
        // One buffer, three handles: the same bytes at the same address.
        assert_eq!(f1.as_str().as_ptr(), f2.as_str().as_ptr());
        assert_eq!(f1.as_str().as_ptr(), f3.as_str().as_ptr());
        assert!(rx_c.try_recv().is_none(), "not a recipient");
    }

    #[tokio::test]
    async fn deliveries_and_slots_are_per_side_not_per_sub() {
        let hub = hub(None);
        let customer = user("same");
        let agent = User::agent(UserId::new("same").unwrap());
        let (c, mut rx_c) = Outbox::new(8, 1 << 20);
        let (a, mut rx_a) = Outbox::new(8, 1 << 20);
        let _rc = hub.register(&customer, c).await;
        let _ra = hub.register(&agent, a).await;

        hub.publish(typing("x", vec![customer.clone()]))
            .await
            .unwrap();
        assert!(rx_c.try_recv().is_some());
        assert!(
            rx_a.try_recv().is_none(),
            "the agent with that sub is someone else"
        );
        hub.publish(typing("x", vec![agent.clone()])).await.unwrap();
        assert!(rx_a.try_recv().is_some());
        assert!(rx_c.try_recv().is_none());

        // One slot each: the customer's cap does not count the agent's.
        let held = hub.reserve(&customer, 1, None).unwrap();
        assert!(hub.reserve(&customer, 1, None).is_none());
        assert!(hub.reserve(&agent, 1, None).is_some());
        drop(held);
    }

    #[derive(Default)]
    struct FakeTransport {
        log: Mutex<Vec<String>>,
        inbound: Mutex<Option<Arc<dyn RemoteEvents>>>,
    }

    #[async_trait]
    impl Transport for FakeTransport {
        fn attach(&self, inbound: Arc<dyn RemoteEvents>) {
            *self.inbound.lock().unwrap() = Some(inbound);
        }
        fn publish(&self, envelope: &Arc<Envelope>) -> Result<(), BrokerError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("publish {}", envelope.recipients.len()));
            Ok(())
        }
        fn watch(&self, user: &User) -> qc_application::ports::Watched {
            self.log.lock().unwrap().push(format!("watch {}", user.id));
            Box::pin(async {})
        }
        fn unwatch(&self, user: &User) {
            self.log
                .lock()
                .unwrap()
                .push(format!("unwatch {}", user.id));
        }
        async fn health(&self) -> Result<(), BrokerError> {
            Ok(())
        }
    }

    #[test]
    fn a_user_gets_at_most_max_slots_and_a_freed_one_comes_back() {
        let hub = hub(None);
        let a: Vec<Slot> = (0..3)
            .filter_map(|_| hub.reserve(&user("alice"), 3, None))
            .collect();
        assert_eq!(a.len(), 3);
        assert!(
            hub.reserve(&user("alice"), 3, None).is_none(),
            "the fourth is refused"
        );
        assert!(hub.reserve(&user("bob"), 3, None).is_some(), "per user");
        drop(a);
        assert!(hub.reserve(&user("alice"), 3, None).is_some());
        assert!(
            hub.by_user.get(&user("bob")).is_none(),
            "freed entries go away"
        );
    }

    #[test]
    fn a_users_connections_share_one_frame_bucket() {
        let hub = hub(None);
        let now = std::time::Instant::now();
        let a = hub.reserve(&user("alice"), 5, Some((1, 3))).unwrap();
        let b = hub.reserve(&user("alice"), 5, Some((1, 3))).unwrap();
        let c = hub.reserve(&user("carol"), 5, Some((1, 3))).unwrap();
        let taken = [&a, &b, &a, &b]
            .iter()
            .filter(|s| s.take_user_token(now))
            .count();
        assert_eq!(taken, 3, "the burst is the user's, not each connection's");
        assert!(c.take_user_token(now), "another user has their own");
    }

    #[tokio::test]
    async fn the_transport_watches_a_user_from_the_first_connection_to_the_last() {
        let transport = Arc::new(FakeTransport::default());
        let hub = hub(Some(transport.clone()));
        let (o1, _rx1) = Outbox::new(8, 1 << 20);
        let (o2, mut rx2) = Outbox::new(8, 1 << 20);
        let r1 = hub.register(&user("alice"), o1).await;
        let r2 = hub.register(&user("alice"), o2).await;
        drop(r1);
        hub.publish(typing("bob", vec![user("alice")]))
            .await
            .unwrap();
        drop(r2);
        assert_eq!(
            *transport.log.lock().unwrap(),
            vec!["watch alice", "publish 1", "unwatch alice"]
        );
        assert!(rx2.try_recv().is_some());
        assert_eq!(hub.connections(), 0);
    }

    fn text(cid: ConversationId, seq: i64, to: Vec<User>) -> Arc<Envelope> {
        use qc_domain::{Message, MessageId, MessageKind};
        Arc::new(Envelope::new(
            to,
            ChatEvent::MessageStored {
                message: Message {
                    id: MessageId::from_ulid(Ulid::generate()),
                    conversation_id: cid,
                    seq,
                    sender_id: user("s").id,
                    sender_side: qc_domain::Side::Customer,
                    kind: MessageKind::Text,
                    content: format!("m{seq}"),
                    client_msg_id: None,
                    created_at: Utc::now(),
                    read_at: None,
                },
                at: Utc::now(),
            },
        ))
    }

    fn seq_of(frame: &Frame) -> i64 {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["payload"]["seq"].as_i64().unwrap()
    }

    #[tokio::test]
    async fn with_a_transport_local_and_remote_texts_are_delivered_in_seq_order() {
        let transport = Arc::new(FakeTransport::default());
        let hub = hub(Some(transport.clone()));
        let (o, mut rx) = Outbox::new(8, 1 << 20);
        let _r = hub.register(&user("alice"), o).await;
        let inbound = transport.inbound.lock().unwrap().clone().unwrap();
        let cid = ConversationId::from_ulid(Ulid::generate());
        hub.publish(text(cid, 1, vec![user("alice")]))
            .await
            .unwrap();
        // Another node stored 2; this node stored 3 and delivers it first.
        hub.publish(text(cid, 3, vec![user("alice")]))
            .await
            .unwrap();
        inbound.deliver(text(cid, 2, vec![user("alice")]));
        let got: Vec<i64> = (0..3).map(|_| seq_of(&rx.try_recv().unwrap())).collect();
        assert_eq!(got, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_withheld_seq_moves_the_order_on_without_a_wait() {
        let transport = Arc::new(FakeTransport::default());
        let hub = hub(Some(transport.clone()));
        let (o, mut rx) = Outbox::new(8, 1 << 20);
        let _r = hub.register(&user("alice"), o).await;
        let cid = ConversationId::from_ulid(Ulid::generate());
        hub.publish(text(cid, 1, vec![user("alice")]))
            .await
            .unwrap();
        // Seq 2 is a note: the customer gets only its place.
        let withheld = Arc::new(Envelope::new(
            vec![user("alice")],
            ChatEvent::MessageWithheld {
                conversation_id: cid,
                seq: 2,
            },
        ));
        hub.publish(withheld).await.unwrap();
        hub.publish(text(cid, 3, vec![user("alice")]))
            .await
            .unwrap();
        let got: Vec<i64> = (0..2).map(|_| seq_of(&rx.try_recv().unwrap())).collect();
        assert_eq!(got, vec![1, 3], "3 at once: nothing waits for 2");
        assert!(rx.try_recv().is_none(), "the withheld seq renders nothing");
    }

    #[tokio::test]
    async fn a_transfer_reaches_the_previous_agent_after_its_last_text_from_another_node() {
        let transport = Arc::new(FakeTransport::default());
        let hub = hub(Some(transport.clone()));
        let inbound = transport.inbound.lock().unwrap().clone().unwrap();
        let (previous, new) = (agent("p"), agent("q"));
        let (op, mut rx_p) = Outbox::new(8, 1 << 20);
        let (oq, mut rx_q) = Outbox::new(8, 1 << 20);
        let _rp = hub.register(&previous, op).await;
        let _rq = hub.register(&new, oq).await;
        let cid = ConversationId::from_ulid(Ulid::generate());
        hub.publish(text(cid, 1, vec![previous.clone()]))
            .await
            .unwrap();
        // The transfer after seq 2, which another node stored and is still
        // delivering.
        let assigned = Arc::new(Envelope::with_all_agents(
            vec![previous.clone(), new.clone()],
            ChatEvent::ConversationAssigned {
                conversation_id: cid,
                support_id: Some(new.id.clone()),
                previous_support_id: Some(previous.id.clone()),
                last_seq: Some(2),
                at: Utc::now(),
            },
        ));
        hub.publish(assigned).await.unwrap();
        assert_eq!(seq_of(&rx_p.try_recv().unwrap()), 1);
        assert!(rx_p.try_recv().is_none(), "the event waits for seq 2");
        assert!(rx_q.try_recv().unwrap().contains("conversation_assigned"));
        inbound.deliver(text(cid, 2, vec![previous.clone()]));
        assert_eq!(seq_of(&rx_p.try_recv().unwrap()), 2);
        assert!(rx_p.try_recv().unwrap().contains("conversation_assigned"));
        // The new agent's run starts after the switch: seq 3 goes at once.
        hub.publish(text(cid, 3, vec![new.clone()])).await.unwrap();
        assert_eq!(seq_of(&rx_q.try_recv().unwrap()), 3);
    }

    #[tokio::test]
    async fn events_from_other_nodes_reach_local_connections() {
        let transport = Arc::new(FakeTransport::default());
        let hub = hub(Some(transport.clone()));
        let (o, mut rx) = Outbox::new(8, 1 << 20);
        let _r = hub.register(&user("alice"), o).await;
        let inbound = transport.inbound.lock().unwrap().clone().unwrap();
        inbound.deliver(typing("bob", vec![user("alice")]));
        assert!(rx.try_recv().unwrap().contains("typing_started"));
        assert_eq!(
            *transport.log.lock().unwrap(),
            vec!["watch alice"],
            "a remote event is not sent back out"
        );
    }
}
