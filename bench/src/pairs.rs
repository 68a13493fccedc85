//! Users, tokens and sockets. A pair is one client user and one support
//! user sharing one conversation, opened by the client and claimed by the
//! agent over HTTP. Pairs are set up with bounded concurrency, and every
//! socket gets a reader task from the moment it opens, which hands each
//! frame to the scenario's [`Observer`], so broadcasts during the setup
//! (presence) never back up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The HS256 secret given to the servers and signing every token.
pub const SECRET: &str = "bench-secret-bench-secret-bench-secret-01";

/// How many HTTP calls, or WebSocket handshakes, of a setup run at once.
const SETUP_CONCURRENCY: usize = 32;

/// A chat socket.
pub type Socket = WebSocketStream<TcpStream>;

/// The write half of a chat socket.
pub type Sender = SplitSink<Socket, Message>;

/// A token signed with [`SECRET`] for `sub` with `role`, valid for 2 hours.
pub fn token(role: &str, sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "role": role, "exp": now + 7200 }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token")
}

/// The WebSocket handshake, as `tok`'s user, on an open TCP stream.
pub async fn handshake(
    stream: TcpStream,
    base: &str,
    path: &str,
    tok: &str,
    config: Option<WebSocketConfig>,
) -> anyhow::Result<Socket> {
    let mut req = format!("ws://{base}{path}").into_client_request()?;
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {tok}"))?,
    );
    let (socket, _response) =
        tokio_tungstenite::client_async_with_config(req, stream, config).await?;
    Ok(socket)
}

async fn connect(base: &str, path: &str, tok: &str) -> anyhow::Result<Socket> {
    let stream = TcpStream::connect(base).await?;
    stream.set_nodelay(true)?;
    handshake(stream, base, path, tok, None).await
}

/// What a scenario does with the frames its sockets receive. Error frames
/// never reach it: they are counted in [`Counters`].
pub trait Observer: Send + Sync + 'static {
    /// A frame on pair `pair`'s agent socket, received at `at`.
    fn agent(&self, pair: usize, frame: &Value, at: Instant);

    /// A frame on pair `pair`'s client socket (the echoes of its texts).
    fn client(&self, _pair: usize, _frame: &Value, _at: Instant) {}
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Client,
    Agent,
}

/// What went wrong on the sockets over the whole run.
#[derive(Debug, Default)]
pub struct Counters {
    errors: AtomicU64,
    closed: AtomicU64,
    stopping: AtomicBool,
}

impl Counters {
    /// `system/error` frames, and frames that were not JSON.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Sockets that ended before the run did.
    pub fn closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }

    fn record_error(&self, side: Side, pair: usize, text: &str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("  error frame on pair {pair} ({side:?} socket): {text}");
        }
    }

    fn record_close(&self, side: Side, pair: usize, why: &str) {
        if self.stopping.load(Ordering::Relaxed) {
            return;
        }
        if self.closed.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("  socket of pair {pair} ({side:?}) ended: {why}");
        }
    }
}

/// Open pairs: their conversations, the clients' write halves (for the
/// scenario's senders to take), and the reader tasks, stopped on drop.
pub struct Pairs {
    pub cids: Vec<String>,
    pub senders: Vec<Sender>,
    pub counters: Arc<Counters>,
    _agents: Vec<Sender>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Pairs {
    fn drop(&mut self) {
        self.counters.stopping.store(true, Ordering::Relaxed);
        for reader in &self.readers {
            reader.abort();
        }
    }
}

struct Targets<'a> {
    client_base: &'a str,
    agent_base: &'a str,
    observer: Arc<dyn Observer>,
    counters: Arc<Counters>,
}

struct Opened {
    client: Sender,
    agent: Sender,
    readers: [JoinHandle<()>; 2],
}

