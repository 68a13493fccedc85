//! `texts`: a closed loop. P pairs; each client keeps W texts in flight
//! (sent, and not yet received by its agent) for a warm-up and then a
//! measured window. Latency runs from the client's send to the agent's
//! receipt. The client's own echoes are read (and counted) all along.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::pairs::{self, Observer, Sender};
use crate::server::{Deployment, Setup, cpu_per_item};
use crate::stats::{self, Summary, Window};
use crate::track::{self, DRAIN, Receipts, lock, tokio_at};

/// Settings of a closed-loop run (`texts`, `typing`).
#[derive(Debug, Clone, Copy)]
pub struct ClosedLoop {
    pub pairs: usize,
    /// Frames in flight per pair.
    pub window: usize,
    pub warmup: Duration,
    pub secs: Duration,
}

impl ClosedLoop {
    /// The measured window of a run starting now.
    pub fn window_from_now(&self) -> Window {
        let start = Instant::now() + self.warmup;
        Window {
            start,
            end: start + self.secs,
        }
    }
}

#[derive(Default)]
struct PairState {
    sent_at: Vec<Instant>,
    receipts: Receipts,
    in_window: u64,
    samples: Vec<u64>,
}

struct Texts {
    window: OnceLock<Window>,
    pairs: Vec<Mutex<PairState>>,
    permits: Vec<Semaphore>,
    delivered: AtomicU64,
    echoes: AtomicU64,
}

impl Texts {
    /// Books a text received by pair `pair`'s agent; `None` when it is not
    /// one of this run's, or a duplicate.
    fn record(&self, pair: usize, frame: &Value, at: Instant) -> Option<()> {
        let (n, seq) = track::numbered_text(frame)?;
        let window = self.window.get()?;
        let mut st = lock(&self.pairs[pair]);
        let sent = *st.sent_at.get(n)?;
        if !st.receipts.book(n, seq) {
            return None;
        }
        if window.contains(at) {
            st.in_window += 1;
            let latency = stats::micros(at.saturating_duration_since(sent));
            st.samples.push(latency);
        }
        drop(st);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.permits[pair].add_permits(1);
        Some(())
    }
}

impl Observer for Texts {
    fn agent(&self, pair: usize, frame: &Value, at: Instant) {
        self.record(pair, frame, at);
    }

    fn client(&self, _pair: usize, frame: &Value, _at: Instant) {
        if frame["type"] == "text" {
            self.echoes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Pair `pair`'s client: a text whenever one of its W permits is free,
/// until `end`.
async fn send_texts(
    texts: Arc<Texts>,
    pair: usize,
    cid: String,
    mut tx: Sender,
    end: Instant,
) -> anyhow::Result<()> {
    loop {
        match tokio::time::timeout_at(tokio_at(end), texts.permits[pair].acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return Ok(()),
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        let n = {
            let mut st = lock(&texts.pairs[pair]);
            st.sent_at.push(now);
            st.sent_at.len() - 1
        };
        let frame = format!(r#"{{"type":"text","conversation_id":"{cid}","content":"{n}"}}"#);
        tx.send(Message::text(frame)).await?;
    }
}

pub async fn run(setup: &Setup, opts: ClosedLoop) -> anyhow::Result<()> {
    println!(
        "texts: {} pairs, {} texts in flight per pair, {:.1} s measured after {:.1} s of warm-up",
        opts.pairs,
        opts.window,
        opts.secs.as_secs_f64(),
        opts.warmup.as_secs_f64()
    );
    let deployment = Deployment::start(setup).await?;
    let texts = Arc::new(Texts {
        window: OnceLock::new(),
        pairs: (0..opts.pairs).map(|_| Mutex::default()).collect(),
        permits: (0..opts.pairs)
            .map(|_| Semaphore::new(opts.window))
            .collect(),
        delivered: AtomicU64::new(0),
        echoes: AtomicU64::new(0),
    });
    let observer: Arc<dyn Observer> = texts.clone();
    let client_base = deployment.client_base();
    let agent_base = deployment.agent_base();
    let mut opened = pairs::open(client_base, agent_base, opts.pairs, observer).await?;
    pairs::settle(&deployment).await;

    let window = opts.window_from_now();
    let _ = texts.window.set(window);
    let senders: Vec<_> = std::mem::take(&mut opened.senders)
        .into_iter()
        .zip(opened.cids.clone())
        .enumerate()
        .map(|(i, (tx, cid))| tokio::spawn(send_texts(texts.clone(), i, cid, tx, window.end)))
        .collect();
    tokio::time::sleep_until(tokio_at(window.start)).await;
    let cpu_before = deployment.cpu();
    tokio::time::sleep_until(tokio_at(window.end)).await;
    let cpu_after = deployment.cpu();
    let rss = deployment.rss();

    // Stop sending; wait (boundedly) for what is still in flight.
    let drain_end = window.end + DRAIN;
    let failed = track::join_senders(senders, drain_end).await;
    let sent: u64 = texts
        .pairs
        .iter()
        .map(|p| lock(p).sent_at.len() as u64)
        .sum();
    while texts.delivered.load(Ordering::Relaxed) < sent && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut total = Receipts::default();
    let mut in_window = 0;
    let mut samples = Vec::new();
    for p in &texts.pairs {
        let mut st = lock(p);
        total.absorb(&st.receipts);
        in_window += st.in_window;
        samples.append(&mut st.samples);
    }
    let latency = Summary::of(samples);
    let per_s = stats::per_sec(in_window, window.secs());
    let lost = sent.saturating_sub(total.delivered);
    let cpu = cpu_per_item(&cpu_before, &cpu_after, in_window);
    let echoes = texts.echoes.load(Ordering::Relaxed);
    let errors = opened.counters.errors();
    let closed = opened.counters.closed();
    println!(
        "  delivered {per_s:.0} texts/s ({in_window} in {:.1} s); {sent} sent in all, {echoes} echoes seen by the senders",
        window.secs()
    );
    println!("  latency, send -> agent: {}", latency.human());
    println!(
        "  lost {lost}, duplicated {}, out of order {}, error frames {errors}, sockets ended {closed}, senders failed {failed}",
        total.duplicated, total.out_of_order
    );
    println!(
        "  server CPU per text: {}; server RSS: {}",
        stats::per_node_human(&cpu, "µs"),
        stats::per_node_human_int(&rss, "KiB")
    );
    deployment.print_metrics().await;
    println!(
        "RESULT scenario=texts {} pairs={} window={} secs={:.1} delivered_per_s={per_s:.1} {} sent={sent} delivered={} lost={lost} dup={} ooo={} errors={errors} closed={closed} echoes={echoes} {} {}",
        setup.kv(),
        opts.pairs,
        opts.window,
        window.secs(),
        latency.kv(),
        total.delivered,
        total.duplicated,
        total.out_of_order,
        stats::per_node_kv("cpu_us_per_text", &cpu),
        stats::per_node_kv_int("rss_kib", &rss)
    );
    Ok(())
}
