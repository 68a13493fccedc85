//! `rate` and `sweep`: an open loop. P pairs share a fixed total rate R;
//! pair i sends its k-th text at t0 + i/R + k·P/R whatever became of the
//! earlier ones, and latency runs from that scheduled time to the agent's
//! receipt, so a stalled server is charged for the whole stall (no
//! coordinated omission). After the schedule ends, what is in flight gets
//! 5 s; the rest is lost. `sweep` runs `rate` at several loads, each on a
//! fresh server, and appends one CSV line per load for `bench/plot.py`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures_util::SinkExt;
use serde_json::Value;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;

use crate::pairs::{self, Observer, Sender};
use crate::server::{Deployment, Setup, cpu_per_item};
use crate::stats::{self, Summary};
use crate::track::{self, DRAIN, Receipts, lock, tokio_at};

/// Settings of one `rate` run.
#[derive(Debug, Clone, Copy)]
pub struct RateOpts {
    pub pairs: usize,
    /// Texts per second, all pairs together.
    pub rate: f64,
    pub secs: Duration,
}

/// Settings of a `sweep`.
#[derive(Debug, Clone)]
pub struct SweepOpts {
    pub pairs: usize,
    pub secs: Duration,
    pub rates: Vec<f64>,
    pub csv: PathBuf,
    pub label: String,
}

/// When every text is due.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    t0: Instant,
    /// 1/R: the offset between consecutive pairs.
    slot: Duration,
    /// P/R: the interval between one pair's texts.
    period: Duration,
    duration: Duration,
}

impl Schedule {
    fn first(&self, pair: usize) -> Instant {
        self.t0 + self.slot * pair as u32
    }

    fn due(&self, pair: usize, n: usize) -> Instant {
        self.first(pair) + self.period * n as u32
    }

    fn end(&self) -> Instant {
        self.t0 + self.duration
    }

    /// How many texts pair `pair` sends: those due before the end.
    fn count(&self, pair: usize) -> usize {
        let span = self.duration.saturating_sub(self.slot * pair as u32);
        let count = span.as_nanos().div_ceil(self.period.as_nanos());
        usize::try_from(count).unwrap_or(usize::MAX)
    }
}

#[derive(Default)]
struct PairState {
    receipts: Receipts,
    /// Received before the schedule's end.
    in_time: u64,
    samples: Vec<u64>,
}

struct Rate {
    schedule: OnceLock<Schedule>,
    pairs: Vec<Mutex<PairState>>,
    sent: AtomicU64,
    delivered: AtomicU64,
}

impl Rate {
    fn record(&self, pair: usize, frame: &Value, at: Instant) -> Option<()> {
        let (n, seq) = track::numbered_text(frame)?;
        let schedule = self.schedule.get()?;
        if n >= schedule.count(pair) {
            return None;
        }
        let latency = stats::micros(at.saturating_duration_since(schedule.due(pair, n)));
        let mut st = lock(&self.pairs[pair]);
        if !st.receipts.book(n, seq) {
            return None;
        }
        st.samples.push(latency);
        if at < schedule.end() {
            st.in_time += 1;
        }
        drop(st);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        Some(())
    }
}

impl Observer for Rate {
    fn agent(&self, pair: usize, frame: &Value, at: Instant) {
        self.record(pair, frame, at);
    }
}

