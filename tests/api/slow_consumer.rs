//! A client that stops reading is cut off with 4002 and slows nobody else.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

/// Connects with a tiny TCP receive buffer, so a client that stops reading
/// makes the server's writes block after a few MB instead of tens.
async fn connect_tiny_buffer(app: &TestApp, path: &str, token: &str) -> Ws {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let mut req = app.ws_url(path).into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (inner, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    Ws::from_stream(inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_with_4002_and_delays_nobody() {
    // Storage-independent behaviour; see spawn_on_sqlite.
    let app = spawn_on_sqlite(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
        s.ws_queue_frames = 64;
    })
    .await;
    // Conversation A: a slow client, and an agent who floods it.
    let slow_client = app.user("client");
    let flooder = app.user("support");
    let conv_a = app.open_conversation(&slow_client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.assign(&flooder, &conv_a).await;
    let mut slow = connect_tiny_buffer(&app, "/chats/clients", &slow_client.token).await;
    let flood_ws = app.connect("/chats/supports", &flooder.token).await;
    let (mut flood_tx, mut flood_rx) = flood_ws.inner.split();
    // The flooder reads its own echoes so only the slow client falls behind.
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = flood_rx.next().await {} });

    // Conversation B: an ordinary pair.
    let mut b = app.chat_pair().await;

    const FLOOD: usize = 600;
    let big = "€".repeat(4000); // ~12 KB frames
    let cid = conv_a.clone();
    let flood = tokio::spawn(async move {
        // ~1,000 frames/s (12 MB/s): the slow client's buffers fill in well
        // under a second, without starving the 2-core test machine. The
        // flood's pace, not a wait for anything.
        let mut pace = tokio::time::interval(Duration::from_millis(10));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for i in 0..FLOOD {
            if i % 10 == 0 {
                pace.tick().await;
            }
            let frame = text(&cid, &format!("{i} {big}"));
            flood_tx
                .send(Message::text(frame.to_string()))
                .await
                .unwrap();
        }
        flood_tx
    });

    // While the flood runs (and after), pair B's messages keep going, each
    // within a receive's hang guard: a hub or store that waited on the
    // slow client would hold them until its 4002. How fast they go is
    // bench/'s to measure; the round trips are printed, not asserted.
    let mut pace = tokio::time::interval(Duration::from_millis(25));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut worst = Duration::ZERO;
    for i in 0..40 {
        pace.tick().await;
        let sent = tokio::time::Instant::now();
        b.client_ws.send(text(&b.cid, &format!("b{i}"))).await;
        let got = b.agent_ws.recv().await;
        worst = worst.max(sent.elapsed());
        assert_eq!(got["payload"]["content"], format!("b{i}"));
        b.client_ws.recv().await;
    }
    let _flood_tx = flood.await.unwrap();
    eprintln!("pair B round trip during the flood: worst {worst:?}");

    // Everything the flooder sent is stored.
    wait_until("every flooded text is stored", async || {
        app.all_messages(&flooder, &conv_a).await.len() == FLOOD
    })
    .await;

    // The slow client, reading at last, finds the 4002 close after what had
    // already been written to its socket; far fewer than all 600 messages.
    let mut seen = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(15), slow.inner.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Text(_))) => seen += 1,
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(4002), "after {seen} frames");
    assert!(seen < FLOOD, "the queue was cut, not delivered ({seen})");
    drain.abort();
}
