//! Crash safety of the group commit (and of the webhook outbox): the real
//! binary, killed with SIGKILL
//! while many senders keep it batching, then started again on the same
//! database. Every text whose ack (its stored echo) reached a client must
//! be in history exactly once, with gapless seq.
//!
//! Its own test binary (not tests/api) because it needs the `quickconnect`
//! executable itself, which Cargo builds and names only for this package.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use qc_domain::Role;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

mod support;
use support::Server;

const SECRET: &str = "crash-test-secret-crash-test-secret-0123";
const CLIENTS: usize = 10;
/// Texts each client keeps in flight: enough to make the writer batch.
const WINDOW: usize = 32;
/// Acks seen before the kill.
const KILL_AFTER_ACKS: usize = 1500;

async fn start(db_url: &str, dir: &std::path::Path) -> Server {
    let env = [
        ("QC_DATABASE_URL", db_url),
        ("QC_JWT_SECRET", SECRET),
        ("QC_WS_RATE_PER_SEC", "0"),
        ("QC_USER_RATE_PER_SEC", "0"),
        ("QC_LOG", "warn"),
    ];
    Server::start(dir, &env, Stdio::inherit()).await
}

fn token(sub: &str) -> String {
    qc_http::auth::mint_hs256(SECRET.as_bytes(), sub, Role::Client, 3600).unwrap()
}

