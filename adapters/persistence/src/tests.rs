//! Repository tests on a real database: a SQLite file always, and the same
//! suite on PostgreSQL when `QC_TEST_POSTGRES_URL` names a server (CI sets it;
//! each run creates its own database there).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use qc_application::ports::*;
use qc_domain::*;
use ulid::Ulid;

mod outbox;

use crate::{
    SeaOrmAgentRepository, SeaOrmConversationRepository, SeaOrmMessageRepository, connect, migrate,
};

struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![Db {
        url: format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        _dir: Some(dir),
    }];
    if let Ok(admin) = std::env::var("QC_TEST_POSTGRES_URL") {
        let name = format!("qc_repo_{}", Ulid::generate().to_string().to_lowercase());
        let url = crate::create_postgres_database(&admin, &name)
            .await
            .expect("QC_TEST_POSTGRES_URL is set but PostgreSQL is unusable");
        all.push(Db { url, _dir: None });
    }
    all
}

struct Repos {
    conversations: SeaOrmConversationRepository,
    messages: SeaOrmMessageRepository,
    agents: SeaOrmAgentRepository,
}

async fn repos(db: &Db) -> Repos {
    let conn = connect(&db.url).await.unwrap();
    migrate(&conn).await.unwrap();
    Repos {
        conversations: SeaOrmConversationRepository::new(conn.clone()),
        agents: SeaOrmAgentRepository::new(conn.clone()),
        messages: SeaOrmMessageRepository::new(conn),
    }
}

fn ident(id: &str, role: Role) -> Identity {
    Identity {
        user_id: UserId::new(id).unwrap(),
        role,
    }
}

/// Who closes in these tests (the webhook event names them).
fn agent_id() -> UserId {
    UserId::new("agent-1").unwrap()
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap()
}

async fn new_conversation(r: &Repos, owner: &str, at: chrono::DateTime<Utc>) -> Conversation {
    let c = Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &ident(owner, Role::Client),
        Some("subject".into()),
        at,
    )
    .unwrap();
    assert!(r.conversations.insert(&c, 1000).await.unwrap());
    c
}

/// A text from `sender`: the customer when it is the owner's sub, else an
/// agent.
fn new_message(c: &Conversation, sender: &str, text: &str, cmid: Option<&str>) -> NewMessage {
    let side = if c.client_id.as_str() == sender {
        Side::Customer
    } else {
        Side::Agent
    };
    new_message_from(c, side, sender, text, cmid)
}

fn new_message_from(
    c: &Conversation,
    side: Side,
    sender: &str,
    text: &str,
    cmid: Option<&str>,
) -> NewMessage {
    NewMessage {
        id: MessageId::from_ulid(Ulid::generate()),
        conversation_id: c.id,
        sender_id: UserId::new(sender).unwrap(),
        sender_side: side,
        kind: MessageKind::Text,
        content: MessageContent::new(text).unwrap(),
        client_msg_id: cmid.and_then(ClientMsgId::new),
        created_at: t0() + Duration::milliseconds(123),
    }
}

async fn stored(r: &Repos, m: NewMessage) -> Message {
    match r.messages.append(m).await.unwrap() {
        Appended::Stored { message, .. } => message,
        other => panic!("expected stored, got {other:?}"),
    }
}

/// A conversation of `owner` claimed by `agent-1`.
async fn claimed_conversation(r: &Repos, owner: &str, at: chrono::DateTime<Utc>) -> Conversation {
    let mut c = new_conversation(r, owner, at).await;
    let agent = UserId::new("agent-1").unwrap();
    assert!(r.conversations.try_assign(c.id, &agent).await.unwrap());
    c.assign_to(agent);
    c
}

#[tokio::test]
async fn conversations_round_trip_assign_once_and_close_once() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = new_conversation(&r, "client-1", t0()).await;
        assert_eq!(r.conversations.find(c.id).await.unwrap(), Some(c.clone()));
        assert_eq!(
            r.conversations
                .find(ConversationId::from_ulid(Ulid::generate()))
                .await
                .unwrap(),
            None
        );

        let a1 = UserId::new("agent-1").unwrap();
        let a2 = UserId::new("agent-2").unwrap();
        assert!(r.conversations.try_assign(c.id, &a1).await.unwrap());
        assert!(!r.conversations.try_assign(c.id, &a2).await.unwrap());
        let found = r.conversations.find(c.id).await.unwrap().unwrap();
        assert_eq!(found.support_id, Some(a1));

        let at = t0() + Duration::seconds(60);
        assert!(
            r.conversations
                .try_close(c.id, at, &agent_id())
                .await
                .unwrap()
        );
        assert!(
            !r.conversations
                .try_close(c.id, at + Duration::seconds(1), &agent_id())
                .await
                .unwrap()
        );
        let found = r.conversations.find(c.id).await.unwrap().unwrap();
        assert_eq!(found.status, ConversationStatus::Closed);
        assert_eq!(found.closed_at, Some(at));
        assert!(
            !r.conversations.try_assign(c.id, &a2).await.unwrap(),
            "closed: no claim"
        );
        r.conversations.health().await.unwrap();
    }
}

