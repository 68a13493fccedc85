//! The HTTP timeouts (CONTRACT §1): a request head must arrive within
//! `QC_HTTP_HEADER_TIMEOUT_SECS`, a keep-alive connection with no request
//! in flight is closed after `QC_HTTP_IDLE_SECS`; an upgraded WebSocket is
//! under neither.
//!
//! No duration is asserted here (the deadlines' arithmetic is the
//! listener's unit tests', the latencies bench/'s): the server's own
//! closes are the signals. A silent socket opened at some moment is closed
//! by the head timeout, so it serves as a reference: which of two
//! connections the server closes first says which deadline ran out first.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HEAD: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(2);
/// A hang guard: far past both timeouts, a socket still open never closes.
const HANG: Duration = Duration::from_secs(10);
const HEAD_TIMEOUTS: &str = r#"qc_http_timeouts_total{kind="head"}"#;

async fn app() -> TestApp {
    spawn_on_sqlite(|s| {
        s.http_header_timeout_secs = HEAD.as_secs();
        s.http_idle_secs = IDLE.as_secs();
    })
    .await
}

/// Reads (and drops) until the server closes `s`; fails past [`HANG`].
async fn closed(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(HANG, read_to_end)
        .await
        .expect("the server closes the connection");
}

/// Whether the server closes `a` before `b`.
async fn closes_first(a: &mut TcpStream, b: &mut TcpStream) -> bool {
    tokio::select! {
        () = closed(a) => true,
        () = closed(b) => false,
    }
}

/// `GET /healthz` on `s`, kept alive; asserts the 200.
async fn served(s: &mut TcpStream, what: &str) {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{what}");
}

#[tokio::test]
async fn silent_sockets_and_dripping_heads_are_dropped_by_the_head_timeout() {
    let app = app().await;
    let head_timeouts = app.metric(HEAD_TIMEOUTS).await;
    let mut hostile = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        hostile.spawn(async move { closed(&mut s).await });
    }
    for i in 0..200 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        hostile.spawn(async move {
            // A WebSocket upgrade head, one line every 200 ms, never ending
            // (the drip is the attack's pace, not a wait for the server).
            let lines = [
                "GET /chats/clients HTTP/1.1\r\n".to_owned(),
                "Host: localhost\r\n".to_owned(),
                "Upgrade: websocket\r\n".to_owned(),
                "Connection: Upgrade\r\n".to_owned(),
            ];
            let drip = async {
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
            };
            // Bytes that keep coming do not keep the head open.
            tokio::time::timeout(HANG, drip)
                .await
                .expect("a dripping head is dropped");
        });
    }
    // A normal client is served while they are held: an answer comes
    // before the server has dropped the last of them (they go at the head
    // timeout), and every answer is a 200.
    let mut served_while_held = 0;
    // Between two requests: the probe's pace, not a wait.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    loop {
        assert_eq!(app.healthz().await, 200);
        while let Some(done) = hostile.try_join_next() {
            done.unwrap();
        }
        if hostile.is_empty() {
            break;
        }
        served_while_held += 1;
        pace.tick().await;
    }
    assert!(
        served_while_held >= 1,
        "no answer while the hostile sockets were held"
    );
    // Each of the 400 went for the head timeout (the server counts why; the
    // counter is the process's, so at least these).
    let counted = app.metric(HEAD_TIMEOUTS).await - head_timeouts;
    assert!(counted >= 400.0, "{counted} head timeouts counted");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = app().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    served(&mut s, "served").await;
    // Still open (kept alive) past the head timeout: once a silent socket
    // opened after the answer is dropped for it, a second request on the
    // kept-alive one is served.
    let mut reference = TcpStream::connect(app.addr).await.unwrap();
    closed(&mut reference).await;
    served(&mut s, "served again").await;
    // Then closed by the idle timeout, the longer one: after a silent
    // socket opened a moment after the answer, and not never. No signal
    // exists for the moment: it is the client's clock, there to put the two
    // deadlines in different sweeps of the server (every 100 ms), so that
    // an idle timeout as short as the head one would close the kept-alive
    // connection first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut reference = TcpStream::connect(app.addr).await.unwrap();
    assert!(
        closes_first(&mut reference, &mut s).await,
        "the kept-alive connection was closed before the head timeout of a socket opened after its answer"
    );
    closed(&mut s).await;
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
    // Quiet past both timeouts: a keep-alive connection answered after the
    // upgrade is closed by the idle timeout (the later one: HEAD < IDLE),
    // and either would have closed the WebSocket by then.
    let mut reference = TcpStream::connect(app.addr).await.unwrap();
    served(&mut reference, "the reference is served").await;
    closed(&mut reference).await;
    ws.send(serde_json::json!({ "type": "text", "conversation_id": cid, "content": "still here" }))
        .await;
    assert_eq!(ws.recv().await["payload"]["content"], "still here");
}

#[tokio::test]
async fn a_late_first_byte_does_not_restart_the_head_timeout() {
    let app = app().await;
    // The late connection opens first and sends its first byte at 3/4 of
    // the head timeout; a silent one opens in between, at 3/8. If the
    // deadline runs from the connection's start, the late one is dropped
    // first (3/8 before the silent one); had its first byte restarted it,
    // the silent one would go first (3/8 before).
    let mut late = TcpStream::connect(app.addr).await.unwrap();
    // No signal exists: lateness is the client's clock; these waits shape
    // the scenario, and what is asserted is the order of the server's
    // closes.
    tokio::time::sleep(HEAD * 3 / 8).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(HEAD * 3 / 8).await;
    // (Already dropped if this client was slow: a failed write is that.)
    let _ = late
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await;
    assert!(
        closes_first(&mut late, &mut silent).await,
        "the late first byte restarted the head timeout"
    );
    closed(&mut silent).await;
}

#[tokio::test]
async fn an_http2_prior_knowledge_connection_is_refused_at_once() {
    let app = app().await;
    let series = r#"qc_http_refused_total{reason="http2"}"#;
    let refused = app.metric(series).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    // The HTTP/2 connection preface, then an empty SETTINGS frame.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    closed(&mut s).await;
    // Refused for its preface (counted so), not left to the head timeout.
    assert!(app.metric(series).await >= refused + 1.0);
    // HTTP/1.1 is served as before.
    assert_eq!(app.healthz().await, 200);
}
