//! The HTTP timeouts (CONTRACT §1): a request head must arrive within
//! `QC_HTTP_HEADER_TIMEOUT_SECS`, a keep-alive connection with no request
//! in flight is closed after `QC_HTTP_IDLE_SECS`; an upgraded WebSocket is
//! under neither.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HEAD: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(2);
/// The server checks deadlines every 100 ms; the rest is scheduling.
const SLACK: Duration = Duration::from_millis(600);

async fn app() -> TestApp {
    spawn_on_sqlite(|s| {
        s.http_header_timeout_secs = HEAD.as_secs();
        s.http_idle_secs = IDLE.as_secs();
    })
    .await
}

/// Reads until the server closes; how long that took from `since`.
async fn closed_after(mut s: TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return since.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn silent_sockets_and_dripping_heads_are_dropped_within_the_head_timeout() {
    let app = app().await;
    let start = Instant::now();
    let mut silent = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let s = TcpStream::connect(app.addr).await.unwrap();
        silent.spawn(closed_after(s, Instant::now()));
    }
    let mut dripping = tokio::task::JoinSet::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        let opened = Instant::now();
        dripping.spawn(async move {
            // A WebSocket upgrade head, one line every 200 ms, never ending.
            let lines = [
                "GET /chats/clients HTTP/1.1\r\n".to_owned(),
                "Host: localhost\r\n".to_owned(),
                "Upgrade: websocket\r\n".to_owned(),
                "Connection: Upgrade\r\n".to_owned(),
            ];
            let mut n = 0;
            loop {
                let line = lines
                    .get(n)
                    .cloned()
                    .unwrap_or(format!("X-Drip-{i}-{n}: a\r\n"));
                if s.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
                n += 1;
                let mut buf = [0u8; 256];
                let answer = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf));
                if let Ok(Ok(0) | Err(_)) = answer.await {
                    break;
                }
            }
            opened.elapsed()
        });
    }
    // A normal client is served throughout.
    let mut served = 0;
    while start.elapsed() < HEAD + SLACK {
        assert_eq!(app.healthz().await, 200);
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served >= 10, "served {served}");
    for (what, set) in [("silent", &mut silent), ("dripping", &mut dripping)] {
        let mut n = 0;
        while let Some(took) = set.join_next().await {
            let took = took.unwrap();
            assert!(
                took >= HEAD - Duration::from_millis(150) && took <= HEAD + SLACK,
                "a {what} socket was dropped after {took:?}"
            );
            n += 1;
        }
        assert_eq!(n, 200);
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = app().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    // Still open (kept alive) well past the head timeout: a second request
    // on it is served.
    tokio::time::sleep(HEAD + Duration::from_millis(200)).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "served again");
    let answered_again = Instant::now();
    let took = closed_after(s, answered_again).await;
    assert!(
        took >= IDLE - Duration::from_millis(150) && took <= IDLE + SLACK,
        "closed {took:?} after the last answer"
    );
    assert!(answered.elapsed() > HEAD + IDLE);
}

#[tokio::test]
async fn an_upgraded_websocket_is_under_neither_timeout() {
    let app = app().await;
    let client = app.user("client");
    let cid = app.open_conversation(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = app.connect("/chats/clients", &client.token).await;
    // Quiet for longer than both timeouts together.
    ws.expect_silence(HEAD + IDLE + SLACK).await;
    ws.send(serde_json::json!({ "type": "text", "conversation_id": cid, "content": "still here" }))
        .await;
    assert_eq!(ws.recv().await["payload"]["content"], "still here");
}

#[tokio::test]
async fn a_late_first_byte_does_not_restart_the_head_timeout() {
    let app = app().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let opened = Instant::now();
    tokio::time::sleep(HEAD * 3 / 4).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let took = closed_after(s, opened).await;
    assert!(
        took <= HEAD + SLACK,
        "dropped {took:?} after the connection opened"
    );
}

#[tokio::test]
async fn an_http2_prior_knowledge_connection_is_refused_at_once() {
    let app = app().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    // The HTTP/2 connection preface, then an empty SETTINGS frame.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let took = closed_after(s, Instant::now()).await;
    assert!(took < Duration::from_millis(500), "{took:?}");
    // HTTP/1.1 is served as before.
    assert_eq!(app.healthz().await, 200);
}
