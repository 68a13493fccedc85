//! The [`Broker`] port's contract, as code: what every broker (one node in
//! memory, several nodes over a transport) promises the use cases. An
//! implementation proves itself by running [`broker_contract`] over a
//! [`BrokerHarness`] that builds its nodes and opens connections on them.
//!
//! The checks publish typing events, each naming a conversation of its
//! own, and watch which connections receive which. "Nobody else receives
//! it" is shown without waiting out a silence: after the event, a second
//! one goes to everyone watched, and it must be the next thing each of
//! them receives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use qc_domain::{ChatEvent, ConversationId, TypingKind, User, UserId};
use ulid::Ulid;

use crate::ports::{Broker, Envelope};

/// How long a connection waits for an event the contract expects: a hang
/// guard, never a measurement.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The broker under test: its nodes, and connections opened on them.
#[async_trait]
pub trait BrokerHarness: Send + Sync {
    /// How many nodes share delivery (1 for a broker without a transport).
    fn nodes(&self) -> usize;

    /// Node `node`'s broker (`node < nodes()`).
    fn broker(&self, node: usize) -> Arc<dyn Broker>;

    /// Opens a connection of `user` on `node`. Returns once what is
    /// published for `user` from then on, on any node, reaches it.
    async fn connect(&self, node: usize, user: &User) -> Box<dyn Connection>;
}

/// One open connection; dropping it closes it.
#[async_trait]
pub trait Connection: Send {
    /// The conversation named by the next event this connection receives,
    /// in the order received; `None` when nothing arrives within
    /// [`PATIENCE`].
    async fn next(&mut self) -> Option<ConversationId>;
}

/// Runs every check of the contract, in order; panics naming the first
/// that fails.
pub async fn broker_contract(harness: &dyn BrokerHarness) {
    assert!(harness.nodes() >= 1, "a broker has at least one node");
    every_connection_of_every_recipient_receives_it_once(harness).await;
    nobody_else_receives_it(harness).await;
    a_user_is_a_side_and_a_sub(harness).await;
    all_agents_reaches_every_agent_once_and_no_customer(harness).await;
    one_publishers_events_arrive_in_order_everywhere(harness).await;
    a_closed_connection_receives_nothing_and_stops_nobody(harness).await;
    every_node_is_healthy(harness).await;
}

fn last(h: &dyn BrokerHarness) -> usize {
    h.nodes() - 1
}

/// A user of `side` no other check (or run) uses.
fn fresh(agent: bool) -> User {
    let id = UserId::new(format!("contract-{}", Ulid::generate())).expect("a valid id");
    if agent {
        User::agent(id)
    } else {
        User::customer(id)
    }
}

fn typing(to: Vec<User>, all_agents: bool) -> (ConversationId, Arc<Envelope>) {
    let id = ConversationId::from_ulid(Ulid::generate());
    let event = ChatEvent::Typing {
        conversation_id: id,
        sender_id: UserId::new("contract-sender").expect("a valid id"),
        kind: TypingKind::Started,
        at: Utc::now(),
    };
    let envelope = if all_agents {
        Envelope::with_all_agents(to, event)
    } else {
        Envelope::new(to, event)
    };
    (id, Arc::new(envelope))
}

async fn publish(h: &dyn BrokerHarness, node: usize, envelope: Arc<Envelope>, check: &str) {
    h.broker(node)
        .publish(envelope)
        .await
        .unwrap_or_else(|e| panic!("{check}: publish failed: {e}"));
}

async fn expect(c: &mut dyn Connection, id: ConversationId, check: &str, who: &str) {
    match c.next().await {
        Some(got) => assert_eq!(got, id, "{check}: {who} received another event first"),
        None => panic!("{check}: {who} received nothing"),
    }
}

/// Sends a last event to `all` (from node 0) and checks it is the next
/// thing each receives: whatever was not meant for them did not come.
async fn nothing_more(
    h: &dyn BrokerHarness,
    all: &mut [(&str, &mut Box<dyn Connection>, User)],
    check: &str,
) {
    let users: Vec<User> = all.iter().map(|(_, _, u)| u.clone()).collect();
    let mut unique = users.clone();
    unique.sort();
    unique.dedup();
    let (sentinel, envelope) = typing(unique, false);
    publish(h, 0, envelope, check).await;
    for (who, c, _) in all.iter_mut() {
        expect(c.as_mut(), sentinel, check, who).await;
    }
}

