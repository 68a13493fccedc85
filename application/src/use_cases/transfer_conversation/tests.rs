use super::*;
use crate::ports::agent_repository::MockAgentRepository;
use crate::test_support::*;

fn known_agents() -> MockAgentRepository {
    let mut agents = MockAgentRepository::new();
    agents.expect_find().returning(|id| {
        Ok(Some(crate::ports::AgentRecord {
            id: id.clone(),
            away: false,
            open_conversations: 0,
        }))
    });
    agents
}

#[tokio::test]
async fn an_unknown_target_is_refused_after_the_callers_own_checks() {
    let conv = assigned_conversation();
    let mut closed = conv.clone();
    closed.close(&client().user(), fixed_now()).unwrap();
    for (c, by, expected) in [
        (conv.clone(), agent(), "unknown"),
        (conv.clone(), other_agent(), "not found"),
        (closed, agent(), "closed"),
    ] {
        let mut f = Fixture::new();
        f.find_returns(c.clone());
        f.conversations.expect_try_transfer().times(0);
        f.broker.expect_publish().times(0);
        let mut agents = MockAgentRepository::new();
        agents.expect_find().returning(|_| Ok(None));
        let uc = TransferConversation {
            conversations: Arc::new(f.conversations),
            messages: Arc::new(f.messages),
            agents: Arc::new(agents),
            broker: Arc::new(f.broker),
            clock: Arc::new(f.clock),
            capacity: None,
            on_change: None,
        };
        let err = uc
            .execute(&by, c.id(), Some(UserId::new("nobody").unwrap()))
            .await
            .unwrap_err();
        let got = match err {
            TransferConversationError::UnknownAgent => "unknown",
            TransferConversationError::NotFound => "not found",
            TransferConversationError::Closed => "closed",
            other => panic!("{other:?}"),
        };
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn a_transfer_moves_the_conversation_and_tells_everyone_concerned() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.find_returns(conv.clone());
    f.conversations
        .expect_try_transfer()
        .withf(|_, from, to, _| {
            *from == agent().user_id().clone() && *to == Some(other_agent().user_id().clone())
        })
        .times(1)
        .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
    f.broker
            .expect_publish()
            .withf(|env| {
                env.all_agents
                    && env.recipients == vec![client().user(), agent().user(), other_agent().user()]
                    && matches!(&env.event, ChatEvent::ConversationAssigned { support_id, previous_support_id, .. }
                        if *support_id == Some(other_agent().user_id().clone()) && *previous_support_id == Some(agent().user_id().clone()))
            })
            .times(1)
            .returning(|_| Ok(()));
    f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![client().user()]
                    && matches!(&env.event, ChatEvent::Typing { sender_id, kind: qc_domain::TypingKind::Stopped, .. } if *sender_id == agent().user_id().clone())
            })
            .times(1)
            .returning(|_| Ok(()));
    let c = f
        .transfer_conversation()
        .execute(&agent(), conv.id(), Some(other_agent().user_id().clone()))
        .await
        .unwrap();
    assert_eq!(c.support_id(), Some(other_agent().user_id()));
}

#[tokio::test(start_paused = true)]
async fn the_event_waits_for_the_texts_stored_before_the_transfer() {
    let conv = assigned_conversation();
    let (release_text, text_published) = tokio::sync::oneshot::channel::<()>();
    let (done, _next) = tokio::sync::oneshot::channel();
    let mut turn = Some(crate::ports::PublishTurn::new(Some(text_published), done));
    let mut f = Fixture::new();
    f.find_returns(conv.clone());
    f.conversations
        .expect_try_transfer()
        .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
    f.messages
        .expect_settled()
        .times(1)
        .returning(move |_| turn.take().unwrap());
    let published = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p = published.clone();
    f.broker.expect_publish().times(2).returning(move |_| {
        p.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    });
    let uc = TransferConversation {
        conversations: Arc::new(f.conversations),
        messages: Arc::new(f.messages),
        agents: Arc::new(known_agents()),
        broker: Arc::new(f.broker),
        clock: Arc::new(f.clock),
        capacity: None,
        on_change: None,
    };
    let transferring = tokio::spawn(async move { uc.execute(&agent(), conv.id(), None).await });
    // The clock is paused: this sleep ends only once every other task is
    // blocked, i.e. the transfer waits on the text's turn (the signal).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!published.load(std::sync::atomic::Ordering::SeqCst));
    drop(release_text);
    transferring.await.unwrap().unwrap();
    assert!(published.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn back_to_the_queue() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.find_returns(conv.clone());
    f.conversations
        .expect_try_transfer()
        .withf(|_, _, to, _| to.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
    f.broker
        .expect_publish()
        .withf(|env| {
            env.all_agents
                && env.recipients == vec![client().user(), agent().user()]
                && matches!(
                    &env.event,
                    ChatEvent::ConversationAssigned {
                        support_id: None,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![client().user()]
                    && matches!(&env.event, ChatEvent::Typing { sender_id, kind: qc_domain::TypingKind::Stopped, .. } if *sender_id == agent().user_id().clone())
            })
            .times(1)
            .returning(|_| Ok(()));
    let c = f
        .transfer_conversation()
        .execute(&agent(), conv.id(), None)
        .await
        .unwrap();
    assert_eq!(c.support_id(), None);
}

#[tokio::test]
async fn to_oneself_changes_and_publishes_nothing() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.find_returns(conv.clone());
    f.conversations.expect_try_transfer().times(0);
    f.broker.expect_publish().times(0);
    let c = f
        .transfer_conversation()
        .execute(&agent(), conv.id(), Some(agent().user_id().clone()))
        .await
        .unwrap();
    assert_eq!(c, conv);
}

#[tokio::test]
async fn only_the_assigned_agent_transfers_and_customers_are_forbidden() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.find_returns(conv.clone());
    f.conversations.expect_try_transfer().times(0);
    f.broker.expect_publish().times(0);
    let uc = f.transfer_conversation();
    assert!(matches!(
        uc.execute(&other_agent(), conv.id(), None).await,
        Err(TransferConversationError::NotFound)
    ));
    assert!(matches!(
        uc.execute(&client(), conv.id(), None).await,
        Err(TransferConversationError::Forbidden)
    ));
}

#[tokio::test]
async fn losing_a_race_to_a_close_is_closed_and_publishes_nothing() {
    let conv = assigned_conversation();
    let mut closed = conv.clone();
    closed.close(&client().user(), fixed_now()).unwrap();
    let mut f = Fixture::new();
    let mut calls = 0;
    f.conversations.expect_find().times(2).returning(move |_| {
        calls += 1;
        Ok(Some(if calls == 1 {
            conv.clone()
        } else {
            closed.clone()
        }))
    });
    f.conversations
        .expect_try_transfer()
        .times(1)
        .returning(|_, _, _, _| Ok(crate::ports::Transfer::Lost));
    f.broker.expect_publish().times(0);
    let err = f
        .transfer_conversation()
        .execute(
            &agent(),
            "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransferConversationError::Closed));
}
