//! Latency percentiles, measurement windows, and the small formatting
//! helpers every scenario uses for its human-readable lines and its
//! machine-readable `RESULT` line.

use std::time::{Duration, Instant};

/// Percentiles of a set of latency samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises samples given in microseconds (nearest-rank percentiles).
    pub fn of(mut micros: Vec<u64>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let len = micros.len();
        let pick = |p: f64| {
            let rank = ((len as f64) * p).ceil() as usize;
            micros[rank.clamp(1, len) - 1] as f64 / 1000.0
        };
        Self {
            count: len,
            p50: pick(0.50),
            p95: pick(0.95),
            p99: pick(0.99),
            max: pick(1.0),
        }
    }

    /// `p50 1.23 ms, p95 …, p99 …, max … (N samples)`.
    pub fn human(&self) -> String {
        format!(
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.p50, self.p95, self.p99, self.max, self.count
        )
    }

    /// `p50_ms=… p95_ms=… p99_ms=… max_ms=…`.
    pub fn kv(&self) -> String {
        format!(
            "p50_ms={:.3} p95_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// A duration in whole microseconds.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The measured part of a run: `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        (self.start..self.end).contains(&t)
    }

    pub fn secs(&self) -> f64 {
        self.end.duration_since(self.start).as_secs_f64()
    }
}

/// `count / secs`, 0 for an empty window.
pub fn per_sec(count: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    count as f64 / secs
}

/// Per-node figures as `key=v` (one node) or `key_node1=v key_node2=w`.
pub fn per_node_kv(key: &str, values: &[f64]) -> String {
    if values.len() == 1 {
        return format!("{key}={:.1}", values[0]);
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{key}_node{}={v:.1}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Per-node figures as `12.3 µs` (one node) or `node 1: 12.3 µs, node 2: 4.5 µs`.
pub fn per_node_human(values: &[f64], unit: &str) -> String {
    if values.len() == 1 {
        return format!("{:.1} {unit}", values[0]);
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("node {}: {v:.1} {unit}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Integer per-node figures (RSS in KiB) as `rss_kib=…` or `rss_kib_node1=…`.
pub fn per_node_kv_int(key: &str, values: &[u64]) -> String {
    if values.len() == 1 {
        return format!("{key}={}", values[0]);
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{key}_node{}={v}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Integer per-node figures as `1234 KiB` or `node 1: 1234 KiB, node 2: …`.
pub fn per_node_human_int(values: &[u64], unit: &str) -> String {
    if values.len() == 1 {
        return format!("{} {unit}", values[0]);
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("node {}: {v} {unit}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}
