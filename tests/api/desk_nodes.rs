//! The live desk across two nodes (one database, one Redis): queue events,
//! a transfer between agents on different nodes, presence. `#[ignore]`d
//! unless run with `--include-ignored` and `QC_TEST_REDIS_URL` (CI does).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::multinode::{redis, two_nodes};

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn an_agent_on_another_node_sees_the_queue_change_at_once() {
    let redis_url = redis();
    let (a, b) = two_nodes(&redis_url).await;
    let customer = a.user("guest");
    let colleague = a.user("support");
    let mut on_b = b.connect("/chats/supports", &a.user("support").token).await;
    let mut colleague_ws = a.connect("/chats/supports", &colleague.token).await;

    let opened = a.open_conversation(&customer).await;
    let cid = opened["id"].as_str().unwrap();
    // Pushed to node B as it happens (how fast is bench/'s to measure).
    let f = on_b.recv().await;
    assert_eq!(f["sub_type"], "conversation_created");
    assert_eq!(f["payload"], opened);
    assert_eq!(
        colleague_ws.recv().await["sub_type"],
        "conversation_created"
    );

    assert_eq!(a.assign(&colleague, cid).await.status(), 200);
    let f = on_b.recv().await;
    assert_eq!(f["sub_type"], "conversation_assigned");
    assert_eq!(
        f["payload"],
        json!({ "conversation_id": cid, "support_id": colleague.id, "previous_support_id": null })
    );
    // Each event once on node B, not once per channel: node A's next
    // event reaches B after every copy of the earlier ones (one publisher
    // connection, one subscriber connection, in order), and it is the next
    // frame there.
    let later = a.open_conversation(&customer).await;
    let f = on_b.recv().await;
    assert_eq!(f["sub_type"], "conversation_created", "{f}");
    assert_eq!(f["payload"]["id"], later["id"]);
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_transfer_between_nodes_switches_deliveries_at_one_seq() {
    let redis_url = redis();
    transfer_while_sending(&redis_url, false).await;
}

/// The customer on the other node than the previous agent and the
/// transfer: the texts stored there just before the transfer still reach
/// the previous agent before the event.
#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_transfer_switches_at_one_seq_when_the_texts_come_from_the_other_node() {
    let redis_url = redis();
    transfer_while_sending(&redis_url, true).await;
}

