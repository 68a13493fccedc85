//! What the scenarios share besides the sockets: locking, timers, the
//! bounded drain at the end of a run, and each agent socket's record of the
//! numbered texts it received (duplicates, order).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;

/// How long after the end of sending a run waits for what is in flight.
pub const DRAIN: Duration = Duration::from_secs(5);

/// Locks a mutex, ignoring poisoning (a task that panicked failed the run).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `std` to `tokio` instant, for the timers.
pub fn tokio_at(t: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(t)
}

/// Waits for the sender tasks until `deadline`, then aborts those still
/// running. Returns how many failed or were cut off.
pub async fn join_senders(tasks: Vec<JoinHandle<anyhow::Result<()>>>, deadline: Instant) -> u64 {
    let mut failed = 0;
    for mut task in tasks {
        let problem = match tokio::time::timeout_at(tokio_at(deadline), &mut task).await {
            Ok(Ok(Ok(()))) => continue,
            Ok(Ok(Err(e))) => format!("{e:#}"),
            Ok(Err(e)) => e.to_string(),
            Err(_) => {
                task.abort();
                "still sending at the drain deadline".to_owned()
            }
        };
        failed += 1;
        if failed <= 3 {
            eprintln!("  sender: {problem}");
        }
    }
    failed
}

/// The counter `n` (its content) and `payload.seq` of a text frame.
pub fn numbered_text(frame: &Value) -> Option<(usize, Option<i64>)> {
    if frame["type"] != "text" {
        return None;
    }
    let payload = &frame["payload"];
    let n = payload["content"].as_str()?.parse().ok()?;
    Some((n, payload["seq"].as_i64()))
}

/// One agent socket's record of its pair's numbered texts.
#[derive(Debug, Default)]
pub struct Receipts {
    got: Vec<bool>,
    last_n: Option<usize>,
    last_seq: Option<i64>,
    /// Distinct texts received.
    pub delivered: u64,
    /// Texts received again.
    pub duplicated: u64,
    /// Texts with a lower `n` than the one before, or a `seq` not above it.
    pub out_of_order: u64,
}

impl Receipts {
    /// Books text `n`; false when it had been received already.
    pub fn book(&mut self, n: usize, seq: Option<i64>) -> bool {
        if n >= self.got.len() {
            self.got.resize(n + 1, false);
        }
        if self.got[n] {
            self.duplicated += 1;
            return false;
        }
        self.got[n] = true;
        let behind = self.last_n.is_some_and(|prev| n < prev)
            || seq.zip(self.last_seq).is_some_and(|(s, prev)| s <= prev);
        if behind {
            self.out_of_order += 1;
        }
        self.last_n = Some(n);
        self.last_seq = seq.or(self.last_seq);
        self.delivered += 1;
        true
    }

    /// Adds another socket's counts to these.
    pub fn absorb(&mut self, other: &Self) {
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
    }
}
