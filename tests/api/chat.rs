//! The seed document's examples, sent by a real WebSocket client to the real
//! server, give exactly the documented results.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn text_is_stored_and_received_by_both_participants_in_the_seed_shape() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    // The seed's example, with the conversation's real id.
    p.client_ws
        .send(json!({ "type": "text", "conversation_id": p.cid, "content": "Hello, I need help with my order." }))
        .await;
    let to_agent = p.agent_ws.recv().await;
    let to_client = p.client_ws.recv().await;
    assert_eq!(
        to_agent, to_client,
        "every participant gets the same frame, sender included"
    );

    let frame = to_agent.as_object().unwrap();
    assert_eq!(
        frame.keys().collect::<Vec<_>>(),
        ["payload", "sub_type", "timestamp", "type"]
    );
    assert_eq!(to_agent["type"], "text");
    assert_eq!(to_agent["sub_type"], "");
    assert_timestamp(&to_agent["timestamp"]);
    let payload = to_agent["payload"].as_object().unwrap();
    let mut keys: Vec<_> = payload.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "client_msg_id",
            "content",
            "conversation_id",
            "created_at",
            "id",
            "message_type",
            "read_at",
            "sender_id",
            "seq"
        ]
    );
    assert_eq!(payload["conversation_id"], p.cid.as_str());
    assert_eq!(
        payload["sender_id"],
        p.client.id.as_str(),
        "sender comes from the token"
    );
    assert_eq!(payload["message_type"], "text");
    assert_eq!(payload["content"], "Hello, I need help with my order.");
    assert_eq!(payload["read_at"], Value::Null);
    assert_eq!(payload["client_msg_id"], Value::Null);
    assert_eq!(payload["seq"], 1);
    assert_eq!(payload["id"].as_str().unwrap().len(), 26);
    assert_timestamp(&payload["created_at"]);

    // And it is stored: history returns the same message object.
    let history = app.all_messages(&p.client, &p.cid).await;
    assert_eq!(history.len(), 1);
    assert_eq!(&history[0], &to_agent["payload"]);

    // The agent answers; seq goes on.
    p.agent_ws
        .send(text(&p.cid, "Sure, what is the order number?"))
        .await;
    let a = p.client_ws.recv().await;
    assert_eq!(a["payload"]["sender_id"], p.agent.id.as_str());
    assert_eq!(a["payload"]["seq"], 2);
    assert_eq!(p.agent_ws.recv().await, a);
}

#[tokio::test]
async fn sender_id_in_the_payload_is_ignored() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut frame = text(&p.cid, "spoof?");
    frame["sender_id"] = json!(p.agent.id);
    p.client_ws.send(frame).await;
    let got = p.agent_ws.recv().await;
    assert_eq!(got["payload"]["sender_id"], p.client.id.as_str());
}

#[tokio::test]
async fn typing_reaches_the_other_side_only_and_is_never_stored() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    for sub_type in ["typing_started", "typing_stopped"] {
        p.client_ws.send(typing(&p.cid, sub_type)).await;
        let got = p.agent_ws.recv().await;
        assert_eq!(got["type"], "system");
        assert_eq!(got["sub_type"], sub_type);
        assert_timestamp(&got["timestamp"]);
        assert_eq!(
            got["payload"],
            json!({ "conversation_id": p.cid, "sender_id": p.client.id })
        );
    }
    // Agent typing reaches the client.
    p.agent_ws.send(typing(&p.cid, "typing_started")).await;
    let got = p.client_ws.recv().await;
    assert_eq!(got["payload"]["sender_id"], p.agent.id.as_str());
    // The client never saw its own typing frames (the first frame it got
    // was the agent's), nor anything after it.
    p.client_ws.expect_nothing_queued().await;
    assert!(
        app.all_messages(&p.client, &p.cid).await.is_empty(),
        "typing is not stored"
    );
}

