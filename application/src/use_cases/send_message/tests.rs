use super::*;
use crate::ports::{BrokerError, PublishTurn, RepositoryError};
use crate::test_support::*;

fn request(conv: &qc_domain::Conversation, cmid: Option<&str>) -> SendMessageRequest {
    SendMessageRequest {
        conversation_id: conv.id(),
        kind: MessageKind::Text,
        content: MessageContent::new("Hello, I need help with my order.").unwrap(),
        client_msg_id: cmid.map(|c| ClientMsgId::new(c).unwrap()),
    }
}

fn stored(
    conv: &qc_domain::Conversation,
) -> impl Fn(NewMessage) -> Result<Appended, AppendError> + use<> {
    let participants = conv.participants();
    move |new| {
        Ok(Appended::Stored {
            message: Message::stored(new, 1),
            participants: participants.clone(),
            turn: PublishTurn::default(),
        })
    }
}

#[tokio::test]
async fn stores_then_publishes_to_the_participants_the_store_saw() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages
        .expect_append()
        .withf(|new| new.sender_id() == client().user_id() && new.created_at() == fixed_now())
        .times(1)
        .returning(stored(&conv));
    let expected_recipients = vec![client().user(), agent().user()];
    f.broker
            .expect_publish()
            .withf(move |env| {
                env.recipients == expected_recipients
                    && matches!(&env.event, ChatEvent::MessageStored { message, .. } if message.seq() == 1)
            })
            .times(1)
            .returning(|_| Ok(()));
    let out = f
        .send_message()
        .execute(&client(), request(&conv, None))
        .await
        .unwrap();
    match out {
        SendOutcome::Stored {
            message,
            participants,
            published,
        } => {
            assert!(published);
            assert_eq!(participants, conv.participants());
            assert_eq!(message.sender_id(), client().user_id());
            assert_eq!(message.content(), "Hello, I need help with my order.");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_note_reaches_the_agent_only_and_the_customer_gets_just_its_seq() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages
        .expect_append()
        .withf(|new| new.kind() == MessageKind::Note)
        .times(1)
        .returning(stored(&conv));
    let mut seq = mockall::Sequence::new();
    f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![agent().user()]
                    && !env.all_agents
                    && matches!(&env.event, ChatEvent::MessageStored { message, .. } if message.kind() == MessageKind::Note)
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
    f.broker
        .expect_publish()
        .withf(|env| {
            env.recipients == vec![client().user()]
                && matches!(&env.event, ChatEvent::MessageWithheld { seq: 1, .. })
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let mut req = request(&conv, None);
    req.kind = MessageKind::Note;
    f.send_message().execute(&agent(), req).await.unwrap();
}

#[tokio::test]
async fn a_customer_cannot_write_a_note() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages.expect_append().times(0);
    f.broker.expect_publish().times(0);
    let mut req = request(&conv, None);
    req.kind = MessageKind::Note;
    let err = f.send_message().execute(&client(), req).await.unwrap_err();
    assert!(matches!(err, ParticipantError::NotAllowed));
}

#[tokio::test]
async fn the_plugged_in_policy_decides_what_may_be_stored() {
    let mut uc = Fixture::new().send_message();
    uc.policy = Arc::new(qc_domain::NoCardNumbers::new(
        qc_domain::DefaultPolicy::new(),
        8192,
    ));
    let text = |who: &Identity, raw: &str| uc.content(who, MessageKind::Text, raw.into());
    let err = text(&client(), "card 4111 1111 1111 1111").unwrap_err();
    assert!(
        matches!(&err, ParticipantError::InvalidContent(qc_domain::ContentError::Refused(why)) if why.contains("card")),
        "{err:?}"
    );
    assert!(matches!(
        text(&client(), "   "),
        Err(ParticipantError::InvalidContent(
            qc_domain::ContentError::Empty
        ))
    ));
    let long = "a".repeat(5000);
    assert!(
        text(&client(), &long).is_err(),
        "customers keep the 4,096 limit"
    );
    let content = text(&agent(), &long).expect("agents may write 8,192");
    assert_eq!(content.as_str().len(), 5000);
}

#[tokio::test]
async fn a_text_publishes_only_after_the_one_stored_before_it() {
    let conv = assigned_conversation();
    let (release_previous, previous_released) = tokio::sync::oneshot::channel();
    let (done, next) = tokio::sync::oneshot::channel();
    let mut turn = Some(PublishTurn::new(Some(previous_released), done));
    let participants = conv.participants();
    let mut f = Fixture::new();
    f.messages.expect_append().times(1).returning(move |new| {
        Ok(Appended::Stored {
            message: Message::stored(new, 2),
            participants: participants.clone(),
            turn: turn.take().unwrap(),
        })
    });
    let published = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p = published.clone();
    f.broker.expect_publish().times(1).returning(move |_| {
        p.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    });
    let uc = f.send_message();
    let sending = tokio::spawn(async move { uc.execute(&client(), request(&conv, None)).await });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        !published.load(std::sync::atomic::Ordering::SeqCst),
        "waits for seq 1"
    );
    drop(release_previous);
    sending.await.unwrap().unwrap();
    assert!(published.load(std::sync::atomic::Ordering::SeqCst));
    assert!(
        next.await.is_err(),
        "its own turn is released after publishing"
    );
}

#[tokio::test]
async fn storage_failure_publishes_nothing() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages.expect_append().times(1).returning(|_| {
        Err(AppendError::Storage(RepositoryError(anyhow::anyhow!(
            "disk full"
        ))))
    });
    f.broker.expect_publish().times(0);
    let err = f
        .send_message()
        .execute(&client(), request(&conv, None))
        .await
        .unwrap_err();
    assert!(matches!(err, ParticipantError::Unavailable(_)));
}

