//! With several nodes, delivers each conversation's texts in `seq` order to
//! each user held on this node, even when they arrive out of order: two
//! nodes that store seq 5 and 6 at once may deliver them in either order (a
//! node delivers its own texts at once and the other's after a Redis hop).
//! A key is the conversation and the recipient.
//!
//! A text that arrives ahead of a gap waits (at most `hold`) for the
//! missing ones, then goes anyway: a text whose publish was lost must not
//! block the ones after it. One that arrives after its gap was given up on
//! is dropped (counted): clients recover it through history. The first
//! text of a run this node has not seen begin waits [`FRESH_HOLD`] for
//! earlier ones (a node's own texts reach it before the other node's). The map is
//! bounded: at most [`MAX_HELD`] texts wait per key (more flushes them at
//! once), and keys idle for a minute are swept. Both are counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use qc_domain::{ConversationId, User};
use tokio::time::Instant;

/// A conversation's texts as one recipient receives them.
pub type Key = (ConversationId, User);

/// Hands an in-order item to its recipient.
pub type Deliver<T> = Box<dyn Fn(&Key, T) + Send + Sync>;

/// How long the first text of a run this node has not seen begin (a new
/// recipient, or one idle past the sweep) waits for earlier ones still
/// crossing from another node.
pub const FRESH_HOLD: Duration = Duration::from_millis(500);

/// Texts held behind one gap beyond which they are delivered at once.
pub const MAX_HELD: usize = 1024;

struct State<T> {
    /// The next seq this node expects to deliver.
    next: i64,
    held: BTreeMap<i64, T>,
    /// When the oldest gap still open began: a flush scheduled for an
    /// earlier gap (filled since) must not cut this one short.
    gap_since: Option<Instant>,
    flush_scheduled: bool,
    touched: Instant,
}

pub struct Sequencer<T> {
    /// Sharded: conversations never wait for each other.
    keys: DashMap<Key, State<T>>,
    hold: Duration,
    deliver: Deliver<T>,
}