/// Opens `count` pairs: the clients' HTTP calls and sockets go to
/// `client_base`, the agents' to `agent_base`. All conversations are opened
/// and claimed before any socket connects, so no socket sees the queue's
/// broadcasts.
pub async fn open(
    client_base: &str,
    agent_base: &str,
    count: usize,
    observer: Arc<dyn Observer>,
) -> anyhow::Result<Pairs> {
    let started = Instant::now();
    let http = reqwest::Client::new();
    // Distinct users in every run, also when nodes share one database.
    let tag = ulid::Ulid::generate().to_string();
    let convs: Vec<anyhow::Result<(String, String, String)>> = stream::iter(0..count)
        .map(|i| conversation(&http, client_base, agent_base, &tag, i))
        .buffered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let convs = convs.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let targets = Targets {
        client_base,
        agent_base,
        observer,
        counters: Arc::new(Counters::default()),
    };
    let opened: Vec<anyhow::Result<Opened>> = stream::iter(convs.iter().enumerate())
        .map(|(i, (_, client, agent))| open_sockets(&targets, i, client, agent))
        .buffered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let mut pairs = Pairs {
        cids: Vec::with_capacity(count),
        senders: Vec::with_capacity(count),
        counters: targets.counters.clone(),
        _agents: Vec::with_capacity(count),
        readers: Vec::with_capacity(2 * count),
    };
    for ((cid, _, _), opened) in convs.into_iter().zip(opened) {
        let opened = opened?;
        pairs.cids.push(cid);
        pairs.senders.push(opened.client);
        pairs._agents.push(opened.agent);
        pairs.readers.extend(opened.readers);
    }
    println!(
        "  setup: {count} pairs (conversation opened and claimed, both sockets open) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(pairs)
}

/// Opens and claims pair `i`'s conversation. Returns its id and the
/// client's and agent's tokens.
async fn conversation(
    http: &reqwest::Client,
    client_base: &str,
    agent_base: &str,
    tag: &str,
    i: usize,
) -> anyhow::Result<(String, String, String)> {
    let client = token("client", &format!("c-{tag}-{i}"));
    let agent = token("support", &format!("a-{tag}-{i}"));
    let resp = http
        .post(format!("http://{client_base}/conversations"))
        .bearer_auth(&client)
        .json(&json!({}))
        .send()
        .await?;
    let conv: Value = checked(resp, "POST /conversations").await?.json().await?;
    let cid = conv["id"]
        .as_str()
        .context("no id in the conversation")?
        .to_owned();
    let resp = http
        .post(format!("http://{agent_base}/conversations/{cid}/assign"))
        .bearer_auth(&agent)
        .json(&json!({}))
        .send()
        .await?;
    checked(resp, "POST /conversations/:id/assign").await?;
    Ok((cid, client, agent))
}

async fn checked(resp: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    bail!("{what}: HTTP {status}: {body}")
}

async fn open_sockets(
    targets: &Targets<'_>,
    pair: usize,
    client: &str,
    agent: &str,
) -> anyhow::Result<Opened> {
    let agent_socket = connect(targets.agent_base, "/chats/supports", agent)
        .await
        .context("agent socket")?;
    let (agent_tx, agent_rx) = agent_socket.split();
    let agent_reader = spawn_reader(agent_rx, Side::Agent, pair, targets);
    let client_socket = connect(targets.client_base, "/chats/clients", client)
        .await
        .context("client socket")?;
    let (client_tx, client_rx) = client_socket.split();
    let client_reader = spawn_reader(client_rx, Side::Client, pair, targets);
    Ok(Opened {
        client: client_tx,
        agent: agent_tx,
        readers: [agent_reader, client_reader],
    })
}

fn spawn_reader(
    mut rx: SplitStream<Socket>,
    side: Side,
    pair: usize,
    targets: &Targets<'_>,
) -> JoinHandle<()> {
    let observer = targets.observer.clone();
    let counters = targets.counters.clone();
    tokio::spawn(async move {
        while let Some(msg) = rx.next().await {
            let text = match msg {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(frame)) => {
                    counters.record_close(side, pair, &format!("close frame {frame:?}"));
                    return;
                }
                Ok(_) => continue,
                Err(e) => {
                    counters.record_close(side, pair, &e.to_string());
                    return;
                }
            };
            let at = Instant::now();
            let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                counters.record_error(side, pair, text.as_str());
                continue;
            };
            if frame["type"] == "system" && frame["sub_type"] == "error" {
                counters.record_error(side, pair, text.as_str());
                continue;
            }
            match side {
                Side::Agent => observer.agent(pair, &frame, at),
                Side::Client => observer.client(pair, &frame, at),
            }
        }
        counters.record_close(side, pair, "end of stream");
    })
}

/// Waits until the servers are idle after a setup (at most 15 s) and says
/// how long that took. Opening many pairs has a cost of its own that is
/// not the per-text path: every agent who connects is announced to every
/// agent online (n²/2 presence frames for n agents connecting at once),
/// and each arrival is a presence write and a lookup. Measuring texts
/// while that drains would blame them for it.
pub async fn settle(deployment: &crate::server::Deployment) {
    let started = Instant::now();
    let window = std::time::Duration::from_millis(200);
    let mut before = deployment.cpu();
    while started.elapsed() < std::time::Duration::from_secs(15) {
        tokio::time::sleep(window).await;
        let now = deployment.cpu();
        // Under two ticks (20 ms of CPU) in 200 ms on every node: idle.
        if before
            .iter()
            .zip(&now)
            .all(|(b, a)| a.saturating_sub(*b) < 2)
        {
            println!(
                "  settled: the servers were idle {:.1} s after the setup",
                started.elapsed().as_secs_f64()
            );
            return;
        }
        before = now;
    }
    println!("  settled: still busy 15 s after the setup; measuring anyway");
}
