//! Two nodes, one database, one Redis: events cross nodes, and texts arrive
//! in seq order on every node. `#[ignore]`d unless run with
//! `--include-ignored` and `QC_TEST_REDIS_URL` (CI does, after checking
//! Redis); each test uses its own channel prefix.

use serde_json::json;

use crate::helpers::*;

/// The Redis the two-node tests need (they are `#[ignore]`d without it).
pub(crate) fn redis() -> String {
    std::env::var("QC_TEST_REDIS_URL").expect("QC_TEST_REDIS_URL: this test needs Redis")
}

pub(crate) async fn two_nodes(redis_url: &str) -> (TestApp, TestApp) {
    let turn = two_node_turn().await;
    let (db_url, dir) = fresh_database().await;
    let prefix = format!("qc-it-{}", ulid::Ulid::generate());
    let configure = |s: &mut quickconnect::Settings| {
        s.broker_url = redis_url.to_owned();
        s.broker_prefix = prefix.clone();
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    };
    let mut a = spawn_on(db_url.clone(), dir, configure).await;
    a.serial = Some(turn);
    let b = spawn_on(db_url, None, configure).await;
    (a, b)
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn events_reach_participants_connected_to_another_node() {
    let redis_url = redis();
    let (a, b) = two_nodes(&redis_url).await;
    let client = a.user("client");
    let agent = a.user("support");
    let cid = a.open_conversation(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client_ws = a.connect("/chats/clients", &client.token).await; // node A
    let mut agent_ws = b.connect("/chats/supports", &agent.token).await; // node B

    // Claimed through node B: the client on node A hears of it.
    assert_eq!(b.assign(&agent, &cid).await.status(), 200);
    assert_eq!(client_ws.recv().await["sub_type"], "conversation_assigned");
    assert_eq!(agent_ws.recv().await["sub_type"], "conversation_assigned");

    client_ws.send(text(&cid, "from node A")).await;
    let on_b = agent_ws.recv().await;
    assert_eq!(on_b["payload"]["content"], "from node A");
    assert_eq!(client_ws.recv().await, on_b, "same frame on both nodes");

    agent_ws.send(typing(&cid, "typing_started")).await;
    let t = client_ws.recv().await;
    assert_eq!(t["sub_type"], "typing_started");
    assert_eq!(t["payload"]["sender_id"], agent.id.as_str());

    let r = b
        .post(
            &format!("/conversations/{cid}/read"),
            &agent.token,
            json!({ "up_to": on_b["payload"]["id"] }),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(client_ws.recv().await["sub_type"], "messages_read");

    assert_eq!(a.close(&client, &cid).await.status(), 200);
    let closed = loop {
        let f = agent_ws.recv().await;
        if f["sub_type"] != "messages_read" {
            break f;
        }
    };
    assert_eq!(closed["sub_type"], "conversation_closed");
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn racing_senders_on_two_nodes_are_seen_in_seq_order_on_both() {
    let redis_url = redis();
    let (a, b) = two_nodes(&redis_url).await;
    let client = a.user("client");
    let agent = a.user("support");
    let cid = a.open_conversation(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.assign(&agent, &cid).await;
    let mut watch_a = a.connect("/chats/clients", &client.token).await;
    let mut watch_b = b.connect("/chats/supports", &agent.token).await;
    let sender_a = a.connect("/chats/clients", &client.token).await;
    let sender_b = b.connect("/chats/supports", &agent.token).await;
    // As a client would: each text until it is stored, retried with its
    // client_msg_id when storing failed (`unavailable`: the suite's other
    // tests' CREATE DATABASE makes the shared PostgreSQL stall commits).
    // Returns the texts it had to retry.
    let send_all = |mut ws: Ws, who: &'static str, cid: String| async move {
        let mut retried = Vec::new();
        for i in 0..100 {
            let mut frame = text(&cid, &format!("{who} {i}"));
            let cmid = format!("{who}-{i}");
            frame["client_msg_id"] = json!(cmid);
            loop {
                ws.send(frame.clone()).await;
                let reply = loop {
                    let Some(f) = ws.recv_within(RECV_TIMEOUT).await else {
                        panic!("{who}: no answer to text {i} within {RECV_TIMEOUT:?}");
                    };
                    let own = f["type"] == "text" && f["payload"]["client_msg_id"] == cmid.as_str();
                    if own || f["sub_type"] == "error" {
                        break f;
                    }
                };
                if reply["type"] == "text" {
                    break;
                }
                assert_eq!(reply["payload"]["code"], "unavailable", "{reply}");
                retried.push(cmid.clone());
            }
        }
        retried
    };
    let (retried_a, retried_b) = tokio::join!(
        send_all(sender_a, "client", cid.clone()),
        send_all(sender_b, "agent", cid.clone())
    );
    // Every text is stored once, seq 1..=200. A text whose commit outlasted
    // the batch timeout was answered `unavailable` yet stored, and its
    // retry found it (a duplicate, echoed to the sender only): it is in
    // history but was never broadcast, so only those may be missing live.
    let history = a.all_messages(&client, &cid).await;
    assert_eq!(
        history
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    let retried: std::collections::HashSet<String> =
        retried_a.into_iter().chain(retried_b).collect();
    let must_see: Vec<i64> = history
        .iter()
        .filter(|m| !retried.contains(m["client_msg_id"].as_str().unwrap()))
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    if !retried.is_empty() {
        eprintln!("{} texts were retried after `unavailable`", retried.len());
    }
    for (name, watcher) in [("client on A", &mut watch_a), ("agent on B", &mut watch_b)] {
        let mut seqs: Vec<i64> = Vec::new();
        while !must_see.iter().all(|s| seqs.contains(s)) {
            let Some(f) = watcher.recv_within(RECV_TIMEOUT).await else {
                let missing: Vec<&i64> = must_see.iter().filter(|s| !seqs.contains(s)).collect();
                panic!(
                    "{name}: no frame within {RECV_TIMEOUT:?}; missing seqs {missing:?}, seen {seqs:?}"
                );
            };
            if f["type"] == "text" {
                seqs.push(f["payload"]["seq"].as_i64().unwrap());
            }
        }
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{name}: in seq order: {seqs:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_redis_node_reports_ready_and_an_unreachable_redis_stops_start() {
    let redis_url = redis();
    let (a, _b) = two_nodes(&redis_url).await;
    let r: serde_json::Value = a
        .http
        .get(a.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["broker"], "ok");
    let s = quickconnect::Settings {
        bind: Some("127.0.0.1:0".into()),
        database_url: a.db_url.clone(),
        jwt_secret: Some(SECRET.into()),
        broker_url: "redis://127.0.0.1:1".into(),
        ..quickconnect::Settings::default()
    };
    let config = quickconnect::Config::from_settings(s).unwrap();
    let err = quickconnect::Application::build(&config)
        .await
        .err()
        .expect("start must fail");
    assert!(format!("{err:#}").contains("QC_BROKER_URL"), "{err:#}");
}
