//! Automatic assignment (`QC_ROUTING=auto`, CONTRACT §5): on one node, and
//! across two nodes (PostgreSQL + Redis, when `QC_TEST_REDIS_URL` is set).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::multinode::redis;

fn auto(capacity: u32) -> impl Fn(&mut quickconnect::Settings) + Clone {
    move |s: &mut quickconnect::Settings| {
        s.routing = "auto".into();
        s.agent_capacity = Some(capacity);
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
        s.http_rate_per_sec = 0;
    }
}

async fn put_status(app: &TestApp, agent: &User, status: &str) {
    let r = app
        .http
        .put(app.url("/agents/me/status"))
        .bearer_auth(&agent.token)
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Waits until `GET /agents` shows every one of `agents` online.
async fn until_online(app: &TestApp, asker: &User, agents: &[User]) {
    let want: HashSet<&str> = agents.iter().map(|a| a.id.as_str()).collect();
    wait_until("the agents come online", async || {
        let list: Value = app.get("/agents", &asker.token).await.json().await.unwrap();
        let online: HashSet<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["status"] == "online")
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        want.is_subset(&online)
    })
    .await;
}

async fn queue(app: &TestApp, agent: &User) -> Vec<Value> {
    let page: Value = app
        .get("/conversations?queue=true&limit=200", &agent.token)
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn open_of(app: &TestApp, agent: &User) -> Vec<String> {
    let page: Value = app
        .get("/conversations?limit=200", &agent.token)
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "open")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_conversation_goes_to_an_online_agent_and_claims_stay_within_capacity() {
    let app = spawn_with(auto(1)).await;
    let agent = app.user("support");
    let other = app.user("support");
    let _ws = app.connect("/chats/supports", &agent.token).await;
    until_online(&app, &agent, std::slice::from_ref(&agent)).await;

    // The 201 already shows the assignment.
    let first = app.open_conversation(&app.user("client")).await;
    assert_eq!(first["support_id"], agent.id.as_str());
    // Full (capacity 1): the next one waits in the queue.
    let second = app.open_conversation(&app.user("client")).await;
    assert_eq!(second["support_id"], Value::Null);
    let sid = second["id"].as_str().unwrap();
    // A claim by hand past the capacity is refused.
    let r = app.assign(&agent, sid).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "at_capacity");
    // A second agent coming online takes it at once; a transfer from them
    // to the full agent is refused.
    let mut other_ws = app.connect("/chats/supports", &other.token).await;
    let taken = loop {
        let f = other_ws.recv().await;
        if f["sub_type"] == "conversation_assigned" {
            break f;
        }
    };
    assert_eq!(
        taken["payload"],
        json!({ "conversation_id": sid, "support_id": other.id, "previous_support_id": null })
    );
    let r = app
        .post(
            &format!("/conversations/{sid}/transfer"),
            &other.token,
            json!({ "to": agent.id }),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "at_capacity");
}

#[tokio::test]
async fn in_manual_routing_nothing_is_assigned_by_itself() {
    let app = spawn_app().await;
    let agent = app.user("support");
    let _ws = app.connect("/chats/supports", &agent.token).await;
    until_online(&app, &agent, std::slice::from_ref(&agent)).await;
    let c = app.open_conversation(&app.user("client")).await;
    assert_eq!(c["support_id"], Value::Null);
    assert_eq!(queue(&app, &agent).await.len(), 1);
}