async fn every_connection_of_every_recipient_receives_it_once(h: &dyn BrokerHarness) {
    let check = "every connection of every recipient receives it once";
    let (alice, bob) = (fresh(false), fresh(false));
    let mut a1 = h.connect(0, &alice).await;
    let mut a2 = h.connect(0, &alice).await;
    let mut a3 = h.connect(last(h), &alice).await;
    let mut b1 = h.connect(last(h), &bob).await;
    for from in [0, last(h)] {
        let (id, envelope) = typing(vec![alice.clone(), bob.clone()], false);
        publish(h, from, envelope, check).await;
        for (who, c) in [
            ("alice's first tab", &mut a1),
            ("alice's second tab", &mut a2),
            ("alice on the last node", &mut a3),
            ("bob", &mut b1),
        ] {
            expect(c.as_mut(), id, check, who).await;
        }
    }
    nothing_more(
        h,
        &mut [
            ("alice's first tab", &mut a1, alice.clone()),
            ("alice's second tab", &mut a2, alice.clone()),
            ("alice on the last node", &mut a3, alice.clone()),
            ("bob", &mut b1, bob),
        ],
        check,
    )
    .await;
}

async fn nobody_else_receives_it(h: &dyn BrokerHarness) {
    let check = "nobody else receives it";
    let (alice, carol) = (fresh(false), fresh(false));
    let mut a = h.connect(0, &alice).await;
    let mut c0 = h.connect(0, &carol).await;
    let mut c1 = h.connect(last(h), &carol).await;
    let (id, envelope) = typing(vec![alice.clone()], false);
    publish(h, 0, envelope, check).await;
    expect(a.as_mut(), id, check, "alice").await;
    nothing_more(
        h,
        &mut [
            ("alice", &mut a, alice.clone()),
            ("carol", &mut c0, carol.clone()),
            ("carol on the last node", &mut c1, carol),
        ],
        check,
    )
    .await;
}

async fn a_user_is_a_side_and_a_sub(h: &dyn BrokerHarness) {
    let check = "a user is a side and a sub";
    let customer = fresh(false);
    let agent = User::agent(customer.id().clone());
    let mut c = h.connect(0, &customer).await;
    let mut a = h.connect(last(h), &agent).await;
    let (id, envelope) = typing(vec![customer.clone()], false);
    publish(h, 0, envelope, check).await;
    expect(c.as_mut(), id, check, "the customer").await;
    nothing_more(
        h,
        &mut [
            ("the customer", &mut c, customer),
            ("the agent with the same sub", &mut a, agent),
        ],
        check,
    )
    .await;
}

async fn all_agents_reaches_every_agent_once_and_no_customer(h: &dyn BrokerHarness) {
    let check = "all_agents reaches every agent once and no other customer";
    let (g1, g2, owner, other) = (fresh(true), fresh(true), fresh(false), fresh(false));
    let mut c_g1 = h.connect(0, &g1).await;
    let mut c_g2 = h.connect(last(h), &g2).await;
    let mut c_owner = h.connect(0, &owner).await;
    let mut c_other = h.connect(last(h), &other).await;
    // g1 is listed too: still once.
    let (id, envelope) = typing(vec![g1.clone(), owner.clone()], true);
    publish(h, last(h), envelope, check).await;
    expect(c_g1.as_mut(), id, check, "a listed agent").await;
    expect(c_g2.as_mut(), id, check, "an agent on another node").await;
    expect(c_owner.as_mut(), id, check, "the listed customer").await;
    nothing_more(
        h,
        &mut [
            ("a listed agent", &mut c_g1, g1),
            ("an agent on another node", &mut c_g2, g2),
            ("the listed customer", &mut c_owner, owner),
            ("another customer", &mut c_other, other),
        ],
        check,
    )
    .await;
}

async fn one_publishers_events_arrive_in_order_everywhere(h: &dyn BrokerHarness) {
    let check = "one publisher's events arrive in publish order everywhere";
    let alice = fresh(false);
    let mut near = h.connect(0, &alice).await;
    let mut far = h.connect(last(h), &alice).await;
    let mut sent = Vec::new();
    for _ in 0..50 {
        let (id, envelope) = typing(vec![alice.clone()], false);
        publish(h, 0, envelope, check).await;
        sent.push(id);
    }
    for (who, c) in [
        ("on the publishing node", &mut near),
        ("on the last node", &mut far),
    ] {
        for (i, id) in sent.iter().enumerate() {
            expect(c.as_mut(), *id, check, &format!("alice {who}, event {i}")).await;
        }
    }
}

async fn a_closed_connection_receives_nothing_and_stops_nobody(h: &dyn BrokerHarness) {
    let check = "a closed connection stops nobody";
    let alice = fresh(false);
    let gone = h.connect(0, &alice).await;
    let mut stays = h.connect(last(h), &alice).await;
    drop(gone);
    let (id, envelope) = typing(vec![alice.clone()], false);
    publish(h, 0, envelope, check).await;
    expect(stays.as_mut(), id, check, "alice's remaining connection").await;
    drop(stays);
    // Nobody connected at all: delivered to no one, and no error.
    let (_, envelope) = typing(vec![alice, fresh(false)], false);
    publish(h, 0, envelope, check).await;
}

async fn every_node_is_healthy(h: &dyn BrokerHarness) {
    for node in 0..h.nodes() {
        h.broker(node)
            .health()
            .await
            .unwrap_or_else(|e| panic!("node {node} is unhealthy: {e}"));
    }
}
