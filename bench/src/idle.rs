//! `idle`: N idle client connections, each a distinct client user, from
//! source addresses 127.0.0.2, 127.0.0.3, … (2,000 each), with at most H
//! handshakes at once. Reports each handshake's time (TCP connect start to
//! the 101 response), then the server's resident memory before any
//! connection and 2 s after the last one, and per connection. Every socket
//! keeps being read meanwhile, so the server's pings are answered.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::pairs::{self, Socket};
use crate::server::{Deployment, Setup};
use crate::stats::{self, Summary};

/// Connections per source address.
const PER_ADDRESS: usize = 2000;

/// Settings of an `idle` run.
#[derive(Debug, Clone, Copy)]
pub struct IdleOpts {
    pub count: usize,
    /// Handshakes in flight at most.
    pub handshakes: usize,
}

pub async fn run(setup: &Setup, opts: IdleOpts) -> anyhow::Result<()> {
    println!(
        "idle: {} connections, at most {} handshakes at once, {PER_ADDRESS} per source address",
        opts.count, opts.handshakes
    );
    let deployment = Deployment::start(setup).await?;
    let base = deployment.client_base().to_owned();
    let server: SocketAddr = base.parse()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = deployment.rss()[0];

    // Small buffers: this process holds every connection too.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let tag = ulid::Ulid::generate().to_string();
    let permits = Arc::new(Semaphore::new(opts.handshakes.max(1)));
    let open_now = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<Duration, String>>();
    let mut sockets = JoinSet::new();
    let started = Instant::now();
    for i in 0..opts.count {
        let permit = permits.clone().acquire_owned().await?;
        let host = u8::try_from(2 + i / PER_ADDRESS)
            .ok()
            .filter(|h| *h < 255)
            .context("too many connections for the source addresses 127.0.0.2 to .254")?;
        let source = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), 0));
        let tok = pairs::token("client", &format!("idle-{tag}-{i}"));
        let base = base.clone();
        let done = done_tx.clone();
        let open_now = open_now.clone();
        sockets.spawn(async move {
            let begun = Instant::now();
            let opened = open(server, source, &base, &tok, config).await;
            let took = begun.elapsed();
            drop(permit);
            match opened {
                Ok(mut socket) => {
                    open_now.fetch_add(1, Ordering::Relaxed);
                    let _ = done.send(Ok(took));
                    drop(done);
                    while let Some(Ok(_)) = socket.next().await {}
                    open_now.fetch_sub(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = done.send(Err(format!("{e:#}")));
                }
            }
        });
    }
    drop(done_tx);

    let mut handshakes = Vec::with_capacity(opts.count);
    let mut failures = 0;
    for _ in 0..opts.count {
        match done_rx.recv().await {
            Some(Ok(took)) => handshakes.push(stats::micros(took)),
            Some(Err(e)) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!("  handshake failed: {e}");
                }
            }
            None => break,
        }
    }
    let all_open = started.elapsed().as_secs_f64();
    let opened = handshakes.len() as u64;
    let latency = Summary::of(handshakes);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = deployment.rss()[0];
    let still_open = open_now.load(Ordering::Relaxed);
    let per_conn = after.saturating_sub(before) as f64 / opened.max(1) as f64;

    println!(
        "  opened {opened} in {all_open:.1} s ({:.0} per s), {failures} failed",
        stats::per_sec(opened, all_open)
    );
    println!("  handshake, connect -> 101: {}", latency.human());
    println!(
        "  server RSS before: {before} KiB, 2 s after: {after} KiB, per connection: {per_conn:.1} KiB; still open: {still_open}"
    );
    println!(
        "RESULT scenario=idle {} connections={} opened={opened} failures={failures} handshakes_in_flight={} {} rss_before_kib={before} rss_after_kib={after} kib_per_conn={per_conn:.2} still_open={still_open}",
        setup.kv(),
        opts.count,
        opts.handshakes,
        latency.kv()
    );
    drop(sockets);
    Ok(())
}

/// TCP from `source` to `server`, then the WebSocket handshake.
async fn open(
    server: SocketAddr,
    source: SocketAddr,
    base: &str,
    tok: &str,
    config: WebSocketConfig,
) -> anyhow::Result<Socket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source)?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    pairs::handshake(stream, base, "/chats/clients", tok, Some(config)).await
}
