//! Against a real Redis when `QC_TEST_REDIS_URL` is set (CI sets it and
//! checks Redis first); each test uses its own channel prefix.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use qc_application::ports::{Envelope, RemoteEvents, Transport};
use qc_domain::{ChatEvent, ConversationId, TypingKind, User, UserId};
use tokio::sync::Notify;
use ulid::Ulid;

use super::RedisTransport;

fn redis_url() -> Option<String> {
    let url = std::env::var("QC_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("skipped: set QC_TEST_REDIS_URL to run the Redis transport tests (CI does)");
    }
    url
}

/// What a node's hub would have received.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<Arc<Envelope>>>,
    changed: Notify,
}

impl RemoteEvents for Recorder {
    fn deliver(&self, envelope: Arc<Envelope>) {
        self.got.lock().unwrap().push(envelope);
        self.changed.notify_waiters();
    }
}

impl Recorder {
    fn events(&self) -> Vec<Arc<Envelope>> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until `n` envelopes have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Arc<Envelope>> {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let changed = self.changed.notified();
                if self.got.lock().unwrap().len() >= n {
                    return;
                }
                changed.await;
            }
        })
        .await;
        self.events()
    }
}

fn user(s: &str) -> User {
    User::customer(UserId::new(s).unwrap())
}

fn agent(s: &str) -> User {
    User::agent(UserId::new(s).unwrap())
}

fn typing(from: &str, to: Vec<User>) -> Arc<Envelope> {
    Arc::new(Envelope::new(
        to,
        ChatEvent::Typing {
            conversation_id: ConversationId::from_ulid(Ulid::generate()),
            sender_id: user(from).id,
            kind: TypingKind::Started,
            at: Utc::now(),
        },
    ))
}

fn sender(e: &Envelope) -> String {
    match &e.event {
        ChatEvent::Typing { sender_id, .. } => sender_id.to_string(),
        ChatEvent::MessageStored { message, .. } => message.sender_id.to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

async fn node(url: &str, prefix: &str) -> (RedisTransport, Arc<Recorder>) {
    let t = RedisTransport::connect(url, prefix).await.unwrap();
    let r = Arc::new(Recorder::default());
    t.attach(r.clone());
    (t, r)
}

fn prefix() -> String {
    format!("qc-test-{}", Ulid::generate())
}

#[tokio::test]
async fn a_node_receives_only_the_events_of_users_it_watches() {
    let Some(url) = redis_url() else { return };
    let p = prefix();
    let (a, _on_a) = node(&url, &p).await;
    let (b, on_b) = node(&url, &p).await;
    let (c, on_c) = node(&url, &p).await;
    b.watch(&user("agent")).await;
    c.watch(&user("carol")).await;

    a.publish(&typing("first", vec![user("agent")])).unwrap();
    let got = on_b.wait_for(1).await;
    assert_eq!(got.len(), 1, "node B holds the agent");
    assert_eq!(got[0].recipients, vec![user("agent")]);

    // Redis delivers one publisher's messages in order: once C has the
    // second event, it would have had the first one if it were sent to it.
    a.publish(&typing("second", vec![user("carol")])).unwrap();
    let got = on_c.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(sender(&got[0]), "second", "C never saw the agent's event");
    assert!(a.health().await.is_ok());
}

#[tokio::test]
async fn a_node_skips_its_own_events_and_each_user_gets_one_copy() {
    let Some(url) = redis_url() else { return };
    let p = prefix();
    let (a, on_a) = node(&url, &p).await;
    let (b, _on_b) = node(&url, &p).await;
    a.watch(&user("alice")).await;
    a.watch(&user("bob")).await;

    a.publish(&typing("own", vec![user("alice"), user("bob")]))
        .unwrap();
    b.publish(&typing("remote", vec![user("alice"), user("bob")]))
        .unwrap();
    let got = on_a.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().all(|e| sender(e) == "remote"),
        "own events skipped"
    );
    let mut to: Vec<String> = got.iter().map(|e| e.recipients[0].id.to_string()).collect();
    to.sort();
    assert_eq!(to, vec!["alice", "bob"], "one narrowed copy per user");
}

#[tokio::test]
async fn a_customer_and_an_agent_sharing_a_sub_have_separate_channels() {
    let Some(url) = redis_url() else { return };
    let p = prefix();
    let (a, _on_a) = node(&url, &p).await;
    let (b, on_b) = node(&url, &p).await;
    b.watch(&user("same")).await;

    a.publish(&typing("to-agent", vec![agent("same")])).unwrap();
    a.publish(&typing("to-customer", vec![user("same")]))
        .unwrap();
    let got = on_b.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        sender(&got[0]),
        "to-customer",
        "the agent's event never came"
    );
    assert_eq!(got[0].recipients, vec![user("same")]);
}

#[tokio::test]
async fn an_unwatched_user_is_no_longer_delivered() {
    let Some(url) = redis_url() else { return };
    let p = prefix();
    let (a, _on_a) = node(&url, &p).await;
    let (b, on_b) = node(&url, &p).await;
    b.watch(&user("gone")).await;
    b.watch(&user("stays")).await;
    b.unwatch(&user("gone"));
    // A later watch is applied after the unwatch: its ack means both are in effect.
    b.watch(&user("marker")).await;

    a.publish(&typing("x", vec![user("gone")])).unwrap();
    a.publish(&typing("y", vec![user("stays")])).unwrap();
    let got = on_b.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients, vec![user("stays")]);
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_at_connect() {
    let started = std::time::Instant::now();
    let err = RedisTransport::connect("redis://127.0.0.1:1", "x").await;
    assert!(err.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
