//! The webhook outbox on a real database: events written with their
//! changes, claimed one conversation head at a time, settled.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use super::*;
use crate::{SeaOrmOutbox, connect, migrate};

struct Hooked {
    repos: Repos,
    outbox: SeaOrmOutbox,
}

async fn hooked(db: &Db) -> Hooked {
    let conn = connect(&db.url).await.unwrap();
    migrate(&conn).await.unwrap();
    let conn = conn.with_webhooks(true);
    Hooked {
        repos: Repos {
            conversations: SeaOrmConversationRepository::new(conn.clone()),
            agents: SeaOrmAgentRepository::new(conn.clone()),
            messages: SeaOrmMessageRepository::new(conn.clone()),
        },
        outbox: SeaOrmOutbox::new(conn),
    }
}

const LEASE: StdDuration = StdDuration::from_secs(30);

/// Claims, delivers and returns every event in the outbox, conversation
/// heads first, as a dispatcher would.
async fn drain(outbox: &SeaOrmOutbox) -> Vec<OutboxEvent> {
    let mut all = Vec::new();
    loop {
        let claimed = outbox.claim(Utc::now(), LEASE, 64).await.unwrap();
        if claimed.is_empty() {
            return all;
        }
        let positions: Vec<i64> = claimed.iter().map(|e| e.position).collect();
        outbox.delivered(&positions).await.unwrap();
        all.extend(claimed);
    }
}

fn body(e: &OutboxEvent) -> serde_json::Value {
    serde_json::from_str(&e.body).unwrap()
}

on_both!(every_change_writes_its_event_in_the_conversations_order);
async fn every_change_writes_its_event_in_the_conversations_order(db: Db) {
    let h = hooked(&db).await;
    let r = &h.repos;
    let c = new_conversation(r, "client-1", t0()).await;
    let agent = agent_id();
    assert!(r.conversations.try_assign(c.id(), &agent).await.unwrap());
    let mut c2 = c.clone();
    c2.assign(&Identity::new(agent.clone(), Role::Support))
        .unwrap();
    let hello = stored(r, new_message(&c2, "client-1", "hello", None)).await;
    let note = new_message_of(
        &c2,
        User::agent(agent.clone()),
        MessageKind::Note,
        "VIP",
        None,
    );
    stored(r, note).await;
    let read = r
        .messages
        .mark_read(c.id(), &User::agent(agent.clone()), hello.id(), t0())
        .await
        .unwrap();
    assert_eq!(read, 1);
    assert_eq!(
        r.messages
            .mark_read(c.id(), &User::agent(agent.clone()), hello.id(), t0())
            .await
            .unwrap(),
        0,
        "nothing newly read: no event"
    );
    let a2 = UserId::new("agent-2").unwrap();
    r.agents.seen(&a2).await.unwrap();
    assert!(matches!(
        r.conversations
            .try_transfer(c.id(), &agent, Some(a2.clone()), None)
            .await
            .unwrap(),
        Transfer::Moved { .. }
    ));
    assert!(r.conversations.try_close(c.id(), t0(), &a2).await.unwrap());
    assert!(!r.conversations.try_close(c.id(), t0(), &a2).await.unwrap());

    let events = drain(&h.outbox).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "conversation.created",
            "conversation.assigned",
            "message.created",
            "message.created",
            "messages.read",
            "conversation.assigned",
            "conversation.closed"
        ],
        "one event per change, in order, and none for a change that did nothing"
    );
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    for e in &events {
        let v = body(e);
        assert_eq!(v["id"], e.id.as_str());
        assert_eq!(v["type"], e.event_type.as_str());
        assert_eq!(e.conversation_id, c.id().to_string());
        assert!(e.deadline > e.created_at + Duration::hours(23));
    }
    assert_eq!(body(&events[0])["data"]["client_id"], "client-1");
    assert_eq!(body(&events[2])["data"]["id"], hello.id().to_string());
    assert_eq!(body(&events[3])["data"]["message_type"], "note");
    assert_eq!(body(&events[4])["data"]["up_to"], hello.id().to_string());
    let transfer = &body(&events[5])["data"];
    assert_eq!(
        (
            transfer["support_id"].as_str(),
            transfer["previous_support_id"].as_str()
        ),
        (Some("agent-2"), Some("agent-1"))
    );
    assert_eq!(body(&events[6])["data"]["closed_by"], "agent-2");
    assert_eq!(h.outbox.backlog().await.unwrap(), Backlog::default());
}

on_both!(without_webhooks_nothing_is_written_to_the_outbox);
async fn without_webhooks_nothing_is_written_to_the_outbox(db: Db) {
    let r = repos(&db).await;
    let c = claimed_conversation(&r, "client-1", t0()).await;
    stored(&r, new_message(&c, "client-1", "hi", None)).await;
    let outbox = SeaOrmOutbox::new(connect(&db.url).await.unwrap());
    assert_eq!(outbox.backlog().await.unwrap(), Backlog::default());
}