/// Pair `pair`'s client: text `n` at `schedule.due(pair, n)`, late ones at
/// once (a burst), until its share of the schedule is sent.
async fn send_on_schedule(
    rate: Arc<Rate>,
    pair: usize,
    cid: String,
    mut tx: Sender,
    schedule: Schedule,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval_at(tokio_at(schedule.first(pair)), schedule.period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for n in 0..schedule.count(pair) {
        ticks.tick().await;
        let frame = format!(r#"{{"type":"text","conversation_id":"{cid}","content":"{n}"}}"#);
        tx.send(Message::text(frame)).await?;
        rate.sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// What one `rate` run measured.
pub struct RateResult {
    /// Texts delivered before the schedule's end, per second of it.
    pub delivered_per_s: f64,
    pub latency: Summary,
    /// Texts due but not delivered within the drain: never sent, or lost.
    pub undelivered: u64,
}

/// `rate`: one run, printed.
pub async fn run(setup: &Setup, opts: RateOpts) -> anyhow::Result<()> {
    measure(setup, opts).await?;
    Ok(())
}

/// `sweep`: one `rate` run per load, each appended to the CSV file as
/// `label,offered,delivered_per_s,p50_ms,p99_ms,max_ms,lost`, where `lost`
/// counts the texts due that were not delivered within the drain.
pub async fn sweep(setup: &Setup, opts: &SweepOpts) -> anyhow::Result<()> {
    for &rate in &opts.rates {
        let one = RateOpts {
            pairs: opts.pairs,
            rate,
            secs: opts.secs,
        };
        let result = measure(setup, one).await?;
        let line = format!(
            "{},{rate:.0},{:.1},{:.3},{:.3},{:.3},{}\n",
            opts.label,
            result.delivered_per_s,
            result.latency.p50,
            result.latency.p99,
            result.latency.max,
            result.undelivered
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&opts.csv)
            .with_context(|| format!("cannot open {}", opts.csv.display()))?;
        file.write_all(line.as_bytes())?;
        println!("  appended to {}: {}", opts.csv.display(), line.trim_end());
    }
    Ok(())
}

async fn measure(setup: &Setup, opts: RateOpts) -> anyhow::Result<RateResult> {
    ensure!(opts.rate > 0.0, "--rate must be above 0");
    let period = Duration::from_secs_f64(opts.pairs as f64 / opts.rate);
    ensure!(
        period >= Duration::from_micros(1),
        "{} texts/s over {} pairs is more than one text per µs per pair",
        opts.rate,
        opts.pairs
    );
    println!(
        "rate: {} pairs, {:.0} texts/s in total (one text every {:.1} ms per pair), for {:.1} s",
        opts.pairs,
        opts.rate,
        period.as_secs_f64() * 1000.0,
        opts.secs.as_secs_f64()
    );
    let deployment = Deployment::start(setup).await?;
    let rate = Arc::new(Rate {
        schedule: OnceLock::new(),
        pairs: (0..opts.pairs).map(|_| Mutex::default()).collect(),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
    });
    let observer: Arc<dyn Observer> = rate.clone();
    let client_base = deployment.client_base();
    let agent_base = deployment.agent_base();
    let mut opened = pairs::open(client_base, agent_base, opts.pairs, observer).await?;
    pairs::settle(&deployment).await;

    let schedule = Schedule {
        t0: Instant::now() + Duration::from_millis(200),
        slot: Duration::from_secs_f64(1.0 / opts.rate),
        period,
        duration: opts.secs,
    };
    let _ = rate.schedule.set(schedule);
    let offered: u64 = (0..opts.pairs).map(|i| schedule.count(i) as u64).sum();
    let senders: Vec<_> = std::mem::take(&mut opened.senders)
        .into_iter()
        .zip(opened.cids.clone())
        .enumerate()
        .map(|(i, (tx, cid))| tokio::spawn(send_on_schedule(rate.clone(), i, cid, tx, schedule)))
        .collect();
    tokio::time::sleep_until(tokio_at(schedule.t0)).await;
    let cpu_before = deployment.cpu();
    tokio::time::sleep_until(tokio_at(schedule.end())).await;
    let rss = deployment.rss();

    // The schedule is over: senders that are behind may finish, and what is
    // in flight may arrive, until the drain deadline.
    let drain_end = schedule.end() + DRAIN;
    let cut_off = track::join_senders(senders, drain_end).await;
    let sent = rate.sent.load(Ordering::Relaxed);
    while rate.delivered.load(Ordering::Relaxed) < sent && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu_after = deployment.cpu();

    let mut total = Receipts::default();
    let mut in_time = 0;
    let mut samples = Vec::new();
    for p in &rate.pairs {
        let mut st = lock(p);
        total.absorb(&st.receipts);
        in_time += st.in_time;
        samples.append(&mut st.samples);
    }
    let latency = Summary::of(samples);
    let per_s = stats::per_sec(in_time, opts.secs.as_secs_f64());
    let lost = sent.saturating_sub(total.delivered);
    let unsent = offered.saturating_sub(sent);
    let cpu = cpu_per_item(&cpu_before, &cpu_after, total.delivered);
    let errors = opened.counters.errors();
    let closed = opened.counters.closed();
    println!(
        "  offered {offered} texts, sent {sent}; delivered {} within {} s of the end, {in_time} before it",
        total.delivered,
        DRAIN.as_secs()
    );
    println!("  delivered {per_s:.0} texts/s during the run");
    println!("  latency, scheduled send -> agent: {}", latency.human());
    println!(
        "  lost {lost} (sent, never delivered), not sent {unsent}, duplicated {}, out of order {}, error frames {errors}, sockets ended {closed}, senders failed or cut off {cut_off}",
        total.duplicated, total.out_of_order
    );
    println!(
        "  server CPU per text: {}; server RSS: {}",
        stats::per_node_human(&cpu, "µs"),
        stats::per_node_human_int(&rss, "KiB")
    );
    deployment.print_metrics().await;
    println!(
        "RESULT scenario=rate {} pairs={} rate={:.0} secs={:.1} offered={offered} sent={sent} delivered={} delivered_per_s={per_s:.1} {} lost={lost} unsent={unsent} dup={} ooo={} errors={errors} closed={closed} {} {}",
        setup.kv(),
        opts.pairs,
        opts.rate,
        opts.secs.as_secs_f64(),
        total.delivered,
        latency.kv(),
        total.duplicated,
        total.out_of_order,
        stats::per_node_kv("cpu_us_per_text", &cpu),
        stats::per_node_kv_int("rss_kib", &rss)
    );
    Ok(RateResult {
        delivered_per_s: per_s,
        latency,
        undelivered: offered.saturating_sub(total.delivered),
    })
}
