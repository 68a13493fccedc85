//! The support desk over HTTP: listings, the queue, concurrent claims,
//! catch-up after a long absence.

use serde_json::{Value, json};

use crate::helpers::*;

async fn list(app: &TestApp, who: &User, query: &str) -> Value {
    let r = app.get(&format!("/conversations{query}"), &who.token).await;
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn clients_see_their_own_agents_their_assigned_and_the_queue_oldest_first() {
    let app = spawn_app().await;
    let alice = app.user("client");
    let bob = app.user("guest");
    let agent = app.user("support");
    let mut alice_convs = Vec::new();
    for _ in 0..3 {
        alice_convs.push(
            app.open_conversation(&alice).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let bob_conv = app.open_conversation(&bob).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.assign(&agent, &alice_convs[1]).await;
    app.close(&alice, &alice_convs[2]).await;

    let mine = list(&app, &alice, "").await;
    let newest_first: Vec<_> = alice_convs.iter().rev().cloned().collect();
    assert_eq!(ids(&mine), newest_first);
    assert_eq!(mine["next_cursor"], Value::Null);
    assert_eq!(ids(&list(&app, &bob, "").await), vec![bob_conv.clone()]);
    assert_eq!(ids(&list(&app, &agent, "").await), [alice_convs[1].clone()]);
    // Queue: open and unassigned, oldest first.
    assert_eq!(
        ids(&list(&app, &agent, "?queue=true").await),
        [alice_convs[0].clone(), bob_conv.clone()]
    );
    // Customers have no queue.
    let r = app.get("/conversations?queue=true", &alice.token).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");

    // Cursor pagination with a stable order.
    let p1 = list(&app, &alice, "?limit=2").await;
    assert_eq!(ids(&p1), newest_first[..2]);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let p2 = list(&app, &alice, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&p2), newest_first[2..]);
    assert_eq!(p2["next_cursor"], Value::Null);

    // Single conversation: participants and queue preview for agents.
    assert_eq!(
        app.get(&format!("/conversations/{bob_conv}"), &agent.token)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/conversations/{bob_conv}"), &alice.token)
            .await
            .status(),
        404
    );
    let other_agent = app.user("support");
    assert_eq!(
        app.get(
            &format!("/conversations/{}", alice_convs[1]),
            &other_agent.token
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn two_agents_claiming_at_once_exactly_one_wins_100_times() {
    // About claim races: one client's 100 conversations and the agents'
    // 100 quick claims are past the per-customer and per-user caps.
    let app = spawn_with(|s| {
        s.max_open_conversations = 1000;
        s.http_rate_per_sec = 0;
    })
    .await;
    let client = app.user("client");
    let (a1, a2) = (app.user("support"), app.user("support"));
    for round in 0..100 {
        let cid = app.open_conversation(&client).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (r1, r2) = tokio::join!(app.assign(&a1, &cid), app.assign(&a2, &cid));
        let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");
        let loser = if r1.status() == 409 { r1 } else { r2 };
        assert_eq!(
            loser.json::<Value>().await.unwrap()["code"],
            "already_assigned"
        );
    }
}

#[tokio::test]
async fn catch_up_after_a_long_absence_returns_exactly_what_came_after() {
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    })
    .await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "seen before leaving")).await;
    let last_seen = p.agent_ws.recv().await["payload"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(p.agent_ws); // the agent goes away
    for i in 0..450 {
        p.client_ws.send(text(&p.cid, &format!("missed {i}"))).await;
    }
    // Wait until all are stored (the sender's own echoes confirm it).
    let mut echoed = 0;
    while echoed < 451 {
        if p.client_ws.recv().await["type"] == "text" {
            echoed += 1;
        }
    }
    // The reconnect recipe: fetch after the last id seen, page by page.
    let mut after = last_seen;
    let mut missed = Vec::new();
    loop {
        let r = app
            .get(
                &format!("/conversations/{}/messages?after={after}&limit=200", p.cid),
                &p.agent.token,
            )
            .await;
        let page: Value = r.json().await.unwrap();
        missed.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => after = c.to_owned(),
            None => break,
        }
    }
    let seqs: Vec<i64> = missed.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (2..=451).collect::<Vec<_>>());
    assert_eq!(missed[0]["content"], "missed 0");
    assert_eq!(missed[449]["content"], "missed 449");
    let _ = json!({});
}
