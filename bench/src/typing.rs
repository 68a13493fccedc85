//! `typing`: a closed loop of typing indicators. Each client sends
//! `typing_started` and `typing_stopped` alternately with W in flight (sent,
//! not yet received by its agent). Indicators are not stored and not echoed
//! to the sender; they carry no counter, so each one the agent receives is
//! matched with the oldest one in flight on its pair (they arrive in order).

use std::collections::VecDeque;
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
use crate::texts::ClosedLoop;
use crate::track::{self, DRAIN, lock, tokio_at};

#[derive(Default)]
struct PairState {
    /// Send times of the indicators in flight, oldest first.
    pending: VecDeque<Instant>,
    sent: u64,
    delivered: u64,
    in_window: u64,
    /// Received `typing_started` where `typing_stopped` was due, or back.
    out_of_order: u64,
    /// Received with none in flight.
    unexpected: u64,
    expect_stopped: bool,
    samples: Vec<u64>,
}

struct Typing {
    window: OnceLock<Window>,
    pairs: Vec<Mutex<PairState>>,
    permits: Vec<Semaphore>,
    delivered: AtomicU64,
}

impl Typing {
    fn record(&self, pair: usize, frame: &Value, at: Instant) -> Option<()> {
        if frame["type"] != "system" {
            return None;
        }
        let started = match frame["sub_type"].as_str()? {
            "typing_started" => true,
            "typing_stopped" => false,
            _ => return None,
        };
        let window = self.window.get()?;
        let mut st = lock(&self.pairs[pair]);
        let Some(sent) = st.pending.pop_front() else {
            st.unexpected += 1;
            return None;
        };
        if started == st.expect_stopped {
            st.out_of_order += 1;
        }
        st.expect_stopped = started;
        st.delivered += 1;
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

impl Observer for Typing {
    fn agent(&self, pair: usize, frame: &Value, at: Instant) {
        self.record(pair, frame, at);
    }
}

fn typing_frame(cid: &str, sub_type: &str) -> String {
    format!(r#"{{"type":"system","sub_type":"{sub_type}","conversation_id":"{cid}"}}"#)
}

/// Pair `pair`'s client: an indicator whenever one of its W permits is
/// free, until `end`.
async fn send_typing(
    typing: Arc<Typing>,
    pair: usize,
    cid: String,
    mut tx: Sender,
    end: Instant,
) -> anyhow::Result<()> {
    let started = typing_frame(&cid, "typing_started");
    let stopped = typing_frame(&cid, "typing_stopped");
    let mut start_next = true;
    loop {
        match tokio::time::timeout_at(tokio_at(end), typing.permits[pair].acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return Ok(()),
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        {
            let mut st = lock(&typing.pairs[pair]);
            st.pending.push_back(now);
            st.sent += 1;
        }
        let frame = if start_next { &started } else { &stopped };
        start_next = !start_next;
        tx.send(Message::text(frame.clone())).await?;
    }
}

pub async fn run(setup: &Setup, opts: ClosedLoop) -> anyhow::Result<()> {
    println!(
        "typing: {} pairs, {} indicators in flight per pair, {:.1} s measured after {:.1} s of warm-up",
        opts.pairs,
        opts.window,
        opts.secs.as_secs_f64(),
        opts.warmup.as_secs_f64()
    );
    let deployment = Deployment::start(setup).await?;
    let typing = Arc::new(Typing {
        window: OnceLock::new(),
        pairs: (0..opts.pairs).map(|_| Mutex::default()).collect(),
        permits: (0..opts.pairs)
            .map(|_| Semaphore::new(opts.window))
            .collect(),
        delivered: AtomicU64::new(0),
    });
    let observer: Arc<dyn Observer> = typing.clone();
    let client_base = deployment.client_base();
    let agent_base = deployment.agent_base();
    let mut opened = pairs::open(client_base, agent_base, opts.pairs, observer).await?;
    pairs::settle(&deployment).await;

    let window = opts.window_from_now();
    let _ = typing.window.set(window);
    let senders: Vec<_> = std::mem::take(&mut opened.senders)
        .into_iter()
        .zip(opened.cids.clone())
        .enumerate()
        .map(|(i, (tx, cid))| tokio::spawn(send_typing(typing.clone(), i, cid, tx, window.end)))
        .collect();
    tokio::time::sleep_until(tokio_at(window.start)).await;
    let cpu_before = deployment.cpu();
    tokio::time::sleep_until(tokio_at(window.end)).await;
    let cpu_after = deployment.cpu();
    let rss = deployment.rss();

    let drain_end = window.end + DRAIN;
    let failed = track::join_senders(senders, drain_end).await;
    let sent: u64 = typing.pairs.iter().map(|p| lock(p).sent).sum();
    while typing.delivered.load(Ordering::Relaxed) < sent && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (mut delivered, mut in_window, mut out_of_order, mut unexpected) = (0, 0, 0, 0);
    let mut samples = Vec::new();
    for p in &typing.pairs {
        let mut st = lock(p);
        delivered += st.delivered;
        in_window += st.in_window;
        out_of_order += st.out_of_order;
        unexpected += st.unexpected;
        samples.append(&mut st.samples);
    }
    let latency = Summary::of(samples);
    let per_s = stats::per_sec(in_window, window.secs());
    let lost = sent.saturating_sub(delivered);
    let cpu = cpu_per_item(&cpu_before, &cpu_after, in_window);
    let errors = opened.counters.errors();
    let closed = opened.counters.closed();
    println!(
        "  delivered {per_s:.0} indicators/s ({in_window} in {:.1} s); {sent} sent in all",
        window.secs()
    );
    println!("  latency, send -> agent: {}", latency.human());
    println!(
        "  lost {lost}, out of order {out_of_order}, unexpected {unexpected}, error frames {errors}, sockets ended {closed}, senders failed {failed}"
    );
    println!(
        "  server CPU per delivery: {}; server RSS: {}",
        stats::per_node_human(&cpu, "µs"),
        stats::per_node_human_int(&rss, "KiB")
    );
    deployment.print_metrics().await;
    println!(
        "RESULT scenario=typing {} pairs={} window={} secs={:.1} delivered_per_s={per_s:.1} {} sent={sent} delivered={delivered} lost={lost} ooo={out_of_order} unexpected={unexpected} errors={errors} closed={closed} {} {}",
        setup.kv(),
        opts.pairs,
        opts.window,
        window.secs(),
        latency.kv(),
        stats::per_node_kv("cpu_us_per_delivery", &cpu),
        stats::per_node_kv_int("rss_kib", &rss)
    );
    Ok(())
}
