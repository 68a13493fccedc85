//! Against a real Redis: `#[ignore]`d unless run with `--include-ignored`
//! and `QC_TEST_REDIS_URL` (CI does both, after checking Redis); each test
//! uses its own channel prefix.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use qc_application::ports::{Envelope, RemoteEvents, Transport};
use qc_domain::{ChatEvent, ConversationId, TypingKind, User, UserId};
use tokio::sync::Notify;
use ulid::Ulid;

use super::RedisTransport;

/// The Redis these tests need (they are `#[ignore]`d without it).
fn redis_url() -> String {
    std::env::var("QC_TEST_REDIS_URL").expect("QC_TEST_REDIS_URL: this test needs Redis")
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

fn typing(from: &str, to: Vec<User>) -> Arc<Envelope> {
    Arc::new(Envelope::new(
        to,
        ChatEvent::Typing {
            conversation_id: ConversationId::from_ulid(Ulid::generate()),
            sender_id: user(from).id().clone(),
            kind: TypingKind::Started,
            at: Utc::now(),
        },
    ))
}

fn sender(e: &Envelope) -> String {
    match &e.event {
        ChatEvent::Typing { sender_id, .. } => sender_id.to_string(),
        ChatEvent::MessageStored { message, .. } => message.sender_id().to_string(),
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

/// The Broker port's contract over Redis: two nodes, each a hub over its
/// own connection to one Redis (the memory hub runs the same contract in
/// qc-http).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn two_hubs_over_redis_keep_the_broker_contract() {
    let url = redis_url();
    let p = prefix();
    let mut transports: Vec<Arc<dyn Transport>> = Vec::new();
    for _ in 0..2 {
        transports.push(Arc::new(RedisTransport::connect(&url, &p).await.unwrap()));
    }
    let nodes = qc_http::testing::HubNodes::over(transports);
    qc_application::testing::broker_contract(&nodes).await;
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_node_skips_its_own_events_and_each_user_gets_one_copy() {
    let url = redis_url();
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
    let mut to: Vec<String> = got
        .iter()
        .map(|e| e.recipients[0].id().to_string())
        .collect();
    to.sort();
    assert_eq!(to, vec!["alice", "bob"], "one narrowed copy per user");
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn an_unwatched_user_is_no_longer_delivered() {
    let url = redis_url();
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
async fn an_unreachable_redis_fails_at_connect_instead_of_retrying() {
    // The timeout is a hang guard: connect must give up with an error.
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        RedisTransport::connect("redis://127.0.0.1:1", "x"),
    )
    .await
    .expect("connect gives up on an unreachable Redis");
    assert!(err.is_err());
}

/// Two nodes' presence books over one Redis, in a fresh prefix.
async fn two_books(lease: Duration) -> (super::RedisPresence, super::RedisPresence) {
    use qc_application::ports::PresenceStore;
    let url = redis_url();
    let prefix = format!("qc-test-{}", Ulid::generate());
    let a = RedisTransport::connect(&url, &prefix).await.unwrap();
    let b = RedisTransport::connect(&url, &prefix).await.unwrap();
    let (a, b) = (
        a.presence().with_lease(lease),
        b.presence().with_lease(lease),
    );
    assert!(a.renew().await.unwrap(), "a new node has no lease yet");
    assert!(b.renew().await.unwrap());
    assert!(!a.renew().await.unwrap(), "renewed in time");
    (a, b)
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn presence_changes_once_across_nodes() {
    use qc_application::ports::PresenceStore;
    let (a, b) = two_books(Duration::from_secs(30)).await;
    let alice = user("alice");
    let agent = User::agent(UserId::new("alice").unwrap());
    assert!(a.arrive(&alice).await.unwrap(), "first node: online");
    assert!(
        !b.arrive(&alice).await.unwrap(),
        "second node: already online"
    );
    assert_eq!(
        a.connected(&[alice.clone(), agent.clone()]).await.unwrap(),
        vec![true, false],
        "the agent sharing the sub is someone else"
    );
    assert!(!a.depart(&alice).await.unwrap(), "still held by b");
    assert!(b.connected(std::slice::from_ref(&alice)).await.unwrap()[0]);
    assert!(b.depart(&alice).await.unwrap(), "last node: offline");
    assert!(!a.connected(std::slice::from_ref(&alice)).await.unwrap()[0]);
    assert!(!b.depart(&alice).await.unwrap(), "no second offline");
    assert!(a.reap().await.unwrap().is_empty(), "nobody died");
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn a_dead_nodes_users_go_offline_once_and_a_lapsed_node_knows_it() {
    use qc_application::ports::PresenceStore;
    let (a, b) = two_books(Duration::from_millis(300)).await;
    let (alice, bob) = (user("alice"), user("bob"));
    assert!(a.arrive(&alice).await.unwrap());
    assert!(a.arrive(&bob).await.unwrap());
    assert!(!b.arrive(&bob).await.unwrap());
    // a stops renewing (it "died"); b keeps its lease.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let offline = loop {
        b.renew().await.unwrap();
        let offline = b.reap().await.unwrap();
        if !offline.is_empty() || tokio::time::Instant::now() > deadline {
            break offline;
        }
        // Polling Redis's state (a signal, not a wait): Redis's lease clock
        // cannot be paused from here.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(offline, vec![alice.clone()], "bob is still held by b");
    assert!(b.reap().await.unwrap().is_empty(), "reaped once");
    assert_eq!(
        b.connected(&[alice.clone(), bob.clone()]).await.unwrap(),
        vec![false, true]
    );
    // a comes back: its lease had lapsed, so it must announce its users again.
    assert!(a.renew().await.unwrap());
    assert!(a.arrive(&alice).await.unwrap(), "alice is online again");
}

#[tokio::test]
#[ignore = "needs Redis: set QC_TEST_REDIS_URL (.ci/run does, and runs it with --include-ignored)"]
async fn an_envelope_for_every_agent_reaches_every_node_once_unnarrowed() {
    let url = redis_url();
    let p = prefix();
    let (a, _on_a) = node(&url, &p).await;
    let (b, on_b) = node(&url, &p).await;
    let (c, on_c) = node(&url, &p).await;
    // Watching a user is acked after the subscriptions before it, the
    // agents' channel included: from here on both nodes receive it.
    b.watch(&user("bob")).await;
    c.watch(&user("carol")).await;
    let mut everyone = (*typing("x", vec![user("bob")])).clone();
    everyone.all_agents = true;
    a.publish(&Arc::new(everyone)).unwrap();
    for on in [&on_b, &on_c] {
        let got = on.wait_for(1).await;
        assert_eq!(got.len(), 1);
        assert!(got[0].all_agents);
        assert_eq!(got[0].recipients, vec![user("bob")], "not narrowed");
    }
    // Only once, not also on bob's own channel: a later event to bob is
    // the next thing B receives.
    a.publish(&typing("next", vec![user("bob")])).unwrap();
    let got = on_b.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(sender(&got[1]), "next");
}
