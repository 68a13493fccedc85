//! The live desk on one node: queue events, internal notes, transfer,
//! presence, unread counts and last messages — over real sockets.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

fn note(cid: &str, content: &str) -> Value {
    json!({ "type": "note", "conversation_id": cid, "content": content })
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn transfer(app: &TestApp, who: &User, cid: &str, to: Option<&str>) -> reqwest::Response {
    app.post(
        &format!("/conversations/{cid}/transfer"),
        &who.token,
        json!({ "to": to }),
    )
    .await
}

async fn conversation(app: &TestApp, who: &User, cid: &str) -> Value {
    let r = app.get(&format!("/conversations/{cid}"), &who.token).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Waits for `user`'s presence frame with `status`; returns it.
async fn presence_of(ws: &mut Ws, user: &str, status: &str) -> Value {
    loop {
        let f = ws
            .recv_within(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no presence {status} for {user} within 10 s"));
        if f["sub_type"] == "presence" && f["payload"]["user_id"] == user {
            assert_eq!(f["payload"]["status"], status, "{f}");
            return f;
        }
    }
}

#[tokio::test]
async fn every_agent_sees_the_queue_grow_and_shrink_live() {
    let app = spawn_app().await;
    let a1 = app.user("support");
    let a2 = app.user("support");
    let customer = app.user("guest");
    let mut a1_ws = app.connect("/chats/supports", &a1.token).await;
    let mut a2_ws = app.connect("/chats/supports", &a2.token).await;
    let mut owner_ws = app.connect("/chats/clients", &customer.token).await;

    let opened = app.open_conversation(&customer).await;
    let cid = opened["id"].as_str().unwrap();
    for ws in [&mut a1_ws, &mut a2_ws, &mut owner_ws] {
        let f = ws.recv().await;
        assert_eq!(f["type"], "system");
        assert_eq!(f["sub_type"], "conversation_created");
        assert_eq!(
            f["payload"], opened,
            "the Conversation as the owner sees it"
        );
        assert_eq!(f["payload"]["last_message"], Value::Null);
        assert_eq!(f["payload"]["unread_count"], 0);
    }

    assert_eq!(app.assign(&a2, cid).await.status(), 200);
    for ws in [&mut a1_ws, &mut a2_ws, &mut owner_ws] {
        let f = ws.recv().await;
        assert_eq!(f["sub_type"], "conversation_assigned");
        assert_eq!(
            f["payload"],
            json!({ "conversation_id": cid, "support_id": a2.id, "previous_support_id": null })
        );
    }

    // Closed while queued: every agent's queue loses it.
    let queued = app.open_conversation(&customer).await;
    let qid = queued["id"].as_str().unwrap();
    for ws in [&mut a1_ws, &mut a2_ws] {
        assert_eq!(ws.recv().await["sub_type"], "conversation_created");
    }
    assert_eq!(owner_ws.recv().await["sub_type"], "conversation_created");
    assert_eq!(app.close(&customer, qid).await.status(), 200);
    for ws in [&mut a1_ws, &mut a2_ws, &mut owner_ws] {
        let f = ws.recv().await;
        assert_eq!(f["sub_type"], "conversation_closed");
        assert_eq!(f["payload"]["conversation_id"], qid);
    }
    // Closing an assigned one is for its participants only.
    assert_eq!(app.close(&customer, cid).await.status(), 200);
    assert_eq!(a2_ws.recv().await["sub_type"], "conversation_closed");
    assert_eq!(owner_ws.recv().await["sub_type"], "conversation_closed");
    a1_ws.expect_nothing_queued().await;
}

/// A customer and an agent in an assigned conversation, the agent with a
/// second connection, and a text before a note.
#[tokio::test]
async fn a_note_never_reaches_the_customer_live() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut agent_tab = app.connect("/chats/supports", &p.agent.token).await;
    p.agent_ws.send(note(&p.cid, "VIP: refund approved")).await;
    for ws in [&mut p.agent_ws, &mut agent_tab] {
        let f = ws.recv().await;
        assert_eq!(f["type"], "note", "{f}");
        assert_eq!(f["sub_type"], "");
        assert_eq!(f["payload"]["message_type"], "note");
        assert_eq!(f["payload"]["content"], "VIP: refund approved");
        assert_eq!(f["payload"]["seq"], 1);
    }
    // The customer's next frame is the text after the note: no note came
    // first, and the seq gap is the note's.
    p.agent_ws
        .send(text(&p.cid, "Your refund is on its way"))
        .await;
    let f = p.client_ws.recv().await;
    assert_eq!(f["type"], "text");
    assert_eq!(f["payload"]["content"], "Your refund is on its way");
    assert_eq!(f["payload"]["seq"], 2);
}

#[tokio::test]
async fn a_note_never_reaches_the_customer_in_history() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "hi")).await;
    p.agent_ws.recv().await;
    p.agent_ws.send(note(&p.cid, "internal")).await;
    let n = p.agent_ws.recv().await;
    let customer_history = app.all_messages(&p.client, &p.cid).await;
    assert_eq!(customer_history.len(), 1);
    assert!(customer_history.iter().all(|m| m["message_type"] == "text"));
    let agent_history = app.all_messages(&p.agent, &p.cid).await;
    assert_eq!(agent_history.len(), 2);
    assert_eq!(
        agent_history[1], n["payload"],
        "agents get notes in history"
    );
    // The note is no cursor for the customer: it does not exist for them.
    let nid = n["payload"]["id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/conversations/{}/messages?after={nid}", p.cid),
            &p.client.token,
        )
        .await;
    assert_eq!(r.status(), 400);
}