#[tokio::test]
async fn a_stranger_and_a_missing_conversation_get_the_same_answer() {
    for refusal in [
        AppendError::NotParticipant,
        AppendError::ConversationMissing,
    ] {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        let mut refusal = Some(refusal);
        f.messages
            .expect_append()
            .times(1)
            .returning(move |_| Err(refusal.take().unwrap()));
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&stranger(), request(&conv, Some("x")))
            .await
            .unwrap_err();
        assert!(matches!(err, ParticipantError::NotFound));
    }
}

#[tokio::test]
async fn a_closed_conversation_stores_nothing() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages
        .expect_append()
        .times(1)
        .returning(|_| Err(AppendError::ConversationClosed));
    f.broker.expect_publish().times(0);
    let err = f
        .send_message()
        .execute(&client(), request(&conv, None))
        .await
        .unwrap_err();
    assert!(matches!(err, ParticipantError::Closed));
}

#[tokio::test]
async fn a_duplicate_settled_by_the_store_is_not_published() {
    let conv = assigned_conversation();
    let original = stored_message(&conv, 3, Some("c-1"));
    let mut f = Fixture::new();
    let o = original.clone();
    f.messages
        .expect_append()
        .times(1)
        .returning(move |_| Ok(Appended::Duplicate(o.clone())));
    f.broker.expect_publish().times(0);
    let out = f
        .send_message()
        .execute(&client(), request(&conv, Some("c-1")))
        .await
        .unwrap();
    assert_eq!(out, SendOutcome::Duplicate(original));
}

#[tokio::test]
async fn broker_down_still_stores_and_reports_unpublished() {
    let conv = assigned_conversation();
    let mut f = Fixture::new();
    f.messages.expect_append().times(1).returning(stored(&conv));
    f.broker
        .expect_publish()
        .times(1)
        .returning(|_| Err(BrokerError(anyhow::anyhow!("redis down"))));
    let out = f
        .send_message()
        .execute(&client(), request(&conv, None))
        .await
        .unwrap();
    assert!(matches!(
        out,
        SendOutcome::Stored {
            published: false,
            ..
        }
    ));
}