async fn transfer_while_sending(redis_url: &str, sender_on_b: bool) {
    let (a, b) = two_nodes(redis_url).await;
    let customer = a.user("client");
    let agent1 = a.user("support");
    let agent2 = a.user("support");
    let cid = a.open_conversation(&customer).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(a.assign(&agent1, &cid).await.status(), 200);
    let mut a1 = a.connect("/chats/supports", &agent1.token).await; // node A
    let mut a2 = b.connect("/chats/supports", &agent2.token).await; // node B
    let mut sender = if sender_on_b { &b } else { &a }
        .connect("/chats/clients", &customer.token)
        .await;
    let mut watcher = a.connect("/chats/clients", &customer.token).await;

    // The customer keeps sending while agent 1 hands the conversation over.
    const TEXTS: usize = 200;
    let c = cid.clone();
    let sending = tokio::spawn(async move {
        for i in 0..TEXTS {
            sender.send(text(&c, &format!("t{i}"))).await;
            if i % 20 == 0 {
                // The pace of the sending (so that the transfer falls in
                // the middle of it), not a wait for anything.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        sender
    });
    // Transfer once agent 1 has some of them.
    let mut seen1 = Vec::new();
    while seen1.len() < 40 {
        let f = a1.recv().await;
        assert_eq!(f["type"], "text", "{f}");
        seen1.push(f["payload"]["seq"].as_i64().unwrap());
    }
    let r = a
        .post(
            &format!("/conversations/{cid}/transfer"),
            &agent1.token,
            json!({ "to": agent2.id }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let _sender = sending.await.unwrap();

    // Agent 1: texts up to the switch, then the event.
    loop {
        let f = a1.recv().await;
        if f["sub_type"] == "conversation_assigned" {
            assert_eq!(f["payload"]["support_id"], agent2.id.as_str());
            assert_eq!(f["payload"]["previous_support_id"], agent1.id.as_str());
            break;
        }
        assert_eq!(f["type"], "text", "{f}");
        seen1.push(f["payload"]["seq"].as_i64().unwrap());
    }
    // Agent 2: the event, then texts after the switch (a text stored just
    // before the event may be published just after it: still agent 2's).
    let mut seen2 = Vec::new();
    let mut assigned = false;
    while seen1.len() + seen2.len() < TEXTS || !assigned {
        let f = a2.recv().await;
        if f["sub_type"] == "conversation_assigned" {
            assigned = true;
            continue;
        }
        assert_eq!(f["type"], "text", "{f}");
        seen2.push(f["payload"]["seq"].as_i64().unwrap());
    }
    let switch = *seen1.last().unwrap();
    assert_eq!(
        seen1,
        (1..=switch).collect::<Vec<_>>(),
        "agent 1: every text before the switch, in order"
    );
    assert_eq!(
        seen2,
        (switch + 1..=TEXTS as i64).collect::<Vec<_>>(),
        "agent 2: every text after it, none lost"
    );
    // Nothing more for agent 1: a conversation opened now through the
    // senders' node reaches every agent after everything that node
    // published before (locally, or through Redis in order), and it is
    // agent 1's next frame.
    let sender_node = if sender_on_b { &b } else { &a };
    let later = sender_node.open_conversation(&a.user("guest")).await;
    let f = a1.recv().await;
    assert_eq!(f["sub_type"], "conversation_created", "{f}");
    assert_eq!(f["payload"]["id"], later["id"]);
    // The customer saw every text once, in order.
    let mut all = Vec::new();
    while all.len() < TEXTS {
        let f = watcher.recv().await;
        if f["type"] == "text" {
            all.push(f["payload"]["seq"].as_i64().unwrap());
        }
    }
    assert_eq!(all, (1..=TEXTS as i64).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn presence_is_one_event_per_change_across_nodes() {
    let redis_url = redis();
    let (a, b) = two_nodes(&redis_url).await;
    let agent = a.user("support");
    let mut watcher = b
        .connect("/chats/supports", &a.user("support").token)
        .await
        .with_presence();
    let next_about = async |ws: &mut Ws, who: &str| -> Value {
        loop {
            let f = ws
                .recv_within(Duration::from_secs(10))
                .await
                .expect("presence");
            if f["sub_type"] == "presence" && f["payload"]["user_id"] == who {
                return f;
            }
        }
    };
    let on_a = a.connect("/chats/supports", &agent.token).await;
    assert_eq!(
        next_about(&mut watcher, &agent.id).await["payload"]["status"],
        "online"
    );
    // A second connection on the other node is no change.
    let on_b = b.connect("/chats/supports", &agent.token).await;
    drop(on_a);
    let r = a
        .http
        .put(a.url("/agents/me/status"))
        .bearer_auth(&agent.token)
        .json(&json!({ "status": "away" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        next_about(&mut watcher, &agent.id).await["payload"]["status"],
        "away",
        "still connected through node B; no offline in between"
    );
    drop(on_b);
    assert_eq!(
        next_about(&mut watcher, &agent.id).await["payload"]["status"],
        "offline"
    );
    // Nothing else about the agent, from either node: an arrival on each
    // goes through that node's presence task after the agent's departures
    // there, and the two announcements are the watcher's next frames.
    let (on_a_marker, on_b_marker) = (a.user("support"), b.user("support"));
    let _marker_a = a.connect("/chats/supports", &on_a_marker.token).await;
    let _marker_b = b.connect("/chats/supports", &on_b_marker.token).await;
    let mut arrived = Vec::new();
    for _ in 0..2 {
        let f = watcher.recv().await;
        assert_eq!(f["sub_type"], "presence", "{f}");
        assert_eq!(f["payload"]["status"], "online", "{f}");
        arrived.push(f["payload"]["user_id"].as_str().unwrap().to_owned());
    }
    arrived.sort();
    let mut markers = vec![on_a_marker.id, on_b_marker.id];
    markers.sort();
    assert_eq!(arrived, markers, "only the two arrivals");
}