/// The first conversation of `who`'s listing (`GET /conversations`).
async fn first_listed(app: &TestApp, who: &User) -> Value {
    let r = app.get("/conversations", &who.token).await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    page["items"][0].clone()
}

/// A pair whose agent wrote a reply (read by nobody yet) and then a note.
async fn reply_then_note(app: &TestApp) -> (Pair, Value, Value) {
    let mut p = app.chat_pair().await;
    p.agent_ws.send(text(&p.cid, "a reply")).await;
    let reply = p.client_ws.recv().await;
    assert_eq!(p.agent_ws.recv().await, reply, "the sender's own copy");
    p.agent_ws.send(note(&p.cid, "secret")).await;
    let n = p.agent_ws.recv().await;
    assert_eq!(n["type"], "note");
    (p, reply["payload"].clone(), n["payload"].clone())
}

#[tokio::test]
async fn a_note_never_reaches_the_customer_as_last_message() {
    let app = spawn_app().await;
    let (p, reply, note) = reply_then_note(&app).await;
    let mine = first_listed(&app, &p.client).await;
    assert_eq!(mine["last_message"], reply, "the latest text");
    assert_eq!(
        conversation(&app, &p.client, &p.cid).await["last_message"],
        reply
    );
    // The agent's own view has the note last.
    assert_eq!(first_listed(&app, &p.agent).await["last_message"], note);
}

#[tokio::test]
async fn a_note_never_counts_in_the_customers_unread_count() {
    let app = spawn_app().await;
    let (p, _reply, _note) = reply_then_note(&app).await;
    let mine = first_listed(&app, &p.client).await;
    assert_eq!(mine["unread_count"], 1, "the reply only");
    assert_eq!(
        conversation(&app, &p.client, &p.cid).await["unread_count"],
        1
    );
}

#[tokio::test]
async fn a_customer_cannot_write_a_note() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(note(&p.cid, "let me in")).await;
    assert_error(&p.client_ws.recv().await, "invalid_message");
    p.client_ws
        .send(json!({ "type": "note", "conversation_id": p.cid, "content": "  " }))
        .await;
    assert_error(&p.client_ws.recv().await, "invalid_message");
    assert!(app.all_messages(&p.agent, &p.cid).await.is_empty());
    p.agent_ws.expect_nothing_queued().await;
}

#[tokio::test]
async fn unread_counts_and_last_messages_are_right_for_both_sides() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let mut ids = Vec::new();
    for m in ["one", "two", "three"] {
        p.client_ws.send(text(&p.cid, m)).await;
        ids.push(p.agent_ws.recv().await["payload"]["id"].clone());
        p.client_ws.recv().await;
    }
    p.agent_ws.send(text(&p.cid, "answer")).await;
    let answer = p.client_ws.recv().await["payload"].clone();
    let agent_view = conversation(&app, &p.agent, &p.cid).await;
    assert_eq!(agent_view["unread_count"], 3);
    assert_eq!(agent_view["last_message"], answer);
    let client_view = conversation(&app, &p.client, &p.cid).await;
    assert_eq!(client_view["unread_count"], 1);

    let path = format!("/conversations/{}/read", p.cid);
    let read = async |who: &User, up_to: &Value| {
        app.post(&path, &who.token, json!({ "up_to": up_to })).await
    };
    assert_eq!(read(&p.agent, &ids[1]).await.status(), 204);
    assert_eq!(
        conversation(&app, &p.agent, &p.cid).await["unread_count"],
        1
    );
    assert_eq!(read(&p.agent, &ids[2]).await.status(), 204);
    assert_eq!(
        conversation(&app, &p.agent, &p.cid).await["unread_count"],
        0
    );
    assert_eq!(
        conversation(&app, &p.client, &p.cid).await["unread_count"],
        1,
        "the agent reading changes nothing of the customer's count"
    );
    assert_eq!(read(&p.client, &answer["id"]).await.status(), 204);
    assert_eq!(
        conversation(&app, &p.client, &p.cid).await["unread_count"],
        0
    );
}

