//! A per-node cache of each conversation's participants and status, so a
//! typing frame touches no database.
//!
//! Kept exact by the events this node sees (an assignment or a close is
//! applied to the cached entry as its event passes the hub, local or from
//! another node) and bounded in age: an entry older than `max_age` is read
//! again, so a change this node did not see (a node that holds none of the
//! participants learns nothing) is picked up within that time. Texts do not
//! rely on it: the store decides them against the database itself.
//!
//! A sharded map, no global lock; entries for conversations nobody uses
//! expire and are swept when the map grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
#[cfg(test)]
use qc_domain::ConversationStatus;
use qc_domain::{ChatEvent, Conversation, ConversationId};
use tokio::time::Instant;

use crate::ports::{ConversationRepository, RepositoryError};

/// Entries above which a lookup first drops the expired ones.
const SWEEP_ABOVE: usize = 100_000;

struct Entry {
    conversation: Conversation,
    fetched: Instant,
}

pub struct ConversationAccess {
    conversations: Arc<dyn ConversationRepository>,
    entries: DashMap<ConversationId, Entry>,
    max_age: Duration,
    /// Bumped by every assignment or close observed: a read that raced one
    /// is used but not cached (it may predate the change).
    changes: AtomicU64,
}

impl ConversationAccess {
    pub fn new(conversations: Arc<dyn ConversationRepository>, max_age: Duration) -> Self {
        Self {
            conversations,
            entries: DashMap::new(),
            max_age,
            changes: AtomicU64::new(0),
        }
    }

    /// The conversation as this node knows it: from the cache while fresh,
    /// else read (and cached).
    ///
    /// # Errors
    /// When the read fails; a missing conversation is `Ok(None)` (not cached,
    /// so a conversation created a moment later is found).
    pub async fn get(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError> {
        let now = Instant::now();
        if let Some(entry) = self.entries.get(&id)
            && now.duration_since(entry.fetched) < self.max_age
        {
            return Ok(Some(entry.conversation.clone()));
        }
        let before = self.changes.load(Ordering::Acquire);
        let found = self.conversations.find(id).await?;
        let raced = self.changes.load(Ordering::Acquire) != before;
        if let Some(conversation) = found.as_ref().filter(|_| !raced) {
            if self.entries.len() >= SWEEP_ABOVE {
                let max_age = self.max_age;
                self.entries
                    .retain(|_, e| now.duration_since(e.fetched) < max_age);
            }
            self.entries.insert(
                id,
                Entry {
                    conversation: conversation.clone(),
                    fetched: now,
                },
            );
        }
        Ok(found)
    }

    /// Applies an event to the cached entry, if any: assignments and closes
    /// change who may send and whether anyone may.
    pub fn observe(&self, event: &ChatEvent) {
        if matches!(
            event,
            ChatEvent::ConversationAssigned { .. } | ChatEvent::ConversationClosed { .. }
        ) {
            self.changes.fetch_add(1, Ordering::AcqRel);
        }
        match event {
            ChatEvent::ConversationAssigned {
                conversation_id, ..
            }
            | ChatEvent::ConversationClosed {
                conversation_id, ..
            } => {
                if let Some(mut entry) = self.entries.get_mut(conversation_id) {
                    entry.conversation.apply(event);
                }
            }
            ChatEvent::MessageStored { .. }
            | ChatEvent::MessageWithheld { .. }
            | ChatEvent::Typing { .. }
            | ChatEvent::ConversationCreated { .. }
            | ChatEvent::MessagesRead { .. }
            | ChatEvent::Presence { .. } => {}
        }
    }

    /// Cached entries right now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the cache holds `id` as closed (tests).
    #[cfg(test)]
    fn cached_status(&self, id: ConversationId) -> Option<ConversationStatus> {
        self.entries.get(&id).map(|e| e.conversation.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::conversation_repository::MockConversationRepository;
    use crate::test_support::*;

    fn cache(repo: MockConversationRepository) -> ConversationAccess {
        ConversationAccess::new(Arc::new(repo), Duration::from_secs(5))
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_entry_is_served_without_a_read_and_an_old_one_is_read_again() {
        let conv = assigned_conversation();
        let mut repo = MockConversationRepository::new();
        let c = conv.clone();
        repo.expect_find()
            .times(2)
            .returning(move |_| Ok(Some(c.clone())));
        let access = cache(repo);

        assert_eq!(access.get(conv.id()).await.unwrap(), Some(conv.clone()));
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert_eq!(access.get(conv.id()).await.unwrap(), Some(conv.clone()));
        // Past max_age: the second (and last) read the mock allows.
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(access.get(conv.id()).await.unwrap(), Some(conv));
    }

    #[tokio::test(start_paused = true)]
    async fn events_keep_the_entry_exact() {
        let conv = open_conversation();
        let mut repo = MockConversationRepository::new();
        let c = conv.clone();
        repo.expect_find()
            .times(1)
            .returning(move |_| Ok(Some(c.clone())));
        let access = cache(repo);
        access.get(conv.id()).await.unwrap();

        access.observe(&ChatEvent::ConversationAssigned {
            conversation_id: conv.id(),
            support_id: Some(agent().user_id().clone()),
            previous_support_id: None,
            last_seq: None,
            at: fixed_now(),
        });
        let seen = access.get(conv.id()).await.unwrap().unwrap();
        assert_eq!(seen.support_id(), Some(agent().user_id()));

        access.observe(&ChatEvent::ConversationClosed {
            conversation_id: conv.id(),
            closed_by: client().user_id().clone(),
            at: fixed_now(),
        });
        assert_eq!(
            access.cached_status(conv.id()),
            Some(ConversationStatus::Closed)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_conversation_is_not_cached() {
        let conv = open_conversation();
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(2).returning(|_| Ok(None));
        let access = cache(repo);
        assert_eq!(access.get(conv.id()).await.unwrap(), None);
        assert_eq!(access.get(conv.id()).await.unwrap(), None);
        assert!(access.is_empty());
    }
}
