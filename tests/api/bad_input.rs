//! Every row of the contract's bad-input table, and the close codes.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn invalid_json_and_non_objects() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    for bad in [
        "not json",
        "{\"type\":",
        "[1,2,3]",
        "\"text\"",
        "42",
        "null",
    ] {
        p.client_ws.send_text(bad).await;
        assert_error(&p.client_ws.recv().await, "invalid_json");
    }
    p.agent_ws.expect_nothing_queued().await;
}

#[tokio::test]
async fn invalid_message_rows() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let cid = p.cid.clone();
    let cases = [
        json!({ "conversation_id": cid, "content": "no type" }),
        json!({ "type": "text", "content": "no conversation" }),
        json!({ "type": 1, "conversation_id": cid, "content": "x" }),
        json!({ "type": "text", "conversation_id": 12, "content": "x" }),
        json!({ "type": "video", "conversation_id": cid }),
        json!({ "type": "system", "sub_type": "dancing", "conversation_id": cid }),
        json!({ "type": "system", "conversation_id": cid }),
        json!({ "type": "system", "sub_type": 5, "conversation_id": cid }),
        json!({ "type": "text", "conversation_id": cid }),
        json!({ "type": "text", "conversation_id": cid, "content": ["x"] }),
        json!({ "type": "text", "conversation_id": cid, "content": "x", "client_msg_id": "" }),
        json!({ "type": "text", "conversation_id": cid, "content": "x", "client_msg_id": "k".repeat(65) }),
        json!({ "type": "text", "conversation_id": cid, "content": "x", "client_msg_id": 7 }),
    ];
    for case in cases {
        p.client_ws.send(case.clone()).await;
        let e = p.client_ws.recv().await;
        assert_error(&e, "invalid_message");
    }
    // null client_msg_id is the same as absent.
    p.client_ws.send(json!({ "type": "text", "conversation_id": cid, "content": "ok", "client_msg_id": null })).await;
    assert_eq!(p.client_ws.recv().await["type"], "text");
    assert_eq!(app.all_messages(&p.client, &cid).await.len(), 1);
}

#[tokio::test]
async fn invalid_content_rows() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    for content in [
        String::new(),
        "  \n\t ".into(),
        "a".repeat(4097),
        "€".repeat(4097),
    ] {
        p.client_ws.send(text(&p.cid, &content)).await;
        let e = p.client_ws.recv().await;
        assert_error(&e, "invalid_content");
        assert_eq!(e["payload"]["conversation_id"], p.cid.as_str());
    }
    // Exactly 4,096 characters (multi-byte) is fine.
    p.client_ws.send(text(&p.cid, &"€".repeat(4096))).await;
    assert_eq!(
        p.client_ws.recv().await["payload"]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        4096
    );
    // A bad content outranks an unknown conversation (row order).
    p.client_ws.send(text("not-a-ulid", "")).await;
    assert_error(&p.client_ws.recv().await, "invalid_content");
}

#[tokio::test]
async fn conversation_not_found_for_bad_ids_missing_and_foreign_conversations() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    // A conversation of someone else.
    let other = app.user("client");
    let foreign = app.open_conversation(&other).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every agent hears of a new conversation in the queue.
    assert_eq!(p.agent_ws.recv().await["sub_type"], "conversation_created");
    let mut other_ws = app.connect("/chats/clients", &other.token).await;
    for cid in ["not-a-ulid", "01KAAWW5V95WFFDERJZCTDE2QQ", foreign.as_str()] {
        p.client_ws.send(text(cid, "hello?")).await;
        let e = p.client_ws.recv().await;
        assert_error(&e, "conversation_not_found");
        assert_eq!(e["payload"]["conversation_id"], cid);
        p.client_ws.send(typing(cid, "typing_started")).await;
        assert_error(&p.client_ws.recv().await, "conversation_not_found");
    }
    // The agent is not a participant of a conversation assigned to nobody.
    p.agent_ws.send(text(&foreign, "sneaky")).await;
    assert_error(&p.agent_ws.recv().await, "conversation_not_found");
    other_ws.expect_nothing_queued().await;
    assert!(app.all_messages(&other, &foreign).await.is_empty());
}

#[tokio::test]
async fn a_closed_conversation_of_someone_else_is_not_found_not_closed() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let other = app.user("client");
    let foreign = app.open_conversation(&other).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.close(&other, &foreign).await;
    p.client_ws.send(text(&foreign, "x")).await;
    assert_error(&p.client_ws.recv().await, "conversation_not_found");
}

#[tokio::test]
async fn storage_failure_is_unavailable_and_nothing_is_broadcast() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    // Break message storage under the running server.
    let db = qc_persistence::connect(&app.db_url).await.unwrap();
    use_raw_sql(&db, "ALTER TABLE messages RENAME TO messages_gone").await;
    p.client_ws.send(text(&p.cid, "lost?")).await;
    let e = p.client_ws.recv().await;
    assert_error(&e, "unavailable");
    assert_eq!(e["payload"]["conversation_id"], p.cid.as_str());
    p.agent_ws.expect_nothing_queued().await;
    // Repaired: the client retries and it works; the connection stayed open.
    use_raw_sql(&db, "ALTER TABLE messages_gone RENAME TO messages").await;
    p.client_ws.send(text(&p.cid, "retry")).await;
    let ok = p.agent_ws.recv().await;
    assert_eq!(ok["payload"]["content"], "retry");
    assert_eq!(ok["payload"]["seq"], 1, "the failed attempt used no number");
}