#[tokio::test]
async fn a_transfer_switches_deliveries_at_once_and_tells_the_customer() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let a2 = app.user("support");
    let mut a2_ws = app.connect("/chats/supports", &a2.token).await;
    p.client_ws.send(text(&p.cid, "before")).await;
    assert_eq!(p.agent_ws.recv().await["payload"]["content"], "before");
    p.client_ws.recv().await;

    let r = transfer(&app, &p.agent, &p.cid, Some(&a2.id)).await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["support_id"], a2.id.as_str());
    let expected = json!({
        "conversation_id": p.cid, "support_id": a2.id, "previous_support_id": p.agent.id,
    });
    for ws in [&mut p.agent_ws, &mut a2_ws, &mut p.client_ws] {
        let f = ws.recv().await;
        assert_eq!(f["sub_type"], "conversation_assigned");
        assert_eq!(f["payload"], expected);
    }

    p.client_ws.send(text(&p.cid, "after")).await;
    let got = a2_ws.recv().await;
    assert_eq!(got["payload"]["content"], "after");
    assert_eq!(got["payload"]["seq"], 2);
    // Published (the new agent has it): nothing for the previous one.
    p.agent_ws.expect_nothing_queued().await;
    // The previous agent is a stranger now.
    let r = app
        .get(&format!("/conversations/{}", p.cid), &p.agent.token)
        .await;
    assert_eq!(r.status(), 404);
    p.agent_ws.send(text(&p.cid, "still here?")).await;
    assert_error(&p.agent_ws.recv().await, "conversation_not_found");
    // The new agent sees the whole history.
    assert_eq!(app.all_messages(&a2, &p.cid).await.len(), 2);
}

#[tokio::test]
async fn a_transfer_back_to_the_queue_and_its_refusals() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    let other = app.user("support");
    let mut other_ws = app.connect("/chats/supports", &other.token).await;

    // Unknown agents, strangers and customers are refused; nothing moves.
    let r = transfer(&app, &p.agent, &p.cid, Some("nobody-ever")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_agent");
    assert_eq!(transfer(&app, &other, &p.cid, None).await.status(), 404);
    let r = transfer(&app, &p.client, &p.cid, None).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");
    let r = transfer(&app, &p.agent, &p.cid, Some(&p.agent.id)).await;
    assert_eq!(r.status(), 200, "to oneself changes nothing");
    p.agent_ws.expect_nothing_queued().await;

    // Back to the queue: every agent's queue has it again.
    assert_eq!(transfer(&app, &p.agent, &p.cid, None).await.status(), 200);
    let expected =
        json!({ "conversation_id": p.cid, "support_id": null, "previous_support_id": p.agent.id });
    for ws in [&mut p.agent_ws, &mut other_ws, &mut p.client_ws] {
        let f = ws.recv().await;
        assert_eq!(f["sub_type"], "conversation_assigned");
        assert_eq!(f["payload"], expected);
    }
    let queue: Value = app
        .get("/conversations?queue=true", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&queue), vec![p.cid.clone()]);
    assert_eq!(app.assign(&other, &p.cid).await.status(), 200);
    assert_eq!(app.close(&other, &p.cid).await.status(), 200);
    let r = transfer(&app, &other, &p.cid, Some(&p.agent.id)).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "conversation_closed"
    );
}

