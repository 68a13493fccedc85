//! Restarts, graceful shutdown, liveness.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn shutdown_closes_with_1001_and_a_restart_keeps_all_history() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    for i in 1..=3 {
        p.client_ws.send(text(&p.cid, &format!("before {i}"))).await;
        p.client_ws.recv().await;
    }
    let stopping = tokio::spawn(app.stop());
    assert_eq!(p.client_ws.recv_close().await, Some(1001));
    assert_eq!(p.agent_ws.recv_close().await, Some(1001));
    let (db_url, dir) = stopping.await.unwrap();

    let app = spawn_on(db_url, dir, |_| {}).await;
    let history = app.all_messages(&p.client, &p.cid).await;
    let contents: Vec<_> = history
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["before 1", "before 2", "before 3"]);
    let mut client_ws = app.connect("/chats/clients", &p.client.token).await;
    client_ws.send(text(&p.cid, "after restart")).await;
    let m = client_ws.recv().await;
    assert_eq!(m["payload"]["seq"], 4, "numbering continues");
    let conv = app
        .get(&format!("/conversations/{}", p.cid), &p.client.token)
        .await;
    assert_eq!(conv.status(), 200);
    let conv: serde_json::Value = conv.json().await.unwrap();
    assert_eq!(
        conv["support_id"],
        p.agent.id.as_str(),
        "assignment survived"
    );
}

#[tokio::test]
async fn the_server_pings_and_closes_silent_peers() {
    let app = spawn_with(|s| {
        s.ws_ping_secs = 1;
        s.ws_idle_secs = 3;
    })
    .await;
    let token = mint("client", "c1", 600);
    // A live client: reading answers pings (tungstenite pongs), so it stays.
    let mut live = app.connect("/chats/clients", &token).await;
    // A silent one: never reads, so it never pongs.
    let mut silent = app.connect("/chats/clients", &token).await;

    // The server's pings are the clock: the live client answers each, and
    // five of them (one a second) take the server past the silent one's 3 s
    // idle timeout. Reading the silent one before would answer its pings
    // and keep it alive. Each ping within a receive's hang guard.
    let mut pings = 0;
    while pings < 5 {
        let frame = tokio::time::timeout(RECV_TIMEOUT, live.inner.next())
            .await
            .expect("the server pings")
            .expect("live connection stays up");
        match frame.expect("live connection stays up") {
            Message::Ping(_) => pings += 1,
            Message::Close(c) => panic!("live client closed: {c:?}"),
            _ => {}
        }
    }
    // The silent one was closed without a frame from it: its stream ends
    // (with the 1000 close frame, or with the TCP close when its late pong
    // replies hit the already-closed socket).
    let code = silent.recv_close_within(RECV_TIMEOUT).await;
    assert!(matches!(code, None | Some(1000)), "{code:?}");
    // While the live one, which answered, is still served.
    live.expect_nothing_queued().await;
}
