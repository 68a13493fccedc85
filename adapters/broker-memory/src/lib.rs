//! In-process pub/sub for a single node (`QC_BROKER_URL=memory://`).
//!
//! Subscribers register a sink per connection under their user id; a publish
//! hands the envelope to every sink of every recipient, synchronously and
//! without awaiting (sinks only queue). The registry is a sharded map, so
//! publishes for different users do not contend on one lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dashmap::DashMap;
use qc_application::ports::{Broker, BrokerError, Envelope, EventSink, Subscription};
use qc_domain::UserId;

type Sinks = Vec<(u64, Arc<dyn EventSink>)>;

#[derive(Default)]
struct Registry {
    /// user → that user's connections on this node. A Vec: a user has a
    /// handful of tabs/devices, and a publish walks them all anyway.
    by_user: DashMap<UserId, Sinks>,
    next_id: AtomicU64,
}

/// The in-memory broker.
#[derive(Clone, Default)]
pub struct InMemoryBroker {
    registry: Arc<Registry>,
}

impl InMemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections currently subscribed (all users).
    pub fn subscriber_count(&self) -> usize {
        self.registry.by_user.iter().map(|e| e.value().len()).sum()
    }

    /// Delivers locally; also the building block for a networked broker,
    /// which calls it for envelopes arriving from other nodes.
    pub fn deliver_local(&self, envelope: &Arc<Envelope>) {
        for user in &envelope.recipients {
            // Delivered under the shard's read lock: sinks only queue (they
            // never block and never touch the registry), so the lock is held
            // for microseconds and the publish allocates nothing here.
            if let Some(entry) = self.registry.by_user.get(user) {
                for (_, sink) in entry.value() {
                    sink.deliver(envelope);
                }
            }
        }
    }
}

struct Unsubscribe {
    registry: Arc<Registry>,
    user: UserId,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(mut entry) = self.registry.by_user.get_mut(&self.user) {
            entry.retain(|(id, _)| *id != self.id);
        }
        self.registry
            .by_user
            .remove_if(&self.user, |_, sinks| sinks.is_empty());
    }
}

#[async_trait]
impl Broker for InMemoryBroker {
    async fn publish(&self, envelope: Arc<Envelope>) -> Result<(), BrokerError> {
        self.deliver_local(&envelope);
        Ok(())
    }

    async fn subscribe(
        &self,
        user: &UserId,
        sink: Arc<dyn EventSink>,
    ) -> Result<Subscription, BrokerError> {
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        self.registry
            .by_user
            .entry(user.clone())
            .or_default()
            .push((id, sink));
        Ok(Subscription::new(Unsubscribe {
            registry: self.registry.clone(),
            user: user.clone(),
            id,
        }))
    }

    async fn health(&self) -> Result<(), BrokerError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use qc_domain::{ChatEvent, ConversationId, TypingKind};
    use std::sync::Mutex;
    use ulid::Ulid;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<ChatEvent>>);
    impl EventSink for Recorder {
        fn deliver(&self, envelope: &Arc<Envelope>) {
            self.0.lock().unwrap().push(envelope.event.clone());
        }
    }
    impl Recorder {
        fn count(&self) -> usize {
            self.0.lock().unwrap().len()
        }
    }

    fn user(id: &str) -> UserId {
        UserId::new(id).unwrap()
    }

    fn typing(to: Vec<UserId>) -> Arc<Envelope> {
        Arc::new(Envelope::new(
            to,
            ChatEvent::Typing {
                conversation_id: ConversationId::from_ulid(Ulid::generate()),
                sender_id: user("sender"),
                kind: TypingKind::Started,
                at: Utc::now(),
            },
        ))
    }

    /// The behaviour every broker must have.
    #[tokio::test]
    async fn broker_contract() {
        let broker = InMemoryBroker::new();
        let alice_tab1 = Arc::new(Recorder::default());
        let alice_tab2 = Arc::new(Recorder::default());
        let bob = Arc::new(Recorder::default());
        let s1 = broker
            .subscribe(&user("alice"), alice_tab1.clone())
            .await
            .unwrap();
        let _s2 = broker
            .subscribe(&user("alice"), alice_tab2.clone())
            .await
            .unwrap();
        let _s3 = broker.subscribe(&user("bob"), bob.clone()).await.unwrap();
        assert_eq!(broker.subscriber_count(), 3);

        // Every connection of every recipient, nobody else.
        broker.publish(typing(vec![user("alice")])).await.unwrap();
        assert_eq!(
            (alice_tab1.count(), alice_tab2.count(), bob.count()),
            (1, 1, 0)
        );
        broker
            .publish(typing(vec![user("alice"), user("bob")]))
            .await
            .unwrap();
        assert_eq!(
            (alice_tab1.count(), alice_tab2.count(), bob.count()),
            (2, 2, 1)
        );

        // Dropping a subscription stops its deliveries only.
        drop(s1);
        broker.publish(typing(vec![user("alice")])).await.unwrap();
        assert_eq!((alice_tab1.count(), alice_tab2.count()), (2, 3));
        assert_eq!(broker.subscriber_count(), 2);

        // Recipients with no connection are fine.
        broker.publish(typing(vec![user("nobody")])).await.unwrap();
        broker.health().await.unwrap();
    }

    #[tokio::test]
    async fn order_of_publishes_is_kept_per_sink() {
        let broker = InMemoryBroker::new();
        let sink = Arc::new(Recorder::default());
        let _s = broker.subscribe(&user("a"), sink.clone()).await.unwrap();
        let envelopes: Vec<_> = (0..50).map(|_| typing(vec![user("a")])).collect();
        for e in &envelopes {
            broker.publish(e.clone()).await.unwrap();
        }
        let got = sink.0.lock().unwrap().clone();
        let want: Vec<_> = envelopes.iter().map(|e| e.event.clone()).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn last_unsubscribe_removes_the_user_entry() {
        let broker = InMemoryBroker::new();
        let s = broker
            .subscribe(&user("a"), Arc::new(Recorder::default()))
            .await
            .unwrap();
        drop(s);
        assert!(broker.registry.by_user.is_empty());
    }
}
