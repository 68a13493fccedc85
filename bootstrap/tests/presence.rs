//! Presence survives a node dying without a word: two real `quickconnect`
//! processes over one Redis (and PostgreSQL when `QC_TEST_POSTGRES_URL` is
//! set, else one SQLite file); the node holding an agent is SIGKILLed, and
//! an agent on the other node sees that agent go offline within 15 s (the
//! dead node's lease runs out and a live node reaps it).
//!
//! `#[ignore]`d unless run with `--include-ignored` and `QC_TEST_REDIS_URL`
//! (CI does, after checking Redis).

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qc_domain::Role;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

mod support;
use support::Server;

const SECRET: &str = "presence-test-secret-presence-test-0123";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_agent(port: u16, sub: &str) -> Socket {
    let token = qc_http::auth::mint_hs256(SECRET.as_bytes(), sub, Role::Support, 3600).unwrap();
    let mut req = format!("ws://127.0.0.1:{port}/chats/supports")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// Reads until `sub`'s presence is `status` (within `limit`).
async fn until_presence(ws: &mut Socket, sub: &str, status: &str, limit: Duration) {
    tokio::time::timeout(limit, async {
        while let Some(Ok(frame)) = ws.next().await {
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["sub_type"] == "presence"
                && v["payload"]["user_id"] == sub
                && v["payload"]["status"] == status
            {
                return;
            }
        }
        panic!("the watcher's connection ended");
    })
    .await
    .unwrap_or_else(|_| panic!("{sub} not {status} within {limit:?}"));
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_sigkilled_nodes_agent_shows_offline_on_the_other_node_within_15_s() {
    let redis =
        std::env::var("QC_TEST_REDIS_URL").expect("QC_TEST_REDIS_URL: this test needs Redis");
    let dir = tempfile::tempdir().unwrap();
    let db_url = match std::env::var("QC_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let name = format!(
                "qc_presence_{}",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            qc_persistence::create_postgres_database(&admin, &name)
                .await
                .expect("QC_TEST_POSTGRES_URL is set but PostgreSQL is unusable")
        }
        Err(_) => format!("sqlite://{}?mode=rwc", dir.path().join("qc.db").display()),
    };
    let prefix = format!("qc-presence-{}", ulid::Ulid::generate());
    let env = [
        ("QC_DATABASE_URL", db_url.as_str()),
        ("QC_JWT_SECRET", SECRET),
        ("QC_BROKER_URL", redis.as_str()),
        ("QC_BROKER_PREFIX", prefix.as_str()),
        ("QC_LOG", "warn"),
    ];
    let doomed = Server::start(dir.path(), &env, Stdio::inherit()).await;
    let survivor = Server::start(dir.path(), &env, Stdio::inherit()).await;

    let mut watcher = connect_agent(survivor.port, "watcher").await;
    let _held = connect_agent(doomed.port, "agent-on-the-dead-node").await;
    until_presence(
        &mut watcher,
        "agent-on-the-dead-node",
        "online",
        Duration::from_secs(5),
    )
    .await;

    drop(doomed); // SIGKILL: no close frame, no departure, no last renewal.
    let killed = Instant::now();
    until_presence(
        &mut watcher,
        "agent-on-the-dead-node",
        "offline",
        Duration::from_secs(15),
    )
    .await;
    eprintln!("offline {:?} after the SIGKILL", killed.elapsed());
}