#[tokio::test]
async fn concurrent_claims_have_exactly_one_winner() {
    for db in databases().await {
        let r = Arc::new(repos(&db).await);
        for _ in 0..20 {
            let c = new_conversation(&r, "client", t0()).await;
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let r = r.clone();
                    tokio::spawn(async move {
                        r.conversations
                            .try_assign(c.id, &UserId::new(format!("agent-{i}")).unwrap())
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let mut wins = 0;
            for t in tasks {
                wins += usize::from(t.await.unwrap());
            }
            assert_eq!(wins, 1);
        }
    }
}

#[tokio::test]
async fn append_numbers_messages_and_refuses_closed_or_missing() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let m1 = stored(&r, new_message(&c, "client-1", "Hello", None)).await;
        let m2 = stored(&r, new_message(&c, "agent-1", "Hi!", None)).await;
        assert_eq!((m1.seq, m2.seq), (1, 2));
        assert_eq!(m1.content, "Hello");
        assert_eq!(m1.created_at, t0() + Duration::milliseconds(123));

        // Sequences are per conversation.
        let other = new_conversation(&r, "client-2", t0()).await;
        assert_eq!(
            stored(&r, new_message(&other, "client-2", "x", None))
                .await
                .seq,
            1
        );

        let ghost = Conversation::open(
            ConversationId::from_ulid(Ulid::generate()),
            &ident("client-1", Role::Client),
            None,
            t0(),
        )
        .unwrap();
        assert!(matches!(
            r.messages
                .append(new_message(&ghost, "client-1", "x", None))
                .await,
            Err(AppendError::ConversationMissing)
        ));

        r.conversations
            .try_close(c.id, t0(), &agent_id())
            .await
            .unwrap();
        assert!(matches!(
            r.messages
                .append(new_message(&c, "client-1", "late", None))
                .await,
            Err(AppendError::ConversationClosed)
        ));
        let page = r
            .messages
            .history(
                c.id,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.items.len(),
            2,
            "nothing stored into a closed conversation"
        );
    }
}

#[tokio::test]
async fn client_msg_id_is_enforced_by_the_database() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let first = stored(&r, new_message(&c, "client-1", "first", Some("k-1"))).await;
        assert_eq!(
            first.client_msg_id.as_ref().map(ClientMsgId::as_str),
            Some("k-1")
        );
        // The store settles the retry itself: the original comes back.
        let again = r
            .messages
            .append(new_message(&c, "client-1", "retry", Some("k-1")))
            .await
            .unwrap();
        assert_eq!(again, Appended::Duplicate(first.clone()));
        // The next message still gets seq 2: the refused one left no gap.
        assert_eq!(
            stored(&r, new_message(&c, "client-1", "next", None))
                .await
                .seq,
            2
        );
        // Same key from another sender is a different message.
        assert_eq!(
            stored(&r, new_message(&c, "agent-1", "x", Some("k-1")))
                .await
                .seq,
            3
        );
        let page = r
            .messages
            .history(
                c.id,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        let contents: Vec<&str> = page.items.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(
            contents,
            vec!["first", "next", "x"],
            "the retry was not stored"
        );
    }
}

#[tokio::test]
async fn two_racing_senders_get_seq_1_to_200_without_gap_or_duplicate() {
    for db in databases().await {
        let r = Arc::new(repos(&db).await);
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let senders: Vec<_> = ["client-1", "agent-1"]
            .into_iter()
            .map(|who| {
                let r = r.clone();
                let c = c.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        stored(&r, new_message(&c, who, &format!("{who} {i}"), None)).await;
                    }
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        let page = r
            .messages
            .history(
                c.id,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 200,
                },
            )
            .await
            .unwrap();
        let seqs: Vec<i64> = page.items.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "{}", db.url);
    }
}