#[tokio::test]
async fn typing_skips_all_of_the_senders_own_connections() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut client_tab2 = app.connect("/chats/clients", &p.client.token).await;
    p.client_ws.send(typing(&p.cid, "typing_started")).await;
    // Published to the recipients at once (the agent has it): nothing was
    // queued for the sender's other tab.
    assert_eq!(p.agent_ws.recv().await["sub_type"], "typing_started");
    client_tab2.expect_nothing_queued().await;
}

#[tokio::test]
async fn every_connection_of_a_user_receives_texts() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut agent_tab2 = app.connect("/chats/supports", &p.agent.token).await;
    let mut client_tab2 = app.connect("/chats/clients", &p.client.token).await;
    p.client_ws.send(text(&p.cid, "to all tabs")).await;
    let frames = [
        p.client_ws.recv().await,
        client_tab2.recv().await,
        p.agent_ws.recv().await,
        agent_tab2.recv().await,
    ];
    assert!(frames.iter().all(|f| f == &frames[0]));
}

#[tokio::test]
async fn a_closed_conversation_accepts_nothing() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "before close")).await;
    p.client_ws.recv().await;
    p.agent_ws.recv().await;
    assert_eq!(app.close(&p.agent, &p.cid).await.status(), 200);
    // Both sides are told.
    for ws in [&mut p.client_ws, &mut p.agent_ws] {
        let closed = ws.recv().await;
        assert_eq!(closed["sub_type"], "conversation_closed");
        assert_eq!(
            closed["payload"],
            json!({ "conversation_id": p.cid, "closed_by": p.agent.id })
        );
    }
    p.client_ws.send(text(&p.cid, "after close")).await;
    assert_error(&p.client_ws.recv().await, "conversation_closed");
    p.client_ws.send(typing(&p.cid, "typing_started")).await;
    assert_error(&p.client_ws.recv().await, "conversation_closed");
    p.agent_ws.expect_nothing_queued().await;
    let history = app.all_messages(&p.client, &p.cid).await;
    assert_eq!(history.len(), 1, "nothing stored after close");
}

#[tokio::test]
async fn frames_without_conversation_id_or_type_are_dropped_and_the_connection_still_works() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws
        .send(json!({ "type": "text", "content": "no conversation" }))
        .await;
    assert_error(&p.client_ws.recv().await, "invalid_message");
    p.client_ws
        .send(json!({ "conversation_id": p.cid, "content": "no type" }))
        .await;
    let e = p.client_ws.recv().await;
    assert_error(&e, "invalid_message");
    assert_eq!(e["payload"]["conversation_id"], p.cid.as_str());
    // Still open and working; and the agent's first frame is this text:
    // nothing of the refused frames (read before it) reached them.
    p.client_ws.send(text(&p.cid, "still here")).await;
    assert_eq!(p.agent_ws.recv().await["payload"]["content"], "still here");
    assert_eq!(app.all_messages(&p.client, &p.cid).await.len(), 1);
}

#[tokio::test]
async fn server_sends_typing_stopped_when_a_typing_sender_sends_a_text() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(typing(&p.cid, "typing_started")).await;
    assert_eq!(p.agent_ws.recv().await["sub_type"], "typing_started");
    p.client_ws.send(text(&p.cid, "done typing")).await;
    let first = p.agent_ws.recv().await;
    let second = p.agent_ws.recv().await;
    assert_eq!(first["type"], "text");
    assert_eq!(second["sub_type"], "typing_stopped");
    assert_eq!(second["payload"]["sender_id"], p.client.id.as_str());
    // Not after a second text: the connection is no longer typing.
    p.client_ws.send(text(&p.cid, "again")).await;
    assert_eq!(p.agent_ws.recv().await["payload"]["content"], "again");
    // The sender's own copies, then a barrier: its reader has finished
    // with "again" (a typing_stopped would be published by then), and the
    // agent's barrier comes after whatever that published.
    for content in ["done typing", "again"] {
        assert_eq!(p.client_ws.recv().await["payload"]["content"], content);
    }
    p.client_ws.expect_nothing_queued().await;
    p.agent_ws.expect_nothing_queued().await;
}

