//! Benchmarks the release `quickconnect` binary as a separate process over
//! real sockets (loopback):
//!
//! 1. memory: the server's RSS before and after opening N idle chat
//!    connections (default 1,000), and per connection;
//! 2. latency and throughput: P client/agent pairs chatting; each text's
//!    round trip from the sender's socket to the other participant's socket.
//!
//! Run `cargo build --release && cargo run --release -p qc-bench [-- --idle N --pairs P --messages M]`.
//! Figures go in docs/benchmarks.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-01";

struct Args {
    idle: usize,
    pairs: usize,
    messages: usize,
    binary: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        idle: 1000,
        pairs: 20,
        messages: 200,
        binary: PathBuf::from("target/release/quickconnect"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--idle" => args.idle = value.parse()?,
            "--pairs" => args.pairs = value.parse()?,
            "--messages" => args.messages = value.parse()?,
            "--binary" => args.binary = value.into(),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

fn token(role: &str, sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "role": role, "exp": now + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token")
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(binary: &PathBuf) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let child = Command::new(binary)
        .env("QC_BIND", format!("127.0.0.1:{port}"))
        .env(
            "QC_DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
        )
        .env("QC_JWT_SECRET", SECRET)
        .env("QC_WS_RATE_PER_SEC", "0")
        .env("QC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (run `cargo build --release` first)",
                binary.display()
            )
        })?;
    let base = format!("127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("http://{base}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return Ok(Server {
                child,
                base,
                _dir: dir,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("server did not start")
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base: &str, path: &str, tok: &str) -> anyhow::Result<Socket> {
    let mut req = format!("ws://{base}{path}").into_client_request()?;
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {tok}"))?,
    );
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

async fn idle_memory(args: &Args) -> anyhow::Result<()> {
    let server = start_server(&args.binary).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server.child.id())?;
    let mut sockets = Vec::with_capacity(args.idle);
    for i in 0..args.idle {
        let tok = token("client", &format!("idle-{i}"));
        sockets.push(connect(&server.base, "/chats/clients", &tok).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(server.child.id())?;
    let per = (after.saturating_sub(before)) as f64 / args.idle as f64;
    println!("idle connections: {}", args.idle);
    println!("  server RSS before: {before} KiB, after: {after} KiB");
    println!("  per idle connection: {per:.1} KiB");
    drop(sockets);
    Ok(())
}

async fn open_pair(
    http: &reqwest::Client,
    base: &str,
    i: usize,
) -> anyhow::Result<(Socket, Socket, String)> {
    let client = token("client", &format!("c{i}"));
    let agent = token("support", &format!("a{i}"));
    let conv: Value = http
        .post(format!("http://{base}/conversations"))
        .bearer_auth(&client)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let cid = conv["id"].as_str().context("conversation id")?.to_owned();
    http.post(format!("http://{base}/conversations/{cid}/assign"))
        .bearer_auth(&agent)
        .json(&json!({}))
        .send()
        .await?;
    let c = connect(base, "/chats/clients", &client).await?;
    let a = connect(base, "/chats/supports", &agent).await?;
    Ok((c, a, cid))
}

async fn chat_latency(args: &Args) -> anyhow::Result<()> {
    let server = start_server(&args.binary).await?;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    let started = Instant::now();
    for i in 0..args.pairs {
        let (client, agent, cid) = open_pair(&http, &server.base, i).await?;
        let messages = args.messages;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut client_rx) = client.split();
            let (_atx, mut agent_rx) = agent.split();
            // Drain the sender's own echoes so its queue never fills.
            let echo = tokio::spawn(async move { while let Some(Ok(_)) = client_rx.next().await {} });
            let mut samples = Vec::with_capacity(messages);
            for n in 0..messages {
                let frame = json!({ "type": "text", "conversation_id": cid, "content": format!("message {n}") });
                let sent = Instant::now();
                tx.send(Message::text(frame.to_string())).await?;
                loop {
                    match agent_rx.next().await {
                        Some(Ok(Message::Text(_))) => break,
                        Some(Ok(_)) => continue,
                        other => bail!("agent socket ended: {other:?}"),
                    }
                }
                samples.push(sent.elapsed());
            }
            echo.abort();
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "chat: {} pairs x {} messages = {} texts (stored in SQLite, then delivered)",
        args.pairs,
        args.messages,
        all.len()
    );
    println!(
        "  throughput: {:.0} texts/s",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50 {:?}, p99 {:?}, max {:?}",
        pct(0.50),
        pct(0.99),
        all[all.len() - 1]
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    idle_memory(&args).await?;
    chat_latency(&args).await?;
    Ok(())
}