#[tokio::test]
async fn presence_goes_online_away_online_offline_with_one_event_each() {
    let app = spawn_app().await;
    let customer = app.user("client");
    let agent = app.user("support");
    let watcher = app.user("support");
    let cid = app.open_conversation(&customer).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.assign(&agent, &cid).await.status(), 200);
    let mut watcher_ws = app
        .connect("/chats/supports", &watcher.token)
        .await
        .with_presence();
    let mut customer_ws = app
        .connect("/chats/clients", &customer.token)
        .await
        .with_presence();
    // The customer's first frame says the agent is offline (not connected).
    let first = customer_ws.recv().await;
    assert_eq!(first["sub_type"], "presence");
    assert_eq!(
        first["payload"],
        json!({ "user_id": agent.id, "side": "agent", "status": "offline" })
    );

    let tab1 = app.connect("/chats/supports", &agent.token).await;
    presence_of(&mut watcher_ws, &agent.id, "online").await;
    presence_of(&mut customer_ws, &agent.id, "online").await;
    // A second tab changes nothing.
    let tab2 = app.connect("/chats/supports", &agent.token).await;

    let r = put(
        &app,
        "/agents/me/status",
        &agent.token,
        json!({ "status": "away" }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let entry: Value = r.json().await.unwrap();
    assert_eq!(
        entry,
        json!({ "id": agent.id, "status": "away", "open_conversations": 1 })
    );
    presence_of(&mut watcher_ws, &agent.id, "away").await;
    presence_of(&mut customer_ws, &agent.id, "away").await;
    // Setting it again is no change.
    put(
        &app,
        "/agents/me/status",
        &agent.token,
        json!({ "status": "away" }),
    )
    .await;
    let r = put(
        &app,
        "/agents/me/status",
        &agent.token,
        json!({ "status": "online" }),
    )
    .await;
    assert_eq!(r.status(), 200);
    presence_of(&mut watcher_ws, &agent.id, "online").await;
    presence_of(&mut customer_ws, &agent.id, "online").await;

    drop(tab1);
    drop(tab2);
    presence_of(&mut watcher_ws, &agent.id, "offline").await;
    presence_of(&mut customer_ws, &agent.id, "offline").await;
    // Exactly one event per change: nothing else about the agent came. An
    // arrival now goes through the same presence task, after the agent's
    // departure: its announcement is the watcher's next frame.
    let marker = app.user("support");
    let _marker_ws = app.connect("/chats/supports", &marker.token).await;
    assert_eq!(
        watcher_ws.recv().await["payload"],
        json!({ "user_id": marker.id, "side": "agent", "status": "online" })
    );

    let r = put(
        &app,
        "/agents/me/status",
        &agent.token,
        json!({ "status": "busy" }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = put(
        &app,
        "/agents/me/status",
        &customer.token,
        json!({ "status": "away" }),
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn away_is_kept_across_reconnects_and_the_team_list_shows_it() {
    let app = spawn_app().await;
    let agent = app.user("support");
    let colleague = app.user("support");
    let mut watcher = app
        .connect("/chats/supports", &colleague.token)
        .await
        .with_presence();
    let ws = app.connect("/chats/supports", &agent.token).await;
    presence_of(&mut watcher, &agent.id, "online").await;
    let r = put(
        &app,
        "/agents/me/status",
        &agent.token,
        json!({ "status": "away" }),
    )
    .await;
    assert_eq!(r.status(), 200);
    presence_of(&mut watcher, &agent.id, "away").await;
    drop(ws);
    presence_of(&mut watcher, &agent.id, "offline").await;
    let _back = app.connect("/chats/supports", &agent.token).await;
    // Back, and still away: the arrival is announced as away.
    presence_of(&mut watcher, &agent.id, "away").await;

    let r = app.get("/agents", &colleague.token).await;
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    let mut items = list["items"].as_array().unwrap().clone();
    items.sort_by_key(|a| a["id"].as_str().unwrap().to_owned());
    let mut expected = vec![
        json!({ "id": agent.id, "status": "away", "open_conversations": 0 }),
        json!({ "id": colleague.id, "status": "online", "open_conversations": 0 }),
    ];
    expected.sort_by_key(|a| a["id"].as_str().unwrap().to_owned());
    assert_eq!(items, expected);
    let customer = app.user("client");
    assert_eq!(app.get("/agents", &customer.token).await.status(), 403);
}

#[tokio::test]
async fn an_agent_who_only_called_the_api_is_a_transfer_target() {
    let app = spawn_app().await;
    let p = app.chat_pair().await;
    let newcomer = app.user("support");
    let r = transfer(&app, &p.agent, &p.cid, Some(&newcomer.id)).await;
    assert_eq!(r.status(), 400, "never seen yet");
    assert_eq!(app.get("/agents", &newcomer.token).await.status(), 200);
    let r = transfer(&app, &p.agent, &p.cid, Some(&newcomer.id)).await;
    assert_eq!(r.status(), 200);
}
