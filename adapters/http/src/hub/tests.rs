use super::*;
use chrono::Utc;
use qc_application::ports::conversation_repository::MockConversationRepository;
use qc_domain::{ChatEvent, ConversationId, TypingKind, UserId};
use std::sync::Mutex;
use std::time::Duration;
use ulid::Ulid;

fn user(s: &str) -> User {
    User::customer(UserId::new(s).unwrap())
}

fn agent(s: &str) -> User {
    User::agent(UserId::new(s).unwrap())
}

fn hub(transport: Option<Arc<dyn Transport>>) -> Arc<Hub> {
    let access = Arc::new(ConversationAccess::new(
        Arc::new(MockConversationRepository::new()),
        Duration::from_secs(5),
    ));
    Hub::new(access, transport)
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

#[tokio::test]
async fn every_connection_of_every_recipient_shares_one_rendered_frame() {
    let hub = hub(None);
    let (a1, mut rx_a1) = Outbox::new(8, 1 << 20);
    let (a2, mut rx_a2) = Outbox::new(8, 1 << 20);
    let (b, mut rx_b) = Outbox::new(8, 1 << 20);
    let (c, mut rx_c) = Outbox::new(8, 1 << 20);
    let _r1 = hub.register(&user("alice"), a1).await;
    let _r2 = hub.register(&user("alice"), a2).await;
    let _r3 = hub.register(&user("bob"), b).await;
    let _r4 = hub.register(&user("carol"), c).await;

    hub.publish(typing("carol", vec![user("alice"), user("bob")]))
        .await
        .unwrap();

    let f1 = rx_a1.try_recv().unwrap();
    let f2 = rx_a2.try_recv().unwrap();
    let f3 = rx_b.try_recv().unwrap();
    assert!(f1.contains("typing_started"));
    // One buffer, three handles: the same bytes at the same address.
    assert_eq!(f1.as_str().as_ptr(), f2.as_str().as_ptr());
    assert_eq!(f1.as_str().as_ptr(), f3.as_str().as_ptr());
    assert!(rx_c.try_recv().is_none(), "not a recipient");
}

#[tokio::test]
async fn deliveries_and_slots_are_per_side_not_per_sub() {
    let hub = hub(None);
    let customer = user("same");
    let agent = User::agent(UserId::new("same").unwrap());
    let (c, mut rx_c) = Outbox::new(8, 1 << 20);
    let (a, mut rx_a) = Outbox::new(8, 1 << 20);
    let _rc = hub.register(&customer, c).await;
    let _ra = hub.register(&agent, a).await;

    hub.publish(typing("x", vec![customer.clone()]))
        .await
        .unwrap();
    assert!(rx_c.try_recv().is_some());
    assert!(
        rx_a.try_recv().is_none(),
        "the agent with that sub is someone else"
    );
    hub.publish(typing("x", vec![agent.clone()])).await.unwrap();
    assert!(rx_a.try_recv().is_some());
    assert!(rx_c.try_recv().is_none());

    // One slot each: the customer's cap does not count the agent's.
    let held = hub.reserve(&customer, 1, None).unwrap();
    assert!(hub.reserve(&customer, 1, None).is_none());
    assert!(hub.reserve(&agent, 1, None).is_some());
    drop(held);
}

#[derive(Default)]
struct FakeTransport {
    log: Mutex<Vec<String>>,
    inbound: Mutex<Option<Arc<dyn RemoteEvents>>>,
}

#[async_trait]
impl Transport for FakeTransport {
    fn attach(&self, inbound: Arc<dyn RemoteEvents>) {
        *self.inbound.lock().unwrap() = Some(inbound);
    }
    fn publish(&self, envelope: &Arc<Envelope>) -> Result<(), BrokerError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("publish {}", envelope.recipients.len()));
        Ok(())
    }
    fn watch(&self, user: &User) -> qc_application::ports::Watched {
        self.log
            .lock()
            .unwrap()
            .push(format!("watch {}", user.id()));
        Box::pin(async {})
    }
    fn unwatch(&self, user: &User) {
        self.log
            .lock()
            .unwrap()
            .push(format!("unwatch {}", user.id()));
    }
    async fn health(&self) -> Result<(), BrokerError> {
        Ok(())
    }
}