async fn use_raw_sql(db: &qc_persistence::Database, sql: &str) {
    db.execute_sql(sql).await.unwrap();
}

#[tokio::test]
async fn binary_frames_close_with_1003() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws
        .inner
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(p.client_ws.recv_close().await, Some(1003));
    // Others are unaffected.
    p.agent_ws.send(text(&p.cid, "still fine")).await;
    assert_eq!(p.agent_ws.recv().await["payload"]["content"], "still fine");
}

#[tokio::test]
async fn messages_over_64_kib_close_with_1009() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let huge = format!(
        r#"{{"type":"text","conversation_id":"{}","content":"{}"}}"#,
        p.cid,
        "x".repeat(70 * 1024)
    );
    p.client_ws.inner.send(Message::text(huge)).await.unwrap();
    assert_eq!(p.client_ws.recv_close().await, Some(1009));
    // Just under 64 KiB is read (and refused for its content length instead).
    let mut c2 = app.connect("/chats/clients", &p.client.token).await;
    let big = format!(
        r#"{{"type":"text","conversation_id":"{}","content":"{}"}}"#,
        p.cid,
        "x".repeat(60 * 1024)
    );
    c2.send_text(&big).await;
    assert_error(&c2.recv().await, "invalid_content");
}

#[tokio::test]
async fn flooding_gets_rate_limited_errors_then_1008() {
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 5;
        s.ws_rate_burst = 5;
    })
    .await;
    let mut p = app.chat_pair().await;
    // Burst of 5 passes; the next ones are dropped with one rate_limited error.
    for i in 0..10 {
        p.client_ws
            .send(typing(
                &p.cid,
                if i % 2 == 0 {
                    "typing_started"
                } else {
                    "typing_stopped"
                },
            ))
            .await;
    }
    let e = p.client_ws.recv().await;
    assert_error(&e, "rate_limited");
    // The client's reader has read all ten once it answers a ping (a ping
    // passes the bucket); the typing frames it let through were published
    // as it read them.
    let mut after_error = p.client_ws.ping().await;
    // All that was published for the agent is before their barrier's answer.
    let delivered = p.agent_ws.until_barrier().await;
    assert_eq!(
        delivered.len(),
        5,
        "only the burst got through: {delivered:?}"
    );
    assert!(
        delivered
            .iter()
            .all(|f| f["sub_type"] == "typing_started" || f["sub_type"] == "typing_stopped"),
        "{delivered:?}"
    );
    // At most one error a second: the client's next frame is a text the
    // agent sends now, queued after anything its reader queued for the ten.
    // (And a connection over its limit for a moment stays open.)
    p.agent_ws.send(text(&p.cid, "after the burst")).await;
    after_error.push(p.client_ws.recv().await);
    assert_eq!(after_error.len(), 1, "one error only: {after_error:?}");
    assert_eq!(after_error[0]["payload"]["content"], "after the burst");
    assert_eq!(
        p.agent_ws.recv().await["payload"]["content"],
        "after the burst"
    );

    // Keep flooding (on a fresh connection, so the drops above do not
    // count) until the server closes it: with 1008. That the close comes a
    // full 5 s after the first drop, not sooner, is the flood detector's
    // unit test (adapters/http/src/ws/rate.rs), on its own clock.
    let cid = p.cid.clone();
    let mut ws = app.connect("/chats/clients", &p.client.token).await;
    // The flood's pace (50 frames a second against 5 allowed), not a wait.
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let flood = async {
        loop {
            pace.tick().await;
            if ws
                .inner
                .send(Message::text(typing(&cid, "typing_started").to_string()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    // A hang guard: a flood that is never cut ends here, and the close
    // below is then missing.
    let _ = tokio::time::timeout(Duration::from_secs(12), flood).await;
    assert_eq!(
        ws.recv_close_within(Duration::from_secs(3)).await,
        Some(1008)
    );
    // Other connections are untouched.
    p.agent_ws.send(text(&p.cid, "calm")).await;
    let mut got = p.agent_ws.recv().await;
    while got["type"] != "text" {
        // The flood's permitted frames, and the server's typing_stopped
        // on behalf of the flooder's closed connection.
        assert!(
            got["sub_type"] == "typing_started" || got["sub_type"] == "typing_stopped",
            "{got}"
        );
        got = p.agent_ws.recv().await;
    }
    assert_eq!(got["payload"]["content"], "calm");
}

#[tokio::test]
async fn rate_limit_zero_turns_it_off() {
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    })
    .await;
    let mut p = app.chat_pair().await;
    for _ in 0..100 {
        p.client_ws.send(typing(&p.cid, "typing_started")).await;
    }
    for _ in 0..100 {
        assert_eq!(p.agent_ws.recv().await["sub_type"], "typing_started");
    }
}