#[tokio::test]
async fn server_sends_typing_stopped_when_a_typing_connection_goes_away() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.agent_ws.send(typing(&p.cid, "typing_started")).await;
    assert_eq!(p.client_ws.recv().await["sub_type"], "typing_started");
    drop(p.agent_ws); // TCP gone without a close handshake
    let stopped = p.client_ws.recv().await;
    assert_eq!(stopped["sub_type"], "typing_stopped");
    assert_eq!(stopped["payload"]["sender_id"], p.agent.id.as_str());
}

#[tokio::test]
async fn a_retried_client_msg_id_is_stored_once_and_echoed_to_the_sender_only() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut first = text(&p.cid, "pay invoice 7");
    first["client_msg_id"] = json!("c-7");
    p.client_ws.send(first).await;
    let original = p.client_ws.recv().await;
    assert_eq!(original["payload"]["client_msg_id"], "c-7");
    assert_eq!(p.agent_ws.recv().await, original);

    // Retry from a new connection (after a reconnect), different content.
    let mut retry_ws = app.connect("/chats/clients", &p.client.token).await;
    let mut retry = text(&p.cid, "pay invoice 7 (retry)");
    retry["client_msg_id"] = json!("c-7");
    retry_ws.send(retry).await;
    assert_eq!(
        retry_ws.recv().await,
        original,
        "the stored message comes back"
    );
    // A duplicate is answered to the retrying connection only: nothing was
    // queued for the others.
    p.agent_ws.expect_nothing_queued().await;
    p.client_ws.expect_nothing_queued().await;
    assert_eq!(app.all_messages(&p.client, &p.cid).await.len(), 1);
}

#[tokio::test]
async fn assignment_is_announced_to_both_sides() {
    let app = spawn_app().await;
    let client = app.user("guest");
    let agent = app.user("support");
    let conv = app.open_conversation(&client).await;
    let cid = conv["id"].as_str().unwrap();
    let mut client_ws = app.connect("/chats/clients", &client.token).await;
    let mut agent_ws = app.connect("/chats/supports", &agent.token).await;
    assert_eq!(app.assign(&agent, cid).await.status(), 200);
    for ws in [&mut client_ws, &mut agent_ws] {
        let e = ws.recv().await;
        assert_eq!(e["sub_type"], "conversation_assigned");
        assert_eq!(
            e["payload"],
            json!({ "conversation_id": cid, "support_id": agent.id, "previous_support_id": null })
        );
    }
}

#[tokio::test]
async fn two_racing_senders_produce_seq_1_to_200_in_order_everywhere() {
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    })
    .await;
    let mut p = app.chat_pair().await;
    let mut watcher = app.connect("/chats/clients", &p.client.token).await;
    let cid = p.cid.clone();
    let send_all = |mut ws: Ws, who: &'static str, cid: String| async move {
        for i in 0..100 {
            ws.send(text(&cid, &format!("{who} {i}"))).await;
        }
        ws
    };
    let (c, a) = tokio::join!(
        send_all(
            std::mem::replace(
                &mut p.client_ws,
                app.connect("/chats/clients", &p.client.token).await
            ),
            "client",
            cid.clone()
        ),
        send_all(
            std::mem::replace(
                &mut p.agent_ws,
                app.connect("/chats/supports", &p.agent.token).await
            ),
            "agent",
            cid.clone()
        ),
    );
    // A watching connection sees every text in seq order.
    let mut seqs = Vec::new();
    while seqs.len() < 200 {
        let f = watcher.recv().await;
        if f["type"] == "text" {
            seqs.push(f["payload"]["seq"].as_i64().unwrap());
        }
    }
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    let stored: Vec<i64> = app
        .all_messages(&p.client, &cid)
        .await
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        stored,
        (1..=200).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    drop((c, a));
}