#[test]
fn a_user_gets_at_most_max_slots_and_a_freed_one_comes_back() {
    let hub = hub(None);
    let a: Vec<Slot> = (0..3)
        .filter_map(|_| hub.reserve(&user("alice"), 3, None))
        .collect();
    assert_eq!(a.len(), 3);
    assert!(
        hub.reserve(&user("alice"), 3, None).is_none(),
        "the fourth is refused"
    );
    assert!(hub.reserve(&user("bob"), 3, None).is_some(), "per user");
    drop(a);
    assert!(hub.reserve(&user("alice"), 3, None).is_some());
    assert!(
        hub.by_user.get(&user("bob")).is_none(),
        "freed entries go away"
    );
}

#[test]
fn a_users_connections_share_one_frame_bucket() {
    let hub = hub(None);
    let now = std::time::Instant::now();
    let a = hub.reserve(&user("alice"), 5, Some((1, 3))).unwrap();
    let b = hub.reserve(&user("alice"), 5, Some((1, 3))).unwrap();
    let c = hub.reserve(&user("carol"), 5, Some((1, 3))).unwrap();
    let taken = [&a, &b, &a, &b]
        .iter()
        .filter(|s| s.take_user_token(now))
        .count();
    assert_eq!(taken, 3, "the burst is the user's, not each connection's");
    assert!(c.take_user_token(now), "another user has their own");
}

#[tokio::test]
async fn the_transport_watches_a_user_from_the_first_connection_to_the_last() {
    let transport = Arc::new(FakeTransport::default());
    let hub = hub(Some(transport.clone()));
    let (o1, _rx1) = Outbox::new(8, 1 << 20);
    let (o2, mut rx2) = Outbox::new(8, 1 << 20);
    let r1 = hub.register(&user("alice"), o1).await;
    let r2 = hub.register(&user("alice"), o2).await;
    drop(r1);
    hub.publish(typing("bob", vec![user("alice")]))
        .await
        .unwrap();
    drop(r2);
    assert_eq!(
        *transport.log.lock().unwrap(),
        vec!["watch alice", "publish 1", "unwatch alice"]
    );
    assert!(rx2.try_recv().is_some());
    assert_eq!(hub.connections(), 0);
}

fn text(cid: ConversationId, seq: i64, to: Vec<User>) -> Arc<Envelope> {
    use qc_domain::{Message, MessageId, MessageKind};
    Arc::new(Envelope::new(
        to,
        ChatEvent::MessageStored {
            message: Message::restore(
                MessageId::from_ulid(Ulid::generate()),
                cid,
                seq,
                user("s"),
                MessageKind::Text,
                format!("m{seq}"),
                None,
                Utc::now(),
                None,
            ),
            at: Utc::now(),
        },
    ))
}

fn seq_of(frame: &Frame) -> i64 {
    let v: serde_json::Value = serde_json::from_str(frame).unwrap();
    v["payload"]["seq"].as_i64().unwrap()
}