async fn open_conversation(port: u16, token: &str) -> String {
    let v: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/conversations"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Every message of a conversation, oldest first.
async fn history(port: u16, token: &str, cid: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut url = format!("http://127.0.0.1:{port}/conversations/{cid}/messages?limit=200");
        if let Some(b) = &before {
            url.push_str(&format!("&before={b}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut items = page["items"].as_array().unwrap().clone();
        items.append(&mut all);
        all = items;
        match page["next_cursor"].as_str() {
            Some(c) => before = Some(c.to_owned()),
            None => return all,
        }
    }
}

/// Sends texts with a window of [`WINDOW`] until the socket dies; records
/// the `client_msg_id` of every ack (the stored echo) it reads.
async fn send_until_killed(
    port: u16,
    token: String,
    cid: String,
    me: usize,
    acked: Arc<Mutex<HashSet<String>>>,
    progress: Arc<Notify>,
) {
    let mut req = format!("ws://127.0.0.1:{port}/chats/clients")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let window = Arc::new(Semaphore::new(WINDOW));
    let permits = window.clone();
    let sender = tokio::spawn(async move {
        for n in 0.. {
            let Ok(permit) = permits.acquire().await else {
                return;
            };
            permit.forget();
            let frame = json!({
                "type": "text",
                "conversation_id": cid,
                "content": format!("text {n}"),
                "client_msg_id": format!("c{me}-{n}"),
            });
            if tx.send(Message::text(frame.to_string())).await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(frame)) = rx.next().await {
        let Message::Text(text) = frame else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "text" {
            let cmid = v["payload"]["client_msg_id"].as_str().unwrap().to_owned();
            acked.lock().unwrap().insert(cmid);
            window.add_permits(1);
            progress.notify_one();
        }
    }
    window.close();
    let _ = sender.await;
}

async fn every_acked_text_survives(db_url: String, dir: &std::path::Path) {
    let server = start(&db_url, dir).await;
    let mut conversations = Vec::new();
    for i in 0..CLIENTS {
        let t = token(&format!("crash-client-{i}"));
        let cid = open_conversation(server.port, &t).await;
        conversations.push((t, cid));
    }
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let progress = Arc::new(Notify::new());
    let clients: Vec<_> = conversations
        .iter()
        .enumerate()
        .map(|(i, (t, cid))| {
            tokio::spawn(send_until_killed(
                server.port,
                t.clone(),
                cid.clone(),
                i,
                acked.clone(),
                progress.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), async {
        while acked.lock().unwrap().len() < KILL_AFTER_ACKS {
            progress.notified().await;
        }
    })
    .await
    .expect("the server acked texts");
    drop(server); // SIGKILL, mid-batch
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER_ACKS);

    let again = start(&db_url, dir).await;
    let mut stored: HashMap<String, usize> = HashMap::new();
    for (t, cid) in &conversations {
        let messages = history(again.port, t, cid).await;
        let seqs: Vec<i64> = messages
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "gapless seq after the crash"
        );
        for m in messages {
            *stored
                .entry(m["client_msg_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let missing: Vec<&String> = acked.iter().filter(|c| !stored.contains_key(*c)).collect();
    assert!(
        missing.is_empty(),
        "{} acked texts lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(stored.values().all(|n| *n == 1), "a text was stored twice");
    eprintln!(
        "crash test: {} acked before/at SIGKILL, {} stored, all acked present once",
        acked.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_text_survives_sigkill_under_batched_load_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("crash.db").display()
    );
    every_acked_text_survives(url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QC_TEST_POSTGRES_URL (.ci/run does, and runs it with --include-ignored)"]
async fn every_acked_text_survives_sigkill_under_batched_load_on_postgres() {
    let admin = std::env::var("QC_TEST_POSTGRES_URL")
        .expect("QC_TEST_POSTGRES_URL: this test needs PostgreSQL");
    let name = format!(
        "qc_it_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let url = qc_persistence::create_postgres_database(&admin, &name)
        .await
        .expect("QC_TEST_POSTGRES_URL is set but PostgreSQL is unusable");
    let dir = tempfile::tempdir().unwrap();
    every_acked_text_survives(url, dir.path()).await;
}

/// A webhook receiver on `addr`: every request's event id goes to `ids`;
/// answers 200, or never when `hang`. Stops when `stop` is cancelled.
fn receiver(
    addr: std::net::SocketAddr,
    hang: bool,
    ids: tokio::sync::mpsc::UnboundedSender<Value>,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    use poem::listener::TcpAcceptor;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    let acceptor = TcpAcceptor::from_tokio(socket.listen(128).unwrap()).unwrap();
    let app = poem::endpoint::make(move |req: poem::Request| {
        let ids = ids.clone();
        async move {
            let body: Value =
                serde_json::from_slice(&req.into_body().into_bytes().await.unwrap()).unwrap();
            let _ = ids.send(body);
            if hang {
                std::future::pending::<()>().await;
            }
            "ok"
        }
    });
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                stop.cancelled_owned(),
                Some(Duration::from_millis(10)),
            )
            .await;
    })
}

/// Webhook events are in the outbox, committed with their changes: a node
/// SIGKILLed while its receiver hung on some and before it sent the others
/// sends every one after it restarts, each conversation's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_webhook_events_are_sent_after_a_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hooks.db").display()
    );
    let hooks = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{hooks}/hooks");
    let env = [
        ("QC_DATABASE_URL", db_url.as_str()),
        ("QC_JWT_SECRET", SECRET),
        ("QC_HTTP_RATE_PER_SEC", "0"),
        ("QC_WEBHOOK_URL", url.as_str()),
        ("QC_WEBHOOK_SECRET", "whsec-crash-0123456789"),
        ("QC_LOG", "warn"),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hanging = tokio_util::sync::CancellationToken::new();
    let first_receiver = receiver(hooks, true, tx.clone(), hanging.clone());
    let server = Server::start(dir.path(), &env, Stdio::inherit()).await;
    let http = reqwest::Client::new();
    let agent =
        qc_http::auth::mint_hs256(SECRET.as_bytes(), "crash-agent", Role::Support, 3600).unwrap();
    let mut conversations = Vec::new();
    for i in 0..10 {
        let t = token(&format!("hook-client-{i}"));
        let cid = open_conversation(server.port, &t).await;
        for action in ["assign", "close"] {
            let r = http
                .post(server.url(&format!("/conversations/{cid}/{action}")))
                .bearer_auth(&agent)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        conversations.push(cid);
    }
    // The receiver holds requests open: those events are leased by the
    // node, the rest wait behind them.
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the node sends while the receiver hangs")
        .unwrap();
    assert_eq!(first["type"], "conversation.created");
    drop(server); // SIGKILL
    hanging.cancel();
    first_receiver.await.unwrap();
    while rx.try_recv().is_ok() {}

    receiver(hooks, false, tx, tokio_util::sync::CancellationToken::new());
    let restarted = Instant::now();
    let again = Server::start(dir.path(), &env, Stdio::inherit()).await;
    let mut per_conversation: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids = HashSet::new();
    while ids.len() < 30 {
        let event = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of 30 events after the restart", ids.len()))
            .unwrap();
        if !ids.insert(event["id"].as_str().unwrap().to_owned()) {
            continue;
        }
        let cid = event["data"]["conversation_id"]
            .as_str()
            .or_else(|| event["data"]["id"].as_str())
            .unwrap()
            .to_owned();
        per_conversation
            .entry(cid)
            .or_default()
            .push(event["type"].as_str().unwrap().to_owned());
    }
    for cid in &conversations {
        assert_eq!(
            per_conversation[cid],
            [
                "conversation.created",
                "conversation.assigned",
                "conversation.closed"
            ],
            "every event of {cid}, in order"
        );
    }
    eprintln!(
        "webhook crash test: 30 events delivered {:?} after the restart",
        restarted.elapsed()
    );
    drop(again);
}

/// `quickconnect webhooks failed|retry` on a database holding a dead
/// event: listed (table and JSON), revived by id, an unknown id refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_subcommands_list_and_revive_dead_events() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("dead.db").display());
    let db = qc_persistence::connect(&db_url).await.unwrap();
    qc_persistence::migrate(&db).await.unwrap();
    db.execute_sql(
        "INSERT INTO webhook_outbox (id, conversation_id, event_type, body, created_ms, due_ms, \
         deadline_ms, attempts, last_error, dead_ms) VALUES ('01KAB3T0G8XHT5GMEJ146S6JR4', \
         '01KAAWW5V95WFFDERJZCTDE2QQ', 'conversation.closed', '{}', 1763457171976, 1763543571976, \
         1763543571976, 197, 'HTTP 503', 1763543571976)",
    )
    .await
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_quickconnect"))
            .args(args)
            .current_dir(dir.path())
            .env("QC_DATABASE_URL", &db_url)
            .env("QC_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, table, _) = run(&["webhooks", "failed"]);
    assert!(ok);
    assert!(
        table.contains("01KAB3T0G8XHT5GMEJ146S6JR4")
            && table.contains("conversation.closed")
            && table.contains("197 attempts")
            && table.contains("HTTP 503"),
        "{table}"
    );
    let (ok, json, _) = run(&["webhooks", "failed", "--json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["id"], "01KAB3T0G8XHT5GMEJ146S6JR4");
    assert_eq!(v["dead_at"], "2025-11-19T09:12:51.976Z");
    assert_eq!(v["last_error"], "HTTP 503");

    let (ok, _, err) = run(&["webhooks", "retry", "--id", "01KAB3T0G8XHT5GMEJ146S6JR5"]);
    assert!(!ok, "an id that names no dead event is an error");
    assert!(err.contains("no dead webhook event with id"), "{err}");
    let (ok, out, _) = run(&["webhooks", "retry", "--id", "01KAB3T0G8XHT5GMEJ146S6JR4"]);
    assert!(ok);
    assert!(
        out.contains("1 dead webhook event(s) will be sent again"),
        "{out}"
    );
    let (ok, none, _) = run(&["webhooks", "failed"]);
    assert!(ok);
    assert_eq!(none.trim(), "no dead webhook events");
}

/// Dev mode keeps its secret beside the database (mode 0600): a token made
/// before a restart (here by `quickconnect token`, which reads the same
/// file) still works after it, for the same identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_mode_token_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("dev.db").display());
    let env = [("QC_DATABASE_URL", db_url.as_str()), ("QC_LOG", "warn")];
    let server = Server::start(dir.path(), &env, Stdio::null()).await;
    let secret_file = dir.path().join("dev.db.dev-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the dev secret is private");
    }
    let minted = std::process::Command::new(env!("CARGO_BIN_EXE_quickconnect"))
        .args(["token", "--role", "client", "--sub", "dev-customer"])
        .current_dir(dir.path())
        .env("QC_DATABASE_URL", &db_url)
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let cid = open_conversation(server.port, &token).await;
    drop(server); // SIGKILL

    let again = Server::start(dir.path(), &env, Stdio::null()).await;
    let listed: Value = reqwest::Client::new()
        .get(again.url("/conversations"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the token made before the restart is accepted")
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], cid.as_str(), "the same identity");
    assert_eq!(listed["items"][0]["client_id"], "dev-customer");
}

/// A fresh process exports every counter at 0 (a dashboard sees the series
/// before the first event), and its log to a file carries no ANSI colour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_exports_its_counters_at_zero_and_logs_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let log = std::fs::File::create(dir.path().join("err.log")).unwrap();
    let env = [
        ("QC_DATABASE_URL", db_url.as_str()),
        ("QC_JWT_SECRET", SECRET),
        ("QC_LOG", "info"),
    ];
    let server = Server::start(dir.path(), &env, log.into()).await;
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"qc_ws_frame_errors_total{code="invalid_json"} 0"#,
        r#"qc_ws_frame_errors_total{code="rate_limited"} 0"#,
        r#"qc_ws_server_closes_total{code="1008"} 0"#,
        r#"qc_ws_server_closes_total{code="4002"} 0"#,
        "qc_messages_stored_total 0",
        "qc_http_rate_limited_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} missing from:\n{metrics}"
        );
    }
    // The log is written by a background thread: wait for the start line.
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = std::fs::read_to_string(dir.path().join("err.log")).unwrap();
        if log.contains("Quick Connect Chat listening") {
            break log;
        }
        assert!(Instant::now() < deadline, "the start line is logged: {log}");
        tokio::task::yield_now().await;
    };
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI escape in a log file: {log:?}"
    );
    drop(server);
}
