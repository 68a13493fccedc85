//! Against a real Redis when `QC_TEST_REDIS_URL` is set (CI sets it and
//! checks Redis first); each test uses its own channel prefix.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use qc_application::ports::{Broker, Envelope, EventSink};
use qc_domain::{ChatEvent, ConversationId, Message, MessageId, MessageKind, TypingKind, UserId};
use ulid::Ulid;

use super::RedisBroker;

fn redis_url() -> Option<String> {
    let url = std::env::var("QC_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("skipped: set QC_TEST_REDIS_URL to run the Redis broker tests (CI does)");
    }
    url
}

#[derive(Default)]
struct Recorder(Mutex<Vec<ChatEvent>>);
impl EventSink for Recorder {
    fn deliver(&self, envelope: &Arc<Envelope>) {
        self.0.lock().unwrap().push(envelope.event.clone());
    }
}
impl Recorder {
    fn events(&self) -> Vec<ChatEvent> {
        self.0.lock().unwrap().clone()
    }
    async fn wait_for(&self, n: usize) -> Vec<ChatEvent> {
        for _ in 0..100 {
            if self.0.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.events()
    }
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn typing(to: Vec<UserId>) -> Arc<Envelope> {
    Arc::new(Envelope::new(
        to,
        ChatEvent::Typing {
            conversation_id: ConversationId::from_ulid(Ulid::generate()),
            sender_id: user("s"),
            kind: TypingKind::Started,
            at: Utc::now(),
        },
    ))
}

fn text(cid: ConversationId, seq: i64, to: Vec<UserId>) -> Arc<Envelope> {
    Arc::new(Envelope::new(
        to,
        ChatEvent::MessageStored {
            message: Message {
                id: MessageId::from_ulid(Ulid::generate()),
                conversation_id: cid,
                seq,
                sender_id: user("s"),
                kind: MessageKind::Text,
                content: format!("m{seq}"),
                client_msg_id: None,
                created_at: Utc::now(),
                read_at: None,
            },
            at: Utc::now(),
        },
    ))
}

fn prefix() -> String {
    format!("qc-test-{}", Ulid::generate())
}

/// The same contract as the in-memory broker's, on one node.
#[tokio::test]
async fn broker_contract_on_one_node() {
    let Some(url) = redis_url() else { return };
    let broker = RedisBroker::connect(&url, &prefix()).await.unwrap();
    let a1 = Arc::new(Recorder::default());
    let a2 = Arc::new(Recorder::default());
    let b = Arc::new(Recorder::default());
    let s1 = broker.subscribe(&user("alice"), a1.clone()).await.unwrap();
    let _s2 = broker.subscribe(&user("alice"), a2.clone()).await.unwrap();
    let _s3 = broker.subscribe(&user("bob"), b.clone()).await.unwrap();
    broker.publish(typing(vec![user("alice")])).await.unwrap();
    // Local delivery is immediate, and not repeated when Redis echoes it back.
    assert_eq!(
        (a1.events().len(), a2.events().len(), b.events().len()),
        (1, 1, 0)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(a1.events().len(), 1, "own envelopes are skipped");
    drop(s1);
    broker
        .publish(typing(vec![user("alice"), user("bob")]))
        .await
        .unwrap();
    assert_eq!(
        (a1.events().len(), a2.events().len(), b.events().len()),
        (1, 2, 1)
    );
    broker.health().await.unwrap();
}

#[tokio::test]
async fn events_cross_nodes_and_texts_arrive_in_seq_order() {
    let Some(url) = redis_url() else { return };
    let p = prefix();
    let node_a = RedisBroker::connect(&url, &p).await.unwrap();
    let node_b = RedisBroker::connect(&url, &p).await.unwrap();
    let on_b = Arc::new(Recorder::default());
    let _s = node_b
        .subscribe(&user("agent"), on_b.clone())
        .await
        .unwrap();

    node_a.publish(typing(vec![user("agent")])).await.unwrap();
    assert_eq!(
        on_b.wait_for(1).await.len(),
        1,
        "node B's connection got node A's event"
    );

    // Texts published out of order across nodes come out in order.
    let cid = ConversationId::from_ulid(Ulid::generate());
    node_a
        .publish(text(cid, 1, vec![user("agent")]))
        .await
        .unwrap();
    node_a
        .publish(text(cid, 3, vec![user("agent")]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    node_b
        .publish(text(cid, 2, vec![user("agent")]))
        .await
        .unwrap();
    let got = on_b.wait_for(4).await;
    let seqs: Vec<i64> = got
        .iter()
        .filter_map(|e| match e {
            ChatEvent::MessageStored { message, .. } => Some(message.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_at_connect() {
    let started = std::time::Instant::now();
    let err = RedisBroker::connect("redis://127.0.0.1:1", "x").await;
    assert!(err.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