/// Every `conversation_assigned` an agent connection received, by
/// conversation: a routing assignment reaches every agent once.
fn assigned_by_conversation(frames: &[Value]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for f in frames {
        if f["sub_type"] == "conversation_assigned" {
            out.entry(f["payload"]["conversation_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(f["payload"]["support_id"].as_str().unwrap_or("").to_owned());
        }
    }
    out
}

/// Opens a conversation through each node (fresh customers): markers in
/// what each node publishes. Opening decides at once (the 201 shows the
/// assignment); no place is free, so they wait, behind every other one.
async fn markers(nodes: [&TestApp; 2]) -> Vec<String> {
    let mut ids = Vec::new();
    for node in nodes {
        let c = node.open_conversation(&node.user("client")).await;
        assert_eq!(c["support_id"], Value::Null, "no place is free: {c}");
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Everything `ws` receives until it has had the `conversation_created` of
/// every one of `markers`. Each node's events reach a connection in the
/// order that node published them (its own at once, the other's through
/// one Redis publisher and subscriber), so whatever either node published
/// before its marker is in the frames returned.
async fn until_markers(ws: &mut Ws, markers: &[String]) -> Vec<Value> {
    let mut pending: HashSet<&str> = markers.iter().map(String::as_str).collect();
    let mut frames = Vec::new();
    while !pending.is_empty() {
        let f = ws.recv().await;
        if f["sub_type"] == "conversation_created"
            && let Some(id) = f["payload"]["id"].as_str()
            && pending.remove(id)
        {
            continue;
        }
        frames.push(f);
    }
    frames
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn two_hundred_conversations_ten_agents_on_two_nodes() {
    let redis_url = redis();
    let _turn = two_node_turn().await;
    let (db_url, dir) = fresh_database().await;
    let prefix = format!("qc-it-{}", ulid::Ulid::generate());
    let configure = {
        let auto = auto(5);
        let prefix = prefix.clone();
        let redis_url = redis_url.clone();
        move |s: &mut quickconnect::Settings| {
            auto(s);
            s.broker_url = redis_url.clone();
            s.broker_prefix = prefix.clone();
        }
    };
    let a = spawn_on(db_url.clone(), dir, configure.clone()).await;
    let b = spawn_on(db_url, None, configure).await;
    let nodes = [&a, &b];
    let agents: Vec<User> = (0..10).map(|_| a.user("support")).collect();
    let mut sockets = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        sockets.push(nodes[i % 2].connect("/chats/supports", &agent.token).await);
    }
    until_online(&a, &agents[0], &agents).await;

    // 200 at once, half through each node.
    let customers: Vec<User> = (0..200).map(|_| a.user("client")).collect();
    let opened = futures_util::future::join_all(
        customers
            .iter()
            .enumerate()
            .map(|(i, c)| nodes[i % 2].open_conversation(c)),
    )
    .await;
    assert_eq!(opened.len(), 200);

    // Exactly 50 assigned, 5 each; 150 wait, oldest first.
    let mut held = HashMap::new();
    for agent in &agents {
        let mine = open_of(&a, agent).await;
        assert_eq!(mine.len(), 5, "agent {} holds {}", agent.id, mine.len());
        held.insert(agent.id.clone(), mine);
    }
    let waiting = queue(&a, &agents[0]).await;
    assert_eq!(waiting.len(), 150);
    let created: Vec<&str> = waiting
        .iter()
        .map(|c| c["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable();
    assert_eq!(created, sorted, "the queue is in creation order");
    let assigned: HashSet<String> = held.values().flatten().cloned().collect();
    assert_eq!(assigned.len(), 50, "no conversation held by two agents");

    // Closing 7 assigns exactly the 7 oldest waiting.
    let owner: HashMap<String, &User> = opened
        .iter()
        .zip(&customers)
        .map(|(c, u)| (c["id"].as_str().unwrap().to_owned(), u))
        .collect();
    let closing: Vec<String> = held
        .values()
        .flat_map(|m| m.iter().take(1))
        .take(7)
        .cloned()
        .collect();
    // Every agent connection heard of each of the 50 assignments, once.
    let marks = markers(nodes).await;
    for socket in &mut sockets {
        let frames = until_markers(socket, &marks).await;
        let assigned = assigned_by_conversation(&frames);
        assert_eq!(assigned.len(), 50, "every assignment reached every agent");
        for (cid, to) in assigned {
            assert_eq!(to.len(), 1, "{cid} assigned {to:?}");
        }
    }
    // One close at a time: each assigns the oldest waiting (how soon is
    // for bench/; within the hang guard of a receive here).
    for (i, cid) in closing.iter().enumerate() {
        assert_eq!(nodes[i % 2].close(owner[cid], cid).await.status(), 200);
        let taken = loop {
            let f = sockets[0].recv().await;
            if f["sub_type"] == "conversation_assigned" && !f["payload"]["support_id"].is_null() {
                break f;
            }
        };
        assert_eq!(
            taken["payload"]["conversation_id"], waiting[i]["id"],
            "close {i} gave the place to the oldest waiting"
        );
    }
    for agent in &agents {
        assert_eq!(open_of(&a, agent).await.len(), 5, "nobody above capacity");
    }

    // An agent who is away takes nothing, even with a place free; back
    // online, they take the oldest waiting at once.
    let away = &agents[3];
    put_status(nodes[3 % 2], away, "away").await;
    let freed = open_of(&a, away).await[0].clone();
    assert_eq!(a.close(owner[&freed], &freed).await.status(), 200);
    // Decisions after the close: opening a marker through each node decides
    // at once. Nobody qualifies while the only free place is an away
    // agent's: the markers wait (asserted), the place stays free, and no
    // assignment was announced before them.
    let marks = markers(nodes).await;
    assert_eq!(
        open_of(&a, away).await.len(),
        4,
        "the away agent took nothing"
    );
    let next_oldest = queue(&a, &agents[0]).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let quiet = until_markers(&mut sockets[0], &marks).await;
    assert!(
        assigned_by_conversation(&quiet).is_empty(),
        "nobody qualifies while the only free place is an away agent's: {quiet:?}"
    );
    // Back online, they take the oldest waiting (the kick's promptness is
    // for bench/; within the hang guard of a receive here).
    put_status(nodes[3 % 2], away, "online").await;
    let taken = loop {
        let f = sockets[0].recv().await;
        if f["sub_type"] == "conversation_assigned" && !f["payload"]["support_id"].is_null() {
            break f;
        }
    };
    assert_eq!(taken["payload"]["conversation_id"], next_oldest.as_str());
    assert_eq!(taken["payload"]["support_id"], away.id.as_str());

    // Every agent connection saw each assignment once: none twice.
    let marks = markers(nodes).await;
    for socket in &mut sockets {
        let frames = until_markers(socket, &marks).await;
        for (cid, to) in assigned_by_conversation(&frames) {
            assert_eq!(to.len(), 1, "{cid} assigned {to:?}");
        }
    }
}
