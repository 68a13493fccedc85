//! A connection's bounded outbound queue.
//!
//! The hub delivers into it without waiting; a writer task drains it into
//! the socket. Frames are shared buffers ([`Frame`]): queuing one for many
//! connections copies nothing. When it reaches its bound (frames or bytes,
//! whichever first), the peer has stopped reading: the outbox refuses
//! everything from then on and signals the connection to close with 4002.
//! Nobody else waits on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::frames::Frame;

/// A plain deque under this connection's own lock rather than a channel: an
/// idle connection's queue allocates nothing (a bounded channel allocates
/// its first block of slots up front, about 1 KiB), and the writer takes
/// everything queued in one step.
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the writer; a push while it is busy leaves a permit.
    ready: Notify,
    max_frames: usize,
    max_bytes: usize,
    overflowed: AtomicBool,
    /// Cancelled on overflow: the connection closes with 4002.
    overflow: CancellationToken,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Frame>,
    /// Bytes queued and not yet taken by the writer.
    bytes: usize,
}

/// The writer's end of an [`Outbox`].
pub struct Receiver(Arc<Outbox>);

impl Outbox {
    pub fn new(max_frames: usize, max_bytes: usize) -> (Arc<Self>, Receiver) {
        let outbox = Arc::new(Self {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            max_frames: max_frames.max(1),
            max_bytes,
            overflowed: AtomicBool::new(false),
            overflow: CancellationToken::new(),
        });
        (outbox.clone(), Receiver(outbox))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding it leaves a consistent queue (push and take
        // are single steps), so a poisoned lock is still usable.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a frame; returns false (and trips the overflow) when full.
    pub fn push(&self, frame: Frame) -> bool {
        if self.overflowed.load(Ordering::Acquire) {
            return false;
        }
        let len = frame.len();
        {
            let mut q = self.lock();
            if q.frames.len() >= self.max_frames || q.bytes + len > self.max_bytes {
                drop(q);
                if !self.overflowed.swap(true, Ordering::AcqRel) {
                    self.overflow.cancel();
                }
                return false;
            }
            q.bytes += len;
            q.frames.push_back(frame);
        }
        self.ready.notify_one();
        true
    }

    pub fn overflow_signal(&self) -> CancellationToken {
        self.overflow.clone()
    }

    #[cfg(test)]
    pub fn has_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }
}

impl Receiver {
    /// Waits for frames, then moves up to `limit` of them into `into`.
    /// Returns how many (never 0).
    pub async fn recv_many(&mut self, into: &mut Vec<Frame>, limit: usize) -> usize {
        loop {
            {
                let mut q = self.0.lock();
                let n = q.frames.len().min(limit);
                if n > 0 {
                    let q = &mut *q;
                    for frame in q.frames.drain(..n) {
                        q.bytes -= frame.len();
                        into.push(frame);
                    }
                    if q.frames.is_empty() {
                        // Give a burst's memory back once it is sent.
                        q.frames.shrink_to(8);
                    }
                    return n;
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// The next queued frame, if any (tests).
    pub fn try_recv(&mut self) -> Option<Frame> {
        let mut q = self.0.lock();
        let frame = q.frames.pop_front()?;
        q.bytes -= frame.len();
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bound_trips_overflow_once() {
        let (o, mut rx) = Outbox::new(2, 1 << 20);
        assert!(o.push("a".into()));
        assert!(o.push("b".into()));
        assert!(!o.overflow_signal().is_cancelled());
        assert!(!o.push("c".into()));
        assert!(o.has_overflowed());
        assert!(o.overflow_signal().is_cancelled());
        // Once overflowed, nothing more is queued even after draining.
        rx.try_recv().unwrap();
        rx.try_recv().unwrap();
        assert!(!o.push("d".into()));
    }

    #[tokio::test]
    async fn the_writer_takes_what_is_queued_in_one_step_and_waits_when_empty() {
        let (o, mut rx) = Outbox::new(100, 1 << 20);
        o.push("a".into());
        o.push("b".into());
        let mut got = Vec::new();
        assert_eq!(rx.recv_many(&mut got, 10).await, 2);
        let waiting = tokio::spawn(async move {
            let mut more = Vec::new();
            rx.recv_many(&mut more, 10).await;
            more
        });
        tokio::task::yield_now().await;
        o.push("c".into());
        let more = waiting.await.unwrap();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].as_str(), "c");
    }

    #[test]
    fn byte_bound_counts_what_the_writer_has_not_taken() {
        let (o, mut rx) = Outbox::new(100, 10);
        assert!(o.push("12345".into()));
        rx.try_recv().unwrap();
        assert!(o.push("1234567890".into()), "exactly the bound fits");
        assert!(!o.push("x".into()));
        assert!(o.has_overflowed());
    }
}
