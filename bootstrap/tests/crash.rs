//! Crash safety of the group commit: the real binary, killed with SIGKILL
//! while many senders keep it batching, then started again on the same
//! database. Every text whose ack (its stored echo) reached a client must
//! be in history exactly once, with gapless seq.
//!
//! Its own test binary (not tests/api) because it needs the `quickconnect`
//! executable itself, which Cargo builds and names only for this package.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
async fn every_acked_text_survives_sigkill_under_batched_load_on_postgres() {
    let Ok(admin) = std::env::var("QC_TEST_POSTGRES_URL") else {
        eprintln!("skipped: set QC_TEST_POSTGRES_URL to run the PostgreSQL crash test (CI does)");
        return;
    };
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