#[tokio::test]
async fn with_a_transport_local_and_remote_texts_are_delivered_in_seq_order() {
    let transport = Arc::new(FakeTransport::default());
    let hub = hub(Some(transport.clone()));
    let (o, mut rx) = Outbox::new(8, 1 << 20);
    let _r = hub.register(&user("alice"), o).await;
    let inbound = transport.inbound.lock().unwrap().clone().unwrap();
    let cid = ConversationId::from_ulid(Ulid::generate());
    hub.publish(text(cid, 1, vec![user("alice")]))
        .await
        .unwrap();
    // Another node stored 2; this node stored 3 and delivers it first.
    hub.publish(text(cid, 3, vec![user("alice")]))
        .await
        .unwrap();
    inbound.deliver(text(cid, 2, vec![user("alice")]));
    let got: Vec<i64> = (0..3).map(|_| seq_of(&rx.try_recv().unwrap())).collect();
    assert_eq!(got, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_withheld_seq_moves_the_order_on_without_a_wait() {
    let transport = Arc::new(FakeTransport::default());
    let hub = hub(Some(transport.clone()));
    let (o, mut rx) = Outbox::new(8, 1 << 20);
    let _r = hub.register(&user("alice"), o).await;
    let cid = ConversationId::from_ulid(Ulid::generate());
    hub.publish(text(cid, 1, vec![user("alice")]))
        .await
        .unwrap();
    // Seq 2 is a note: the customer gets only its place.
    let withheld = Arc::new(Envelope::new(
        vec![user("alice")],
        ChatEvent::MessageWithheld {
            conversation_id: cid,
            seq: 2,
        },
    ));
    hub.publish(withheld).await.unwrap();
    hub.publish(text(cid, 3, vec![user("alice")]))
        .await
        .unwrap();
    let got: Vec<i64> = (0..2).map(|_| seq_of(&rx.try_recv().unwrap())).collect();
    assert_eq!(got, vec![1, 3], "3 at once: nothing waits for 2");
    assert!(rx.try_recv().is_none(), "the withheld seq renders nothing");
}

#[tokio::test]
async fn a_transfer_reaches_the_previous_agent_after_its_last_text_from_another_node() {
    let transport = Arc::new(FakeTransport::default());
    let hub = hub(Some(transport.clone()));
    let inbound = transport.inbound.lock().unwrap().clone().unwrap();
    let (previous, new) = (agent("p"), agent("q"));
    let (op, mut rx_p) = Outbox::new(8, 1 << 20);
    let (oq, mut rx_q) = Outbox::new(8, 1 << 20);
    let _rp = hub.register(&previous, op).await;
    let _rq = hub.register(&new, oq).await;
    let cid = ConversationId::from_ulid(Ulid::generate());
    hub.publish(text(cid, 1, vec![previous.clone()]))
        .await
        .unwrap();
    // The transfer after seq 2, which another node stored and is still
    // delivering.
    let assigned = Arc::new(Envelope::with_all_agents(
        vec![previous.clone(), new.clone()],
        ChatEvent::ConversationAssigned {
            conversation_id: cid,
            support_id: Some(new.id().clone()),
            previous_support_id: Some(previous.id().clone()),
            last_seq: Some(2),
            at: Utc::now(),
        },
    ));
    hub.publish(assigned).await.unwrap();
    assert_eq!(seq_of(&rx_p.try_recv().unwrap()), 1);
    assert!(rx_p.try_recv().is_none(), "the event waits for seq 2");
    assert!(rx_q.try_recv().unwrap().contains("conversation_assigned"));
    inbound.deliver(text(cid, 2, vec![previous.clone()]));
    assert_eq!(seq_of(&rx_p.try_recv().unwrap()), 2);
    assert!(rx_p.try_recv().unwrap().contains("conversation_assigned"));
    // The new agent's run starts after the switch: seq 3 goes at once.
    hub.publish(text(cid, 3, vec![new.clone()])).await.unwrap();
    assert_eq!(seq_of(&rx_q.try_recv().unwrap()), 3);
}

#[tokio::test]
async fn events_from_other_nodes_reach_local_connections() {
    let transport = Arc::new(FakeTransport::default());
    let hub = hub(Some(transport.clone()));
    let (o, mut rx) = Outbox::new(8, 1 << 20);
    let _r = hub.register(&user("alice"), o).await;
    let inbound = transport.inbound.lock().unwrap().clone().unwrap();
    inbound.deliver(typing("bob", vec![user("alice")]));
    assert!(rx.try_recv().unwrap().contains("typing_started"));
    assert_eq!(
        *transport.log.lock().unwrap(),
        vec!["watch alice"],
        "a remote event is not sent back out"
    );
}
