//! Log lines cannot be forged through a token claim: the real binary, a
//! token whose `sub` carries a newline and a fake log line, and the log it
//! writes (CONTRACT rev. 2 §2: a `sub` is written escaped).

use std::process::Command;

use qc_domain::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

mod support;
use support::Server;

const SECRET: &str = "logs-test-secret-logs-test-secret-012345";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_with_a_newline_stays_on_one_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("err.log")).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("l.db").display());
    let env = [
        ("QC_DATABASE_URL", db.as_str()),
        ("QC_JWT_SECRET", SECRET),
        ("QC_LOG", "info"),
    ];
    let mut server = Server::start(dir.path(), &env, log.into()).await;
    let port = server.port;
    let sub = "evil\nFORGED level=ERROR the server was breached";
    let token = qc_http::auth::mint_hs256(SECRET.as_bytes(), sub, Role::Client, 600).unwrap();
    let mut req = format!("ws://127.0.0.1:{port}/chats/clients")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.close(None).await.unwrap();
    // Graceful stop (SIGTERM): the log writer flushes what it holds.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let _ = server.child.wait();

    let written = std::fs::read_to_string(dir.path().join("err.log")).unwrap();
    assert!(
        written.contains(r#"evil\nFORGED"#),
        "the connection was logged with its sub escaped:\n{written}"
    );
    assert!(
        !written.lines().any(|l| l.starts_with("FORGED")),
        "a claim forged a log line:\n{written}"
    );
}