on_both!(a_conversations_later_event_waits_for_its_earlier_one);
async fn a_conversations_later_event_waits_for_its_earlier_one(db: Db) {
    let h = hooked(&db).await;
    let a = claimed_conversation(&h.repos, "client-a", t0()).await;
    let b = claimed_conversation(&h.repos, "client-b", t0()).await;
    for c in [&a, &b] {
        stored(&h.repos, new_message(c, c.client_id().as_str(), "1", None)).await;
    }
    let now = Utc::now();
    // One head per conversation: both created events.
    let heads = h.outbox.claim(now, LEASE, 64).await.unwrap();
    assert_eq!(heads.len(), 2);
    assert!(heads.iter().all(|e| e.event_type == "conversation.created"));
    // Leased: nobody else gets them, nor anything behind them.
    assert!(h.outbox.claim(now, LEASE, 64).await.unwrap().is_empty());
    // A's head fails and waits; B's is delivered, so B moves on alone.
    let (head_a, head_b) = if heads[0].conversation_id == a.id().to_string() {
        (&heads[0], &heads[1])
    } else {
        (&heads[1], &heads[0])
    };
    let later = now + Duration::seconds(2);
    h.outbox
        .retry_at(head_a.position, later, "HTTP 500")
        .await
        .unwrap();
    h.outbox.delivered(&[head_b.position]).await.unwrap();
    let next = h.outbox.claim(now, LEASE, 64).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].conversation_id, b.id().to_string());
    assert_eq!(next[0].event_type, "conversation.assigned");
    h.outbox.delivered(&[next[0].position]).await.unwrap();
    // A's retry comes due with its attempt counted.
    let retried = h.outbox.claim(later, LEASE, 64).await.unwrap();
    let retried_a: Vec<_> = retried
        .iter()
        .filter(|e| e.conversation_id == a.id().to_string())
        .collect();
    assert_eq!(retried_a.len(), 1);
    assert_eq!(
        (retried_a[0].position, retried_a[0].attempts),
        (head_a.position, 1)
    );
    // Given up, it no longer holds A back; it is listed as dead.
    h.outbox
        .give_up(head_a.position, later, "HTTP 500")
        .await
        .unwrap();
    let rest = h.outbox.claim(later, LEASE, 64).await.unwrap();
    assert!(rest.iter().any(
        |e| e.conversation_id == a.id().to_string() && e.event_type == "conversation.assigned"
    ));
    let dead = h.outbox.dead_events(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, head_a.id);
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (2, Some("HTTP 500"))
    );
    assert_eq!(h.outbox.backlog().await.unwrap().dead, 1);
    // Revived, it is due again with a new window, and claimable once
    // nothing earlier of A is live.
    assert_eq!(h.outbox.revive(Some("nope"), later).await.unwrap(), 0);
    assert_eq!(h.outbox.revive(None, Utc::now()).await.unwrap(), 1);
    assert!(h.outbox.dead_events(10).await.unwrap().is_empty());
    // A lease left by a dead process is void once released.
    assert!(h.outbox.release_leases().await.unwrap() >= 1);
    let all = drain(&h.outbox).await;
    assert!(all.iter().any(|e| e.id == head_a.id));
    assert_eq!(h.outbox.backlog().await.unwrap(), Backlog::default());
}

on_both!(claimers_racing_on_one_database_never_take_the_same_event);
async fn claimers_racing_on_one_database_never_take_the_same_event(db: Db) {
    let h = hooked(&db).await;
    let mut expected = 0;
    for i in 0..20 {
        let c = claimed_conversation(&h.repos, &format!("client-{i}"), t0()).await;
        for n in 0..5 {
            stored(
                &h.repos,
                new_message(&c, c.client_id().as_str(), &n.to_string(), None),
            )
            .await;
        }
        expected += 7;
    }
    // Four claimers, each with its own connection (on PostgreSQL, as
    // four nodes would be).
    let mut claimers = Vec::new();
    for _ in 0..4 {
        claimers.push(SeaOrmOutbox::new(connect(&db.url).await.unwrap()));
    }
    let tasks: Vec<_> = claimers
        .into_iter()
        .map(|outbox| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut idle = 0;
                while idle < 3 {
                    let claimed = outbox.claim(Utc::now(), LEASE, 8).await.unwrap();
                    if claimed.is_empty() {
                        idle += 1;
                        tokio::task::yield_now().await;
                        continue;
                    }
                    idle = 0;
                    let positions: Vec<i64> = claimed.iter().map(|e| e.position).collect();
                    outbox.delivered(&positions).await.unwrap();
                    got.extend(claimed);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    // Whatever a racing claimer left (it gave up after three empty
    // claims while another held the heads) is still there, in order.
    all.extend(drain(&h.outbox).await);
    let ids: HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(all.len(), expected, "no event claimed twice");
    assert_eq!(ids.len(), expected, "and none missing");
}
