//! The database going away mid-chat, and coming back. The server reaches
//! PostgreSQL through a TCP proxy the test controls, so "stopping" the
//! database cuts every connection and refuses new ones without touching
//! the machine's PostgreSQL (other tests share it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// Forwards to `upstream` while up; while down, drops every connection.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Cancelled to cut the connections forwarded so far.
    cut: Arc<Mutex<CancellationToken>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let (u, c) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let token = c.lock().await.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    async fn stop(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut cut = self.cut.lock().await;
        cut.cancel();
        *cut = CancellationToken::new();
    }

    fn restart(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` → the same through `via`.
fn through(url: &str, via: SocketAddr) -> (String, SocketAddr) {
    let (scheme_user, rest) = url.split_once('@').expect("user@host in the URL");
    let (host_port, db) = rest.split_once('/').expect("/database in the URL");
    let upstream = host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("host:port");
    (format!("{scheme_user}@{via}/{db}"), upstream)
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set QC_TEST_POSTGRES_URL (.ci/run does, and runs it with --include-ignored)"]
async fn with_postgres_gone_a_text_is_unavailable_and_is_stored_again_once_it_returns() {
    let admin = std::env::var("QC_TEST_POSTGRES_URL")
        .expect("QC_TEST_POSTGRES_URL: this test needs PostgreSQL");
    let name = format!(
        "qc_it_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let direct = qc_persistence::create_postgres_database(&admin, &name)
        .await
        .expect("PostgreSQL is usable");
    let (_, upstream) = through(&direct, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream).await;
    let (url, _) = through(&direct, proxy.addr);
    let app = spawn_on(url, None, |_| {}).await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "before")).await;
    assert_eq!(p.client_ws.recv().await["payload"]["content"], "before");

    proxy.stop().await;
    // The first text meets the cut connection; the second waits for a new
    // one that never comes (the pool's acquire timeout). Each is answered
    // `unavailable`, within a receive's hang guard; how soon (the
    // contract's 2 s) is printed below and measured in docs/benchmarks.md,
    // not asserted.
    let mut waited = Vec::new();
    for cmid in ["d-1", "d-2"] {
        let asked = Instant::now();
        p.client_ws
            .send(json!({ "type": "text", "conversation_id": p.cid, "content": "during", "client_msg_id": cmid }))
            .await;
        let answer = p.client_ws.recv().await;
        waited.push(asked.elapsed());
        assert_error(&answer, "unavailable");
    }

    proxy.restart();
    let back = Instant::now();
    // Retried, each attempt answered, until one is stored; a hang guard
    // ends the retries if none ever is.
    let stored = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            p.client_ws.send(text(&p.cid, "after")).await;
            let f = p.client_ws.recv().await;
            if f["type"] == "text" {
                break back.elapsed();
            }
            assert_error(&f, "unavailable");
        }
    })
    .await
    .expect("stored again once PostgreSQL is back");
    eprintln!("outage: unavailable after {waited:?}; stored again {stored:?} after the return");

    let history = app.all_messages(&p.client, &p.cid).await;
    let contents: Vec<&str> = history
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["before", "after"],
        "nothing of the failed batch was stored"
    );
}
