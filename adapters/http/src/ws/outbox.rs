//! A connection's bounded outbound queue.
//!
//! The hub delivers into it without waiting; a writer task drains it into
//! the socket. Frames are shared buffers ([`Frame`]): queuing one for many
//! connections copies nothing. When it reaches its bound (frames or bytes,
//! whichever first), the peer has stopped reading: the outbox refuses
//! everything from then on and signals the connection to close with 4002.
//! Nobody else waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::frames::Frame;

pub struct Outbox {
    tx: mpsc::Sender<Frame>,
    /// Bytes queued and not yet taken by the writer.
    bytes: AtomicUsize,
    max_bytes: usize,
    overflowed: AtomicBool,
    /// Cancelled on overflow: the connection closes with 4002.
    overflow: CancellationToken,
}

impl Outbox {
    pub fn new(max_frames: usize, max_bytes: usize) -> (Arc<Self>, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(max_frames.max(1));
        let outbox = Arc::new(Self {
            tx,
            bytes: AtomicUsize::new(0),
            max_bytes,
            overflowed: AtomicBool::new(false),
            overflow: CancellationToken::new(),
        });
        (outbox, rx)
    }

    /// Queues a frame; returns false (and trips the overflow) when full.
    pub fn push(&self, frame: Frame) -> bool {
        if self.overflowed.load(Ordering::Acquire) {
            return false;
        }
        let len = frame.len();
        let before = self.bytes.fetch_add(len, Ordering::AcqRel);
        if before + len > self.max_bytes || self.tx.try_send(frame).is_err() {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            if !self.overflowed.swap(true, Ordering::AcqRel) {
                self.overflow.cancel();
            }
            return false;
        }
        true
    }

    /// The writer took `len` bytes off the queue.
    pub fn taken(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    pub fn overflow_signal(&self) -> CancellationToken {
        self.overflow.clone()
    }

    #[cfg(test)]
    pub fn has_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
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
        assert!(!o.push("d".into()));
    }

    #[test]
    fn byte_bound_counts_what_the_writer_has_not_taken() {
        let (o, mut rx) = Outbox::new(100, 10);
        assert!(o.push("12345".into()));
        let f = rx.try_recv().unwrap();
        o.taken(f.len());
        assert!(o.push("1234567890".into()), "exactly the bound fits");
        assert!(!o.push("x".into()));
        assert!(o.has_overflowed());
    }
}
