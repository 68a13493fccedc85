//! Delivers each conversation's texts in `seq` order on this node, even when
//! they arrive out of order: two nodes that store seq 5 and 6 concurrently
//! may publish them to Redis in either order. A text that arrives ahead of a
//! gap waits (at most `hold`) for the missing ones, then goes anyway (a text
//! whose publish was lost must not block the ones after it; clients recover
//! it through history). Other events are not ordered here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use qc_application::ports::Envelope;
use qc_domain::ConversationId;

pub type Deliver = Arc<dyn Fn(&Arc<Envelope>) + Send + Sync>;

struct State {
    /// The next seq this node expects to deliver.
    next: i64,
    held: BTreeMap<i64, Arc<Envelope>>,
    flush_scheduled: bool,
    touched: Instant,
}

pub struct Sequencer {
    /// Sharded: conversations never wait for each other.
    conversations: DashMap<ConversationId, State>,
    hold: Duration,
    deliver: Deliver,
}

impl Sequencer {
    pub fn new(hold: Duration, deliver: Deliver) -> Arc<Self> {
        Arc::new(Self {
            conversations: DashMap::new(),
            hold,
            deliver,
        })
    }

    /// Offers text `seq` of `conversation`; delivers what is now in order.
    pub fn offer(
        self: &Arc<Self>,
        conversation: ConversationId,
        seq: i64,
        envelope: Arc<Envelope>,
    ) {
        let mut ready = Vec::new();
        let mut schedule = false;
        {
            let mut st = self
                .conversations
                .entry(conversation)
                .or_insert_with(|| State {
                    next: seq,
                    held: BTreeMap::new(),
                    flush_scheduled: false,
                    touched: Instant::now(),
                });
            st.touched = Instant::now();
            if seq < st.next {
                // Older than what was delivered (late, or a gap already flushed).
                ready.push(envelope);
            } else if seq == st.next {
                ready.push(envelope);
                st.next += 1;
                let st = &mut *st;
                while let Some(e) = st.held.remove(&st.next) {
                    ready.push(e);
                    st.next += 1;
                }
            } else {
                st.held.insert(seq, envelope);
                if !st.flush_scheduled {
                    st.flush_scheduled = true;
                    schedule = true;
                }
            }
        }
        for e in &ready {
            (self.deliver)(e);
        }
        if schedule {
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(me.hold).await;
                me.flush(conversation);
            });
        }
    }

    /// Gives up waiting on a gap: delivers everything held, in order.
    fn flush(&self, conversation: ConversationId) {
        let ready: Vec<Arc<Envelope>> = {
            let Some(mut st) = self.conversations.get_mut(&conversation) else {
                return;
            };
            st.flush_scheduled = false;
            let held = std::mem::take(&mut st.held);
            if let Some((&last, _)) = held.last_key_value() {
                st.next = last + 1;
            }
            held.into_values().collect()
        };
        for e in &ready {
            (self.deliver)(e);
        }
    }

    /// Forgets conversations idle for longer than `idle`.
    pub fn sweep(&self, idle: Duration) {
        self.conversations
            .retain(|_, st| st.flush_scheduled || st.touched.elapsed() < idle);
    }

    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.conversations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use qc_domain::{ChatEvent, Message, MessageId, MessageKind, UserId};
    use std::sync::Mutex;
    use ulid::Ulid;

    fn text(cid: ConversationId, seq: i64) -> Arc<Envelope> {
        Arc::new(Envelope::new(
            vec![],
            ChatEvent::MessageStored {
                message: Message {
                    id: MessageId::from_ulid(Ulid::generate()),
                    conversation_id: cid,
                    seq,
                    sender_id: UserId::new("u").unwrap(),
                    kind: MessageKind::Text,
                    content: String::new(),
                    client_msg_id: None,
                    created_at: Utc::now(),
                    read_at: None,
                },
                at: Utc::now(),
            },
        ))
    }

    fn seqs(log: &Mutex<Vec<i64>>) -> Vec<i64> {
        log.lock().unwrap().clone()
    }

    fn recorder() -> (Arc<Mutex<Vec<i64>>>, Deliver) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let deliver: Deliver = Arc::new(move |e: &Arc<Envelope>| {
            if let ChatEvent::MessageStored { message, .. } = &e.event {
                l.lock().unwrap().push(message.seq);
            }
        });
        (log, deliver)
    }

    #[tokio::test]
    async fn out_of_order_texts_are_released_in_order() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(5), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(c, 5, text(c, 5));
        s.offer(c, 7, text(c, 7));
        s.offer(c, 8, text(c, 8));
        assert_eq!(seqs(&log), vec![5], "7 and 8 wait for 6");
        s.offer(c, 6, text(c, 6));
        assert_eq!(seqs(&log), vec![5, 6, 7, 8]);
        // Conversations are independent.
        let d = ConversationId::from_ulid(Ulid::generate());
        s.offer(d, 1, text(d, 1));
        assert_eq!(seqs(&log), vec![5, 6, 7, 8, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_that_never_fills_is_flushed_after_the_hold() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_millis(200), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(c, 1, text(c, 1));
        s.offer(c, 3, text(c, 3));
        s.offer(c, 4, text(c, 4));
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(seqs(&log), vec![1]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(seqs(&log), vec![1, 3, 4]);
        // The late 2 still goes out (clients de-duplicate and sort by seq).
        s.offer(c, 2, text(c, 2));
        s.offer(c, 5, text(c, 5));
        assert_eq!(seqs(&log), vec![1, 3, 4, 2, 5]);
    }

    #[tokio::test]
    async fn idle_conversations_are_forgotten() {
        let (_log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(1), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(c, 1, text(c, 1));
        assert_eq!(s.tracked(), 1);
        s.sweep(Duration::ZERO);
        assert_eq!(s.tracked(), 0);
    }
}