#[tokio::test]
async fn history_pages_latest_before_and_after() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = new_conversation(&r, "client-1", t0()).await;
        let mut all = vec![];
        for i in 1..=7 {
            all.push(stored(&r, new_message(&c, "client-1", &format!("m{i}"), None)).await);
        }
        let q = |cursor, limit| HistoryQuery {
            cursor,
            limit,
            viewer: Side::Agent,
        };
        let latest = r
            .messages
            .history(c.id, q(HistoryCursor::Latest, 3))
            .await
            .unwrap();
        assert_eq!(
            latest.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        assert_eq!(latest.next, Some(all[4].id));
        let before = r
            .messages
            .history(c.id, q(HistoryCursor::Before(all[4].id), 3))
            .await
            .unwrap();
        assert_eq!(
            before.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        let first = r
            .messages
            .history(c.id, q(HistoryCursor::Before(all[1].id), 3))
            .await
            .unwrap();
        assert_eq!(
            first.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(first.next, None);
        let after = r
            .messages
            .history(c.id, q(HistoryCursor::After(all[1].id), 3))
            .await
            .unwrap();
        assert_eq!(
            after.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(after.next, Some(all[4].id));
        let tail = r
            .messages
            .history(c.id, q(HistoryCursor::After(all[4].id), 3))
            .await
            .unwrap();
        assert_eq!(
            tail.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![6, 7]
        );
        assert_eq!(tail.next, None);
        assert_eq!(
            tail.items[1], all[6],
            "history returns the stored message as stored"
        );

        let between = r
            .messages
            .history(c.id, q(HistoryCursor::Between(all[1].id, all[5].id), 2))
            .await
            .unwrap();
        assert_eq!(
            between.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(between.next, Some(all[3].id));
        let rest = r
            .messages
            .history(c.id, q(HistoryCursor::Between(all[3].id, all[5].id), 2))
            .await
            .unwrap();
        assert_eq!(
            rest.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![5]
        );
        assert_eq!(rest.next, None);

        let other = new_conversation(&r, "client-2", t0()).await;
        assert!(matches!(
            r.messages
                .history(other.id, q(HistoryCursor::After(all[0].id), 3))
                .await,
            Err(HistoryError::UnknownCursor)
        ));
    }
}

#[tokio::test]
async fn mark_read_sets_read_at_on_the_other_sides_messages_up_to_the_id() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let c1 = stored(&r, new_message(&c, "client-1", "q1", None)).await;
        let a1 = stored(&r, new_message(&c, "agent-1", "a1", None)).await;
        let c2 = stored(&r, new_message(&c, "client-1", "q2", None)).await;
        let c3 = stored(&r, new_message(&c, "client-1", "q3", None)).await;
        let at = t0() + Duration::seconds(9);
        let agent = User::agent(UserId::new("agent-1").unwrap());
        assert_eq!(
            r.messages.mark_read(c.id, &agent, c2.id, at).await.unwrap(),
            2
        );
        assert_eq!(
            r.messages.mark_read(c.id, &agent, c2.id, at).await.unwrap(),
            0,
            "idempotent"
        );
        let page = r
            .messages
            .history(
                c.id,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        let read: Vec<_> = page.items.iter().map(|m| (m.id, m.read_at)).collect();
        assert_eq!(
            read,
            vec![
                (c1.id, Some(at)),
                (a1.id, None),
                (c2.id, Some(at)),
                (c3.id, None)
            ]
        );
        assert!(matches!(
            r.messages
                .mark_read(c.id, &agent, MessageId::from_ulid(Ulid::generate()), at)
                .await,
            Err(MarkReadError::UnknownMessage)
        ));
    }
}

#[tokio::test]
async fn listings_filter_order_and_paginate() {
    for db in databases().await {
        let r = repos(&db).await;
        let mut mine = vec![];
        for i in 0..5 {
            mine.push(new_conversation(&r, "client-1", t0() + Duration::seconds(i)).await);
        }
        new_conversation(&r, "client-2", t0()).await;
        let agent = UserId::new("agent-1").unwrap();
        r.conversations
            .try_assign(mine[1].id, &agent)
            .await
            .unwrap();
        r.conversations
            .try_close(mine[2].id, t0(), &agent_id())
            .await
            .unwrap();

        let owned = ConversationFilter::OwnedBy(UserId::new("client-1").unwrap());
        let p1 = r
            .conversations
            .list(
                &owned,
                &PageRequest {
                    after: None,
                    limit: 3,
                },
            )
            .await
            .unwrap();
        let ids: Vec<_> = p1.items.iter().map(|c| c.conversation.id).collect();
        assert_eq!(
            ids,
            vec![mine[4].id, mine[3].id, mine[2].id],
            "newest first"
        );
        let p2 = r
            .conversations
            .list(
                &owned,
                &PageRequest {
                    after: p1.next,
                    limit: 3,
                },
            )
            .await
            .unwrap();
        let ids: Vec<_> = p2.items.iter().map(|c| c.conversation.id).collect();
        assert_eq!(ids, vec![mine[1].id, mine[0].id]);
        assert_eq!(p2.next, None);

        let queue = r
            .conversations
            .list(
                &ConversationFilter::Queue,
                &PageRequest {
                    after: None,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        assert_eq!(queue.items.len(), 4, "open and unassigned only");
        assert!(
            queue
                .items
                .windows(2)
                .all(|w| w[0].conversation.created_at <= w[1].conversation.created_at),
            "oldest first"
        );

        let assigned = r
            .conversations
            .list(
                &ConversationFilter::AssignedTo(agent),
                &PageRequest {
                    after: None,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            assigned
                .items
                .iter()
                .map(|c| c.conversation.id)
                .collect::<Vec<_>>(),
            vec![mine[1].id]
        );
    }
}

#[tokio::test]
async fn history_survives_reopening_the_database() {
    for db in databases().await {
        let (cid, ids) = {
            let r = repos(&db).await;
            let c = new_conversation(&r, "client-1", t0()).await;
            let a = stored(&r, new_message(&c, "client-1", "before restart", None)).await;
            (c.id, vec![a.id])
        };
        let r = repos(&db).await; // migrations again: a no-op
        let b = stored(
            &r,
            NewMessage {
                conversation_id: cid,
                ..new_message(
                    &r.conversations.find(cid).await.unwrap().unwrap(),
                    "client-1",
                    "after",
                    None,
                )
            },
        )
        .await;
        assert_eq!(b.seq, 2, "the counter survived");
        let page = r
            .messages
            .history(
                cid,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items[0].id, ids[0]);
        assert_eq!(page.items[0].content, "before restart");
    }
}

#[tokio::test]
async fn concurrent_appends_across_conversations_are_gapless_and_strangers_store_nothing() {
    for db in databases().await {
        let r = Arc::new(repos(&db).await);
        let mut conversations = Vec::new();
        for i in 0..20 {
            conversations.push(claimed_conversation(&r, &format!("client-{i}"), t0()).await);
        }
        // Client, agent and a stranger of every conversation all at once:
        // the writer batches them across conversations.
        let mut tasks = Vec::new();
        for c in &conversations {
            for who in [
                c.client_id.to_string(),
                "agent-1".to_owned(),
                "stranger".to_owned(),
            ] {
                let (r, c) = (r.clone(), c.clone());
                tasks.push(tokio::spawn(async move {
                    let mut refused = 0;
                    for i in 0..20 {
                        match r
                            .messages
                            .append(new_message(&c, &who, &format!("{i}"), None))
                            .await
                        {
                            Ok(Appended::Stored { participants, .. }) => {
                                assert_eq!(participants, c.participants());
                            }
                            Err(AppendError::NotParticipant) => refused += 1,
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    (who, refused)
                }));
            }
        }
        for t in tasks {
            let (who, refused) = t.await.unwrap();
            assert_eq!(refused, if who == "stranger" { 20 } else { 0 }, "{who}");
        }
        for c in &conversations {
            let page = r
                .messages
                .history(
                    c.id,
                    HistoryQuery {
                        cursor: HistoryCursor::Latest,
                        viewer: Side::Agent,
                        limit: 200,
                    },
                )
                .await
                .unwrap();
            let seqs: Vec<i64> = page.items.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "{}", db.url);
            assert!(
                page.items
                    .iter()
                    .all(|m| m.sender_id.as_str() != "stranger")
            );
        }
    }
}

#[tokio::test]
async fn one_client_msg_id_sent_ten_times_at_once_is_stored_once() {
    for db in databases().await {
        let r = Arc::new(repos(&db).await);
        let c = new_conversation(&r, "client-1", t0()).await;
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (r, c) = (r.clone(), c.clone());
                tokio::spawn(async move {
                    r.messages
                        .append(new_message(
                            &c,
                            "client-1",
                            &format!("try {i}"),
                            Some("same"),
                        ))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut accepted = Vec::new();
        let mut duplicates = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Appended::Stored { message, .. } => accepted.push(message),
                Appended::Duplicate(message) => duplicates.push(message),
            }
        }
        assert_eq!(accepted.len(), 1, "{}", db.url);
        assert_eq!(duplicates.len(), 9);
        assert!(duplicates.iter().all(|d| d == &accepted[0]));
        assert_eq!(accepted[0].seq, 1);
        let next = stored(&r, new_message(&c, "client-1", "after", None)).await;
        assert_eq!(next.seq, 2, "the duplicates left no gap");
    }
}

#[tokio::test]
async fn a_customer_and_an_agent_sharing_a_sub_are_two_users() {
    for db in databases().await {
        let r = repos(&db).await;
        // "same" owns one conversation and, as an agent, claims another
        // customer's; a third customer's conversation is claimed by agent-1.
        let own = new_conversation(&r, "same", t0()).await;
        let mut served = new_conversation(&r, "client-2", t0()).await;
        let same_agent = UserId::new("same").unwrap();
        assert!(
            r.conversations
                .try_assign(served.id, &same_agent)
                .await
                .unwrap()
        );
        served.assign_to(same_agent);

        // As an agent, "same" is no participant of their own (unassigned)
        // conversation; as a customer, none of the one they serve.
        for (c, side) in [(&own, Side::Agent), (&served, Side::Customer)] {
            assert!(matches!(
                r.messages
                    .append(new_message_from(c, side, "same", "x", None))
                    .await,
                Err(AppendError::NotParticipant)
            ));
        }

        // Assigned to themselves, the two users talk: one client_msg_id on
        // both sides is two messages, not a retry.
        assert!(
            r.conversations
                .try_assign(own.id, &UserId::new("same").unwrap())
                .await
                .unwrap()
        );
        let q = stored(
            &r,
            new_message_from(&own, Side::Customer, "same", "question", Some("m1")),
        )
        .await;
        let a = stored(
            &r,
            new_message_from(&own, Side::Agent, "same", "answer", Some("m1")),
        )
        .await;
        assert_eq!((q.seq, q.sender_side), (1, Side::Customer));
        assert_eq!((a.seq, a.sender_side), (2, Side::Agent));
        assert!(matches!(
            r.messages
                .append(new_message_from(&own, Side::Agent, "same", "again", Some("m1")))
                .await
                .unwrap(),
            Appended::Duplicate(m) if m.id == a.id
        ));

        // The customer reading marks the agent's text, not their own.
        let customer = User::customer(UserId::new("same").unwrap());
        let at = t0() + Duration::seconds(3);
        assert_eq!(
            r.messages
                .mark_read(own.id, &customer, a.id, at)
                .await
                .unwrap(),
            1
        );
        let page = r
            .messages
            .history(
                own.id,
                HistoryQuery {
                    cursor: HistoryCursor::Latest,
                    viewer: Side::Agent,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        let seen: Vec<_> = page
            .items
            .iter()
            .map(|m| (m.sender_side, m.read_at))
            .collect();
        assert_eq!(seen, vec![(Side::Customer, None), (Side::Agent, Some(at))]);
    }
}

#[tokio::test]
async fn open_conversations_are_capped_per_owner_even_when_opened_at_once() {
    for db in databases().await {
        let r = Arc::new(repos(&db).await);
        let open = |owner: &str| {
            Conversation::open(
                ConversationId::from_ulid(Ulid::generate()),
                &ident(owner, Role::Guest),
                None,
                t0(),
            )
            .unwrap()
        };
        // 40 opens of one owner at once, cap 5: exactly 5 stored.
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let r = r.clone();
            let c = open("flooder");
            tasks.push(tokio::spawn(async move {
                r.conversations.insert(&c, 5).await.unwrap().then_some(c)
            }));
        }
        let mut stored = Vec::new();
        for t in tasks {
            stored.extend(t.await.unwrap());
        }
        assert_eq!(stored.len(), 5);
        let listed = r
            .conversations
            .list(
                &ConversationFilter::OwnedBy(UserId::new("flooder").unwrap()),
                &PageRequest {
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 5, "nothing past the cap is stored");

        // Another owner is not affected; closing one frees a place.
        assert!(
            r.conversations
                .insert(&open("someone-else"), 5)
                .await
                .unwrap()
        );
        assert!(!r.conversations.insert(&open("flooder"), 5).await.unwrap());
        assert!(
            r.conversations
                .try_close(stored[0].id, t0(), &agent_id())
                .await
                .unwrap()
        );
        assert!(r.conversations.insert(&open("flooder"), 5).await.unwrap());
        assert!(!r.conversations.insert(&open("flooder"), 5).await.unwrap());
    }
}

fn note_from(c: &Conversation, agent: &str, text: &str) -> NewMessage {
    NewMessage {
        kind: MessageKind::Note,
        ..new_message_from(c, Side::Agent, agent, text, None)
    }
}

fn history_of(viewer: Side) -> HistoryQuery {
    HistoryQuery {
        cursor: HistoryCursor::Latest,
        limit: 50,
        viewer,
    }
}

#[tokio::test]
async fn notes_are_stored_with_a_seq_and_only_agents_see_them() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let t1 = stored(&r, new_message(&c, "client-1", "hello", None)).await;
        let n = stored(&r, note_from(&c, "agent-1", "VIP customer")).await;
        let t2 = stored(&r, new_message(&c, "agent-1", "how can I help?", None)).await;
        assert_eq!((t1.seq, n.seq, t2.seq), (1, 2, 3), "notes take a seq");
        assert_eq!(n.kind, MessageKind::Note);

        let agent = r
            .messages
            .history(c.id, history_of(Side::Agent))
            .await
            .unwrap();
        assert_eq!(
            agent.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let customer = r
            .messages
            .history(c.id, history_of(Side::Customer))
            .await
            .unwrap();
        assert_eq!(
            customer.items.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 3],
            "no note in a customer's history"
        );
        // A note is no cursor for a customer (it does not exist for them).
        let by_note = r
            .messages
            .history(
                c.id,
                HistoryQuery {
                    cursor: HistoryCursor::After(n.id),
                    limit: 50,
                    viewer: Side::Customer,
                },
            )
            .await;
        assert!(matches!(by_note, Err(HistoryError::UnknownCursor)));
        // Nor a read receipt; and reading never marks notes.
        let customer_user = User::customer(c.client_id.clone());
        assert!(matches!(
            r.messages.mark_read(c.id, &customer_user, n.id, t0()).await,
            Err(MarkReadError::UnknownMessage)
        ));
        let agent_user = User::agent(UserId::new("agent-1").unwrap());
        assert!(
            matches!(
                r.messages.mark_read(c.id, &agent_user, n.id, t0()).await,
                Err(MarkReadError::UnknownMessage)
            ),
            "a note is no read receipt for agents either"
        );
        assert_eq!(
            r.messages
                .mark_read(c.id, &customer_user, t2.id, t0())
                .await
                .unwrap(),
            1,
            "the agent's text, not the note"
        );
    }
}

#[tokio::test]
async fn last_message_and_unread_count_are_each_sides_view() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let view = |side| {
            let repo = r.conversations.clone();
            let id = c.id;
            async move { repo.find_view(id, side).await.unwrap().unwrap() }
        };
        let empty = view(Side::Customer).await;
        assert_eq!((empty.last_message, empty.unread_count), (None, 0));

        let m1 = stored(&r, new_message(&c, "client-1", "one", None)).await;
        let m2 = stored(&r, new_message(&c, "client-1", "two", None)).await;
        let reply = stored(&r, new_message(&c, "agent-1", "reply", None)).await;
        let note = stored(&r, note_from(&c, "agent-1", "internal")).await;

        let agent = view(Side::Agent).await;
        assert_eq!(agent.last_message.as_ref().map(|m| m.id), Some(note.id));
        assert_eq!(agent.unread_count, 2, "the customer's two texts");
        let customer = view(Side::Customer).await;
        assert_eq!(
            customer.last_message.as_ref().map(|m| m.id),
            Some(reply.id),
            "the latest text: never the note"
        );
        assert_eq!(customer.unread_count, 1, "the reply; the note never counts");

        let agent_user = User::agent(UserId::new("agent-1").unwrap());
        r.messages
            .mark_read(c.id, &agent_user, m1.id, t0())
            .await
            .unwrap();
        assert_eq!(view(Side::Agent).await.unread_count, 1);
        r.messages
            .mark_read(c.id, &agent_user, m2.id, t0())
            .await
            .unwrap();
        assert_eq!(view(Side::Agent).await.unread_count, 0);
        assert_eq!(view(Side::Customer).await.unread_count, 1);

        // The listings carry the same views, each for its viewer.
        let page = PageRequest {
            after: None,
            limit: 10,
        };
        let mine = r
            .conversations
            .list(&ConversationFilter::OwnedBy(c.client_id.clone()), &page)
            .await
            .unwrap();
        assert_eq!(
            mine.items[0].last_message.as_ref().map(|m| m.id),
            Some(reply.id)
        );
        assert_eq!(mine.items[0].unread_count, 1);
        let assigned = r
            .conversations
            .list(
                &ConversationFilter::AssignedTo(UserId::new("agent-1").unwrap()),
                &page,
            )
            .await
            .unwrap();
        assert_eq!(
            assigned.items[0].last_message.as_ref().map(|m| m.id),
            Some(note.id)
        );
        assert_eq!(assigned.items[0].unread_count, 0);
    }
}

#[tokio::test]
async fn a_transfer_moves_a_conversation_only_from_its_agent_and_only_while_open() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let a1 = UserId::new("agent-1").unwrap();
        let a2 = UserId::new("agent-2").unwrap();
        assert_eq!(
            r.conversations
                .try_transfer(c.id, &a2, Some(a1.clone()), None)
                .await
                .unwrap(),
            Transfer::Lost,
            "not agent-2's to give"
        );
        for text in ["one", "two"] {
            stored(&r, new_message(&c, "client-1", text, None)).await;
        }
        assert_eq!(
            r.conversations
                .try_transfer(c.id, &a1, Some(a2.clone()), None)
                .await
                .unwrap(),
            Transfer::Moved { last_seq: 2 },
            "moved, after the two texts: seq 1 and 2 were agent-1's"
        );
        let now = r.conversations.find(c.id).await.unwrap().unwrap();
        assert_eq!(now.support_id, Some(a2.clone()));
        assert_eq!(
            r.conversations.customers_served_by(&a2).await.unwrap(),
            vec![c.client_id.clone()]
        );
        assert!(
            r.conversations
                .customers_served_by(&a1)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            r.conversations.agents_serving(&c.client_id).await.unwrap(),
            vec![a2.clone()]
        );
        // A text after the transfer is refused from the previous agent.
        let late = r
            .messages
            .append(new_message(&c, "agent-1", "still here?", None))
            .await;
        assert!(matches!(late, Err(AppendError::NotParticipant)));
        // Back to the queue, then closed: nothing moves a closed one.
        assert_eq!(
            r.conversations
                .try_transfer(c.id, &a2, None, None)
                .await
                .unwrap(),
            Transfer::Moved { last_seq: 2 }
        );
        let queued = r.conversations.find(c.id).await.unwrap().unwrap();
        assert_eq!(queued.support_id, None);
        assert!(
            r.conversations
                .agents_serving(&c.client_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(r.conversations.try_assign(c.id, &a1).await.unwrap());
        assert!(
            r.conversations
                .try_close(c.id, t0(), &agent_id())
                .await
                .unwrap()
        );
        assert_eq!(
            r.conversations
                .try_transfer(c.id, &a1, Some(a2.clone()), None)
                .await
                .unwrap(),
            Transfer::Lost
        );
        assert!(
            r.conversations
                .customers_served_by(&a1)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn agents_are_recorded_once_keep_their_away_flag_and_count_open_conversations() {
    for db in databases().await {
        let r = repos(&db).await;
        let a1 = UserId::new("agent-1").unwrap();
        let a2 = UserId::new("agent-2").unwrap();
        assert_eq!(r.agents.find(&a2).await.unwrap(), None);
        r.agents.seen(&a2).await.unwrap();
        r.agents.seen(&a2).await.unwrap();
        claimed_conversation(&r, "client-1", t0()).await;
        claimed_conversation(&r, "client-2", t0()).await;
        let closed = claimed_conversation(&r, "client-3", t0()).await;
        r.conversations
            .try_close(closed.id, t0(), &agent_id())
            .await
            .unwrap();
        r.agents.seen(&a1).await.unwrap();
        assert!(!r.agents.set_away(&a1, true).await.unwrap(), "was not away");
        assert!(r.agents.set_away(&a1, true).await.unwrap(), "already away");
        assert_eq!(
            r.agents.list().await.unwrap(),
            vec![
                AgentRecord {
                    id: a1.clone(),
                    away: true,
                    open_conversations: 2,
                },
                AgentRecord {
                    id: a2.clone(),
                    away: false,
                    open_conversations: 0,
                },
            ]
        );
        assert!(r.agents.set_away(&a1, false).await.unwrap());
        assert!(!r.agents.find(&a1).await.unwrap().unwrap().away);
        // Setting a status records a new agent too.
        let a3 = UserId::new("agent-3").unwrap();
        assert!(!r.agents.set_away(&a3, true).await.unwrap());
        assert!(r.agents.find(&a3).await.unwrap().unwrap().away);
    }
}

#[tokio::test]
async fn a_settled_turn_waits_for_the_texts_stored_before_it() {
    for db in databases().await {
        let r = repos(&db).await;
        let c = claimed_conversation(&r, "client-1", t0()).await;
        let Appended::Stored { turn: held, .. } = r
            .messages
            .append(new_message(&c, "client-1", "before", None))
            .await
            .unwrap()
        else {
            panic!("stored")
        };
        // The text's publish is still under way (its turn is held).
        let mut fence = r.messages.settled(c.id).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), fence.wait());
        assert!(waiting.await.is_err(), "waits for the text's publish");
        drop(held);
        fence.wait().await;
        // The next text waits for the fence in turn.
        let Appended::Stored { turn: mut next, .. } = r
            .messages
            .append(new_message(&c, "client-1", "after", None))
            .await
            .unwrap()
        else {
            panic!("stored")
        };
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), next.wait());
        assert!(waiting.await.is_err(), "the fence is still held");
        drop(fence);
        next.wait().await;
        // A conversation with nothing stored has nothing to wait for.
        let other = new_conversation(&r, "client-2", t0()).await;
        r.messages.settled(other.id).await.wait().await;
    }
}

/// A database from before the desk (migration 3) gets its unread counters
/// and its agents from the rows it has.
#[tokio::test]
async fn the_desk_migration_backfills_unread_counters_and_agents() {
    use qc_migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    for db in databases().await {
        let conn = connect(&db.url).await.unwrap();
        Migrator::up(conn.write(), Some(3)).await.unwrap();
        let c = ConversationId::from_ulid(Ulid::generate());
        let ts = "2025-11-18 10:30:00+00:00";
        let sql = [
            format!(
                "INSERT INTO conversations (id, client_id, support_id, status, subject, created_at, \
                 closed_at, last_seq) VALUES ('{c}', 'client-1', 'agent-1', 'open', NULL, '{ts}', NULL, 4)"
            ),
            format!(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, sender_side, message_type, \
                 content, client_msg_id, created_at, read_at) VALUES \
                 ('{}', '{c}', 1, 'client-1', 'customer', 'text', 'a', NULL, '{ts}', NULL), \
                 ('{}', '{c}', 2, 'client-1', 'customer', 'text', 'b', NULL, '{ts}', '{ts}'), \
                 ('{}', '{c}', 3, 'client-1', 'customer', 'text', 'c', NULL, '{ts}', NULL), \
                 ('{}', '{c}', 4, 'agent-1', 'agent', 'text', 'd', NULL, '{ts}', NULL)",
                Ulid::generate(),
                Ulid::generate(),
                Ulid::generate(),
                Ulid::generate()
            ),
        ];
        for statement in sql {
            conn.write().execute_unprepared(&statement).await.unwrap();
        }
        migrate(&conn).await.unwrap();
        let r = repos(&db).await;
        let agent = r
            .conversations
            .find_view(c, Side::Agent)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(agent.unread_count, 2, "the customer's two unread texts");
        assert_eq!(agent.last_message.map(|m| m.seq), Some(4));
        let customer = r
            .conversations
            .find_view(c, Side::Customer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(customer.unread_count, 1);
        let agents = r.agents.list().await.unwrap();
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0].id.as_str(), "agent-1");
        assert_eq!(agents[0].open_conversations, 1);
    }
}

#[tokio::test]
async fn routing_decides_in_the_database_within_capacity_oldest_first() {
    for db in databases().await {
        let r = repos(&db).await;
        let (a1, a2, away) = (
            UserId::new("agent-1").unwrap(),
            UserId::new("agent-2").unwrap(),
            UserId::new("agent-away").unwrap(),
        );
        for a in [&a1, &a2, &away] {
            r.agents.seen(a).await.unwrap();
        }
        r.agents.set_away(&away, true).await.unwrap();
        let mut waiting = Vec::new();
        for i in 0..5 {
            waiting.push(new_conversation(&r, &format!("c{i}"), t0() + Duration::seconds(i)).await);
        }
        let rule: std::sync::Arc<dyn RoutingRule> = std::sync::Arc::new(FewestOpenFirst);
        let online = [a1.clone(), a2.clone(), away.clone()];
        let out = r
            .conversations
            .route(&online, 2, rule.clone())
            .await
            .unwrap();
        // Capacity 2, two agents not away: the four oldest, alternately.
        // (Applied in id order, the message writer's lock order.)
        let mut got: Vec<(ConversationId, &str, &str)> = out
            .routed
            .iter()
            .map(|x| (x.conversation, x.agent.as_str(), x.customer.as_str()))
            .collect();
        got.sort_by_key(|g| g.0.to_string());
        let mut expected = vec![
            (waiting[0].id, "agent-1", "c0"),
            (waiting[1].id, "agent-2", "c1"),
            (waiting[2].id, "agent-1", "c2"),
            (waiting[3].id, "agent-2", "c3"),
        ];
        expected.sort_by_key(|g| g.0.to_string());
        assert_eq!(got, expected);
        assert_eq!(out.waiting, 1);
        assert_eq!(out.oldest_waiting, Some(waiting[4].created_at));
        // Nobody has room: nothing more, and by hand neither.
        assert!(
            r.conversations
                .route(&online, 2, rule.clone())
                .await
                .unwrap()
                .routed
                .is_empty()
        );
        assert_eq!(
            r.conversations
                .try_assign_within(waiting[4].id, &a1, 2)
                .await
                .unwrap(),
            Claim::AtCapacity
        );
        assert_eq!(
            r.conversations
                .try_transfer(waiting[0].id, &a1, Some(a2.clone()), Some(2))
                .await
                .unwrap(),
            Transfer::AtCapacity
        );
        // A close frees a place; the next decision fills it.
        r.conversations
            .try_close(waiting[0].id, t0(), &agent_id())
            .await
            .unwrap();
        let out = r
            .conversations
            .route(&online, 2, rule.clone())
            .await
            .unwrap();
        assert_eq!(out.routed.len(), 1);
        assert_eq!(out.routed[0].conversation, waiting[4].id);
        assert_eq!(out.routed[0].agent, a1);
        assert_eq!(out.waiting, 0);
        assert_eq!(
            r.conversations
                .try_assign_within(waiting[4].id, &a2, 5)
                .await
                .unwrap(),
            Claim::Lost,
            "taken already"
        );
        // Nobody online: nothing, whatever waits.
        let late = new_conversation(&r, "c9", t0()).await;
        assert!(
            r.conversations
                .route(&[], 2, rule)
                .await
                .unwrap()
                .routed
                .is_empty()
        );
        assert_eq!(
            r.conversations
                .find(late.id)
                .await
                .unwrap()
                .unwrap()
                .support_id,
            None
        );
    }
}

#[tokio::test]
async fn racing_claims_by_one_agent_stop_at_the_capacity() {
    for db in databases().await {
        let r = std::sync::Arc::new(repos(&db).await);
        let agent = UserId::new("agent-1").unwrap();
        r.agents.seen(&agent).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(new_conversation(&r, &format!("c{i}"), t0()).await.id);
        }
        let claims: Vec<_> = ids
            .iter()
            .map(|id| {
                let (r, agent, id) = (r.clone(), agent.clone(), *id);
                tokio::spawn(async move { r.conversations.try_assign_within(id, &agent, 3).await })
            })
            .collect();
        let mut outcomes: Vec<Claim> = Vec::new();
        for claim in claims {
            outcomes.push(claim.await.unwrap().unwrap());
        }
        let assigned = outcomes.iter().filter(|c| **c == Claim::Assigned).count();
        let full = outcomes.iter().filter(|c| **c == Claim::AtCapacity).count();
        assert_eq!((assigned, full), (3, 7), "{outcomes:?}");
        let held = r
            .conversations
            .list(
                &ConversationFilter::AssignedTo(agent.clone()),
                &PageRequest {
                    after: None,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        assert_eq!(held.items.len(), 3);
    }
}
