//! Per-conversation ordering of store-then-publish.
//!
//! Two texts stored in one conversation must reach every connection in `seq`
//! order. Storing assigns `seq`; if two senders stored 5 and 6 and the second
//! published first, a connection would see 6 before 5. Holding a lock per
//! conversation across store + publish keeps this node's publishes in `seq`
//! order. There is one lock per conversation currently sending, not a global
//! one: conversations never wait for each other.

use std::sync::Arc;

use dashmap::DashMap;
use qc_domain::ConversationId;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Default)]
pub struct ConversationOrdering {
    /// Entries exist only while someone holds or waits for them (removed on
    /// the last guard's drop), so the map stays as small as the set of
    /// conversations sending right now.
    locks: DashMap<ConversationId, Arc<Mutex<()>>>,
}

/// Held while storing and publishing one message.
pub struct OrderingGuard<'a> {
    owner: &'a ConversationOrdering,
    id: ConversationId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ConversationOrdering {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn lock(&self, id: ConversationId) -> OrderingGuard<'_> {
        let mutex = self.locks.entry(id).or_default().clone();
        let guard = mutex.lock_owned().await;
        OrderingGuard {
            owner: self,
            id,
            guard: Some(guard),
        }
    }

    /// Conversations with a lock entry right now.
    pub fn active(&self) -> usize {
        self.locks.len()
    }
}

impl Drop for OrderingGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Only the map's own reference left: nobody holds or waits.
        self.owner
            .locks
            .remove_if(&self.id, |_, m| Arc::strong_count(m) == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use ulid::Ulid;

    #[tokio::test]
    async fn same_conversation_waits_other_conversations_do_not() {
        let ordering = Arc::new(ConversationOrdering::new());
        let a = ConversationId::from_ulid(Ulid::generate());
        let b = ConversationId::from_ulid(Ulid::generate());
        let held = ordering.lock(a).await;
        // Another conversation is not blocked.
        tokio::time::timeout(Duration::from_millis(100), ordering.lock(b))
            .await
            .expect("other conversation must not wait");
        // The same one is.
        let o2 = ordering.clone();
        let waiter = tokio::spawn(async move {
            let _g = o2.lock(a).await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "same conversation must wait");
        drop(held);
        waiter.await.unwrap();
        assert_eq!(ordering.active(), 0, "entries are cleaned up");
    }
}
