use super::*;
use chrono::TimeZone;
use qc_domain::{ConversationId, MessageId, MessageKind, UserId};

use serde_json::Value;

fn code(text: &str) -> ErrorCode {
    parse_inbound(text).unwrap_err().code
}

#[test]
fn a_note_parses_like_a_text_and_renders_as_a_note() {
    let n = parse_inbound(
            r#"{"type":"note","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","content":"Refund approved by finance"}"#,
        )
        .unwrap();
    assert!(
        matches!(n, Inbound::Text { kind: MessageKind::Note, ref content, .. } if content.as_str() == "Refund approved by finance")
    );
    assert_eq!(
        code(r#"{"type":"note","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ"}"#),
        ErrorCode::InvalidMessage
    );
    // Blank content parses: the message policy checks it next, in the
    // connection, before the conversation is looked up.
    assert!(parse_inbound(r#"{"type":"note","conversation_id":"x","content":"  "}"#).is_ok());
    // From a customer a note is an unknown type, whatever its content.
    for frame in [
        r#"{"type":"note","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","content":"hi"}"#,
        r#"{"type":"note","conversation_id":"x","content":"  "}"#,
    ] {
        assert_eq!(
            parse_inbound_from(frame, Side::Customer).unwrap_err().code,
            ErrorCode::InvalidMessage
        );
    }
}

#[test]
fn desk_events_render_as_the_contract_says() {
    use qc_domain::{PresenceStatus, User};
    let at = Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap();
    let cid: ConversationId = "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap();
    let v: Value = serde_json::from_str(&render_event(&ChatEvent::ConversationAssigned {
        conversation_id: cid,
        support_id: None,
        previous_support_id: Some(UserId::new("agent-1").unwrap()),
        last_seq: Some(4),
        at,
    }))
    .unwrap();
    assert_eq!(v["sub_type"], "conversation_assigned");
    assert_eq!(v["payload"]["support_id"], Value::Null);
    assert_eq!(v["payload"]["previous_support_id"], "agent-1");
    let v: Value = serde_json::from_str(&render_event(&ChatEvent::Presence {
        user: User::agent(UserId::new("agent-1").unwrap()),
        status: PresenceStatus::Away,
        at,
    }))
    .unwrap();
    assert_eq!(
        v["payload"],
        serde_json::json!({"user_id": "agent-1", "side": "agent", "status": "away"})
    );
    let owner = qc_domain::Identity::new(UserId::new("c-1").unwrap(), qc_domain::Role::Guest);
    let conversation = Conversation::open(cid, &owner, Some("Order".into()), at).unwrap();
    let v: Value = serde_json::from_str(&render_event(&ChatEvent::ConversationCreated {
        conversation,
        at,
    }))
    .unwrap();
    assert_eq!(v["sub_type"], "conversation_created");
    assert_eq!(v["payload"]["id"], cid.to_string());
    assert_eq!(v["payload"]["support_id"], Value::Null);
    assert_eq!(v["payload"]["last_message"], Value::Null);
    assert_eq!(v["payload"]["unread_count"], 0);
    assert_eq!(v["payload"]["status"], "open");
}

#[test]
fn seed_examples_parse() {
    let t = parse_inbound(r#"{"type":"text","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","content":"Hello, I need help with my order."}"#).unwrap();
    assert!(
        matches!(t, Inbound::Text { kind: MessageKind::Text, ref conversation_id, ref content, client_msg_id: None }
            if conversation_id == "01KAAWW5V95WFFDERJZCTDE2QQ" && content.as_str() == "Hello, I need help with my order.")
    );
    let s = parse_inbound(r#"{"type":"system","sub_type":"typing_started","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ"}"#).unwrap();
    assert!(matches!(
        s,
        Inbound::Typing {
            kind: TypingKind::Started,
            ..
        }
    ));
    let s = parse_inbound(r#"{"type":"system","sub_type":"typing_stopped","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ"}"#).unwrap();
    assert!(matches!(
        s,
        Inbound::Typing {
            kind: TypingKind::Stopped,
            ..
        }
    ));
}

#[test]
fn bad_input_rows_in_order() {
    assert_eq!(code("not json"), ErrorCode::InvalidJson);
    assert_eq!(code("[1,2]"), ErrorCode::InvalidJson);
    assert_eq!(code("\"text\""), ErrorCode::InvalidJson);
    assert_eq!(
        code(r#"{"conversation_id":"x","content":"hi"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","content":"hi"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":7,"conversation_id":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","conversation_id":7,"content":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"video","conversation_id":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"system","sub_type":"dancing","conversation_id":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"system","conversation_id":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","conversation_id":"x"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","conversation_id":"x","content":5}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","conversation_id":"x","content":"hi","client_msg_id":""}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"text","conversation_id":"x","content":"hi","client_msg_id":5}"#),
        ErrorCode::InvalidMessage
    );
    // A bad client_msg_id outranks bad content (invalid_message is the earlier row).
    assert_eq!(
        code(r#"{"type":"text","conversation_id":"x","content":"","client_msg_id":""}"#),
        ErrorCode::InvalidMessage
    );
    // Content as sent, blank or long: the message policy's to judge
    // (invalid_content, the next row; tests/api/bad_input.rs).
    let long = "a".repeat(4097);
    for content in ["   ", long.as_str()] {
        let frame = format!(r#"{{"type":"text","conversation_id":"x","content":"{content}"}}"#);
        assert!(
            matches!(parse_inbound(&frame), Ok(Inbound::Text { content: ref c, .. }) if c == content)
        );
    }
    // An array with the fields in order is still not an object.
    assert_eq!(
        code(r#"["text", null, "01KAAWW5V95WFFDERJZCTDE2QQ", "hi", null]"#),
        ErrorCode::InvalidJson
    );
    // Escaped strings are read like plain ones; unknown fields are ignored.
    assert!(matches!(
        parse_inbound(r#"{"type":"te\u0078t","conversation_id":"x","content":"a\"b","extra":[1,{"k":2}]}"#),
        Ok(Inbound::Text { ref content, .. }) if content.as_str() == "a\"b"
    ));
    // Not-a-ULID is answered later (conversation_not_found), so it parses.
    assert!(
        parse_inbound(
            r#"{"type":"text","conversation_id":"nope","content":"hi","client_msg_id":null}"#
        )
        .is_ok()
    );
}

#[test]
fn errors_name_the_conversation_when_known() {
    let e = parse_inbound(
        r#"{"type":"text","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","content":5}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.conversation_id.as_deref(),
        Some("01KAAWW5V95WFFDERJZCTDE2QQ")
    );
    let frame = render_error(&e, Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 5).unwrap());
    let v: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(v["type"], "system");
    assert_eq!(v["sub_type"], "error");
    assert_eq!(v["timestamp"], "2025-11-18T10:30:05.000Z");
    assert_eq!(v["payload"]["code"], "invalid_message");
    assert_eq!(
        v["payload"]["conversation_id"],
        "01KAAWW5V95WFFDERJZCTDE2QQ"
    );
}

#[test]
fn message_frame_has_the_seed_shape() {
    let at = Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap();
    let m = Message::restore(
        "01KAB0000000000000000000AA".parse::<MessageId>().unwrap(),
        "01KAAWW5V95WFFDERJZCTDE2QQ"
            .parse::<ConversationId>()
            .unwrap(),
        1,
        qc_domain::User::customer(UserId::new("01K9RDKY84GC0Q7F9F1NY54B5C").unwrap()),
        MessageKind::Text,
        "Hello, I need help with my order.".into(),
        None,
        at,
        None,
    );
    let frame = render_event(&ChatEvent::MessageStored { message: m, at });
    assert_eq!(
        &*frame,
        r#"{"type":"text","sub_type":"","timestamp":"2025-11-18T10:30:00.000Z","payload":{"id":"01KAB0000000000000000000AA","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","sender_id":"01K9RDKY84GC0Q7F9F1NY54B5C","message_type":"text","content":"Hello, I need help with my order.","created_at":"2025-11-18T10:30:00.000Z","read_at":null,"seq":1,"client_msg_id":null}}"#
    );
}