impl<T: Send + Sync + 'static> Sequencer<T> {
    pub fn new(hold: Duration, deliver: Deliver<T>) -> Arc<Self> {
        Arc::new(Self {
            keys: DashMap::new(),
            hold,
            deliver,
        })
    }

    /// Offers text `seq` for `key`; delivers what is now in order. A text
    /// older than one already delivered (it came after its gap was given
    /// up on) is dropped, not delivered out of order: the contract's order
    /// holds, and the client finds it in history (`?after=`).
    ///
    /// Delivery happens under the key's lock, so two offers for one key
    /// never hand their frames over in the opposite order. (The lock order
    /// is sequencer, then the hub's registry, then an outbox: nothing takes
    /// them the other way round.)
    pub fn offer(self: &Arc<Self>, key: Key, seq: i64, item: T) {
        self.offer_inner(key, seq, item, false);
    }

    /// As [`Sequencer::offer`] for an item that must come after `seq - 1`
    /// but must never be lost: one that arrives after its place is
    /// delivered at once instead of dropped.
    pub fn offer_after(self: &Arc<Self>, key: Key, seq: i64, item: T) {
        self.offer_inner(key, seq, item, true);
    }

    fn offer_inner(self: &Arc<Self>, key: Key, seq: i64, item: T, late_delivers: bool) {
        let mut schedule = false;
        {
            let now = Instant::now();
            let mut created = false;
            let mut st = self.keys.entry(key.clone()).or_insert_with(|| {
                created = true;
                State {
                    next: seq,
                    held: BTreeMap::new(),
                    gap_since: None,
                    flush_scheduled: false,
                    touched: now,
                }
            });
            st.touched = now;
            if created && seq > 1 && !late_delivers {
                // A run this node has not seen begin: texts before `seq`
                // may still be on their way from another node (this one
                // delivers its own at once). Hold it for FRESH_HOLD with
                // whatever earlier ones arrive, then go on in order.
                st.next = 1;
                st.gap_since = Some(
                    now.checked_sub(self.hold.saturating_sub(FRESH_HOLD))
                        .unwrap_or(now),
                );
                st.held.insert(seq, item);
                st.flush_scheduled = true;
                drop(st);
                self.schedule_flush(key, now + FRESH_HOLD.min(self.hold));
                return;
            }
            if seq < st.next && late_delivers {
                (self.deliver)(&key, item);
            } else if seq < st.next {
                metrics::counter!("qc_reorder_late_dropped_total").increment(1);
            } else if seq == st.next {
                (self.deliver)(&key, item);
                st.next += 1;
                self.release_in_order(&key, &mut st);
            } else {
                if st.held.is_empty() {
                    st.gap_since = Some(now);
                }
                st.held.insert(seq, item);
                if st.held.len() > MAX_HELD {
                    metrics::counter!("qc_reorder_forced_total").increment(1);
                    for e in take_all(&mut st) {
                        (self.deliver)(&key, e);
                    }
                } else if !st.flush_scheduled {
                    st.flush_scheduled = true;
                    schedule = true;
                }
            }
        }
        if schedule {
            self.schedule_flush(key, Instant::now() + self.hold);
        }
    }

    fn schedule_flush(self: &Arc<Self>, key: Key, at: Instant) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            if let Some(me) = me.upgrade() {
                me.flush(key);
            }
        });
    }

    /// Gives up waiting on a gap that has been open for `hold`: delivers
    /// everything held, in order. A gap opened later gets its full hold.
    fn flush(self: &Arc<Self>, key: Key) {
        let now = Instant::now();
        {
            let Some(mut st) = self.keys.get_mut(&key) else {
                return;
            };
            st.flush_scheduled = false;
            match st.gap_since {
                None => return,
                Some(since) if now < since + self.hold => {
                    st.flush_scheduled = true;
                    drop(st);
                    self.schedule_flush(key, since + self.hold);
                    return;
                }
                Some(_) => {}
            }
            metrics::counter!("qc_reorder_gap_flushed_total").increment(1);
            for item in take_all(&mut st) {
                (self.deliver)(&key, item);
            }
        }
    }

    /// Forgets `key`: its next offer starts a new run (a recipient who
    /// joins a conversation again starts where it is).
    pub fn forget(&self, key: &Key) {
        self.keys.remove_if(key, |_, st| !st.flush_scheduled);
    }

    /// `key`'s run goes on from `next`: the recipient just took the
    /// conversation over, and what came before `next` was someone else's.
    /// Held items from `next` on stay (and go out if now in order).
    pub fn start_at(&self, key: Key, next: i64) {
        let now = Instant::now();
        let mut st = self.keys.entry(key.clone()).or_insert_with(|| State {
            next,
            held: BTreeMap::new(),
            gap_since: None,
            flush_scheduled: false,
            touched: now,
        });
        st.touched = now;
        if st.next >= next {
            return;
        }
        st.next = next;
        st.held.retain(|seq, _| *seq >= next);
        self.release_in_order(&key, &mut st);
    }

    /// Delivers the held items that are now in order (from `next` on, with
    /// no gap), and clears the gap's clock once nothing is held.
    fn release_in_order(&self, key: &Key, st: &mut State<T>) {
        while let Some(e) = st.held.remove(&st.next) {
            (self.deliver)(key, e);
            st.next += 1;
        }
        if st.held.is_empty() {
            st.gap_since = None;
        }
    }

    /// Forgets keys idle for longer than `idle`.
    pub fn sweep(&self, idle: Duration) {
        let now = Instant::now();
        self.keys
            .retain(|_, st| st.flush_scheduled || now.duration_since(st.touched) < idle);
    }

    /// Sweeps every `every` while the sequencer lives.
    pub fn sweep_periodically(self: &Arc<Self>, every: Duration, idle: Duration) {
        let me: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                me.sweep(idle);
            }
        });
    }

    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.keys.len()
    }
}

