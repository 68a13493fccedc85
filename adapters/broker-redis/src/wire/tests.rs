use super::*;
use qc_domain::{ConversationId, MessageId};
use ulid::Ulid;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_763_461_800_123).unwrap()
}

#[test]
fn every_event_round_trips() {
    let cid = ConversationId::from_ulid(Ulid::generate());
    let u = |s: &str| UserId::new(s).unwrap();
    let events = vec![
        ChatEvent::MessageStored {
            message: Message::restore(
                MessageId::from_ulid(Ulid::generate()),
                cid,
                7,
                User::agent(u("client")),
                MessageKind::Note,
                "héllo \"quoted\"".into(),
                ClientMsgId::new("k-1"),
                at(),
                Some(at()),
            ),
            at: at(),
        },
        ChatEvent::Typing {
            conversation_id: cid,
            sender_id: u("a"),
            kind: TypingKind::Stopped,
            at: at(),
        },
        ChatEvent::ConversationAssigned {
            conversation_id: cid,
            support_id: Some(u("agent")),
            previous_support_id: None,
            last_seq: None,
            at: at(),
        },
        ChatEvent::ConversationAssigned {
            conversation_id: cid,
            support_id: None,
            previous_support_id: Some(u("agent")),
            last_seq: Some(12),
            at: at(),
        },
        ChatEvent::MessageWithheld {
            conversation_id: cid,
            seq: 9,
        },
        ChatEvent::ConversationCreated {
            conversation: Conversation::restore(
                cid,
                u("c"),
                None,
                ConversationStatus::Open,
                Some("Order 42".into()),
                at(),
                None,
            ),
            at: at(),
        },
        ChatEvent::Presence {
            user: User::agent(u("agent")),
            status: PresenceStatus::Away,
            at: at(),
        },
        ChatEvent::ConversationClosed {
            conversation_id: cid,
            closed_by: u("agent"),
            at: at(),
        },
        ChatEvent::MessagesRead {
            conversation_id: cid,
            reader_id: u("agent"),
            up_to: MessageId::from_ulid(Ulid::generate()),
            at: at(),
        },
    ];
    for event in events {
        let env = Envelope::new(vec![User::customer(u("x")), User::agent(u("x"))], event);
        let back = decode(encode(&env).as_bytes()).unwrap();
        assert_eq!(back, env);
        let everyone = Envelope::with_all_agents(env.recipients.clone(), env.event.clone());
        assert_eq!(decode(encode(&everyone).as_bytes()).unwrap(), everyone);
    }
}

#[test]
fn garbage_is_refused() {
    assert!(decode(b"not json").is_err());
    assert!(decode(br#"{"v":9,"recipients":[],"event":{"kind":"closed","conversation_id":"x","closed_by":"a","at":0}}"#).is_err());
    assert!(decode(br#"{"v":4,"recipients":["c:"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_err());
    assert!(decode(br#"{"v":4,"recipients":["u"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_err(), "a bare sub is no user");
    assert!(decode(br#"{"v":4,"recipients":["c:u"],"event":{"kind":"closed","conversation_id":"nope","closed_by":"a","at":0}}"#).is_err());
    assert!(decode(br#"{"v":4,"recipients":["a:u"],"event":{"kind":"closed","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","closed_by":"a","at":0}}"#).is_ok());
}

#[test]
fn user_keys_keep_the_side() {
    let sub = UserId::new("a:b").unwrap();
    for user in [User::customer(sub.clone()), User::agent(sub.clone())] {
        assert_eq!(parse_user_key(&user_key(&user)), Some(user));
    }
    assert_ne!(
        user_key(&User::customer(sub.clone())),
        user_key(&User::agent(sub))
    );
    assert_eq!(parse_user_key("x:u"), None);
    assert_eq!(parse_user_key("c"), None);
}