/// Everything held, in seq order; the next expected seq moves past it.
fn take_all<T>(st: &mut State<T>) -> Vec<T> {
    st.gap_since = None;
    let held = std::mem::take(&mut st.held);
    if let Some((&last, _)) = held.last_key_value() {
        st.next = last + 1;
    }
    held.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use ulid::Ulid;

    fn k(c: ConversationId) -> Key {
        (c, User::customer(qc_domain::UserId::new("r").unwrap()))
    }

    fn recorder() -> (Arc<Mutex<Vec<i64>>>, Deliver<i64>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        (
            log,
            Box::new(move |_: &Key, seq| l.lock().unwrap().push(seq)),
        )
    }

    fn seqs(log: &Mutex<Vec<i64>>) -> Vec<i64> {
        log.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_order_texts_are_released_in_order() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(5), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 1, 1);
        s.offer(k(c), 3, 3);
        s.offer(k(c), 4, 4);
        assert_eq!(seqs(&log), vec![1], "3 and 4 wait for 2");
        s.offer(k(c), 2, 2);
        assert_eq!(seqs(&log), vec![1, 2, 3, 4]);
        // Conversations are independent.
        let d = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(d), 1, 1);
        assert_eq!(seqs(&log), vec![1, 2, 3, 4, 1]);
    }

    /// Two nodes' racing texts: this node's own seq 2 reaches it before the
    /// other node's seq 1, and the recipient's run starts here.
    #[tokio::test(start_paused = true)]
    async fn a_run_first_seen_mid_way_waits_for_texts_still_crossing() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(1), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 2, 2);
        assert_eq!(seqs(&log), Vec::<i64>::new(), "held: 1 may be on its way");
        s.offer(k(c), 1, 1);
        tokio::time::sleep(FRESH_HOLD + Duration::from_millis(1)).await;
        assert_eq!(seqs(&log), vec![1, 2], "in order, none lost");
        // A recipient who joins mid-conversation (5 delivered long ago
        // elsewhere) gets 6 after the fresh hold, then the rest at once.
        let d = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(d), 6, 6);
        tokio::time::sleep(FRESH_HOLD + Duration::from_millis(1)).await;
        s.offer(k(d), 7, 7);
        assert_eq!(seqs(&log), vec![1, 2, 6, 7]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_that_never_fills_is_flushed_after_the_hold() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_millis(200), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 1, 1);
        s.offer(k(c), 3, 3);
        s.offer(k(c), 4, 4);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(seqs(&log), vec![1]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(seqs(&log), vec![1, 3, 4]);
        // The late 2 is dropped, not delivered after 4 (history has it).
        s.offer(k(c), 2, 2);
        s.offer(k(c), 5, 5);
        assert_eq!(seqs(&log), vec![1, 3, 4, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_gap_gets_its_full_hold_after_an_earlier_one_filled() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_millis(200), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 1, 1);
        s.offer(k(c), 3, 3); // gap at 2: a flush is scheduled for t=200
        s.offer(k(c), 2, 2); // filled at once
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.offer(k(c), 5, 5); // a new gap at 4, opened at t=150
        tokio::time::sleep(Duration::from_millis(100)).await; // t=250
        assert_eq!(seqs(&log), vec![1, 2, 3], "5 still waits for 4");
        s.offer(k(c), 4, 4);
        assert_eq!(seqs(&log), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn too_many_held_behind_a_gap_are_released_at_once() {
        let (log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(60), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 1, 1);
        for seq in 3..(3 + MAX_HELD as i64) {
            s.offer(k(c), seq, seq);
        }
        assert_eq!(seqs(&log), vec![1], "up to MAX_HELD wait");
        s.offer(k(c), 3 + MAX_HELD as i64, 3 + MAX_HELD as i64);
        assert_eq!(seqs(&log).len(), 2 + MAX_HELD, "one more releases them all");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten() {
        let (_log, deliver) = recorder();
        let s = Sequencer::new(Duration::from_secs(1), deliver);
        let c = ConversationId::from_ulid(Ulid::generate());
        s.offer(k(c), 1, 1);
        assert_eq!(s.tracked(), 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        s.sweep(Duration::from_secs(60));
        assert_eq!(s.tracked(), 0);
    }
}
