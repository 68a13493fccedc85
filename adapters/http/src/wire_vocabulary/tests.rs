use super::*;
use chrono::{TimeZone, Utc};
use qc_domain::{ConversationId, MessageId, PresenceStatus, User, UserId};
use serde_json::{Value, json};

use crate::frames::{FrameError, parse_inbound, render_error, render_event};

const CID: &str = "01KAAWW5V95WFFDERJZCTDE2QQ";

fn kind_of(frame: &str) -> (String, String) {
    let v: Value = serde_json::from_str(frame).unwrap();
    (
        v["type"].as_str().unwrap().to_owned(),
        v["sub_type"].as_str().unwrap().to_owned(),
    )
}

fn named(frame: ServerFrame) -> (String, String) {
    (frame.frame_type().to_owned(), frame.sub_type().to_owned())
}

#[test]
fn the_parser_reads_every_client_frame_as_the_vocabulary_names_it() {
    for frame in CLIENT_FRAMES {
        let text = json!({
            "type": frame.frame_type(),
            "sub_type": frame.sub_type(),
            "conversation_id": CID,
            "content": "hello",
        })
        .to_string();
        let parsed = parse_inbound(&text).unwrap_or_else(|e| panic!("{frame:?}: {e:?}"));
        assert_eq!(ClientFrame::of(&parsed), frame, "{text}");
    }
}

#[test]
fn error_frames_carry_every_code_as_the_vocabulary_names_it() {
    let at = Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap();
    for code in ERROR_CODES {
        let frame = render_error(&FrameError::new(code, "refused", None), at);
        assert_eq!(kind_of(&frame), named(ServerFrame::Error));
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["payload"]["code"], code.as_str());
    }
}

/// The events that need no stored message or conversation to build; the
/// message and conversation_created frames are checked in frames/tests.rs.
#[test]
fn events_render_as_the_frames_the_vocabulary_gives_them() {
    let at = Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap();
    let cid: ConversationId = CID.parse().unwrap();
    let agent = UserId::new("agent-1").unwrap();
    let up_to: MessageId = "01KAB0000000000000000000AA".parse().unwrap();
    let mut events = vec![
        ChatEvent::ConversationAssigned {
            conversation_id: cid,
            support_id: Some(agent.clone()),
            previous_support_id: None,
            last_seq: None,
            at,
        },
        ChatEvent::ConversationClosed {
            conversation_id: cid,
            closed_by: agent.clone(),
            at,
        },
        ChatEvent::MessagesRead {
            conversation_id: cid,
            reader_id: agent.clone(),
            up_to,
            at,
        },
        ChatEvent::Presence {
            user: User::agent(agent.clone()),
            status: PresenceStatus::Online,
            at,
        },
    ];
    for kind in TYPING_KINDS {
        events.push(ChatEvent::Typing {
            conversation_id: cid,
            sender_id: agent.clone(),
            kind,
            at,
        });
    }
    for event in events {
        let frames = ServerFrame::for_event(&event);
        assert_eq!(frames.len(), 1, "{event:?}");
        assert_eq!(
            kind_of(&render_event(&event)),
            named(frames[0]),
            "{event:?}"
        );
    }
}

#[test]
fn every_frame_is_a_message_frame_or_a_system_frame_with_a_sub_type() {
    let message_types = MESSAGE_KINDS.map(MessageKind::as_str);
    for frame in CLIENT_FRAMES {
        match frame.sub_type() {
            None => assert!(message_types.contains(&frame.frame_type()), "{frame:?}"),
            Some(sub) => {
                assert_eq!(frame.frame_type(), SYSTEM, "{frame:?}");
                assert!(!sub.is_empty(), "{frame:?}");
            }
        }
    }
    for frame in SERVER_FRAMES {
        if frame.sub_type().is_empty() {
            assert!(message_types.contains(&frame.frame_type()), "{frame:?}");
        } else {
            assert_eq!(frame.frame_type(), SYSTEM, "{frame:?}");
        }
    }
    // Every kind of message travels both ways; so does every typing signal.
    for kind in MESSAGE_KINDS {
        assert!(CLIENT_FRAMES.contains(&ClientFrame::message(kind)));
        assert!(SERVER_FRAMES.contains(&ServerFrame::message(kind)));
    }
    for kind in TYPING_KINDS {
        assert!(CLIENT_FRAMES.contains(&ClientFrame::typing(kind)));
        assert!(SERVER_FRAMES.contains(&ServerFrame::typing(kind)));
    }
}

/// The renderer writes names into quotes and keys, and meanings into
/// comments, without escaping: they must need none.
#[test]
fn every_name_is_plain_and_named_once() {
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let mut names: Vec<&str> = ERROR_CODES.map(ErrorCode::as_str).to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ERROR_CODES.len());
    let mut close_names: Vec<&str> = CLOSE_CODES.map(CloseCode::name).to_vec();
    close_names.sort_unstable();
    close_names.dedup();
    assert_eq!(close_names.len(), CLOSE_CODES.len());
    names.extend(close_names);
    names.extend(MESSAGE_KINDS.map(MessageKind::as_str));
    names.push(SYSTEM);
    names.extend(CLIENT_FRAMES.iter().filter_map(|f| f.sub_type()));
    names.extend(
        SERVER_FRAMES
            .iter()
            .map(|f| f.sub_type())
            .filter(|s| !s.is_empty()),
    );
    for name in names {
        assert!(plain(name), "{name:?}");
    }
    for close in CLOSE_CODES {
        assert!(!close.when().contains("*/"), "{close:?}");
    }
    // Lowest first, each number once, in the ranges RFC 6455 allows a
    // server to send.
    assert!(CLOSE_CODE_NUMBERS.windows(2).all(|w| w[0] < w[1]));
    assert!(
        CLOSE_CODE_NUMBERS
            .iter()
            .all(|&c| (1000..=1011).contains(&c) || (4000..=4999).contains(&c))
    );
}

#[test]
fn the_typescript_module_has_its_header_and_every_name() {
    let ts = render_typescript();
    assert!(ts.starts_with(TYPESCRIPT_HEADER));
    assert!(ts.ends_with(";\n"));
    for code in ERROR_CODES {
        assert!(
            ts.contains(&format!("  '{}',\n", code.as_str())),
            "{code:?}"
        );
    }
    for close in CLOSE_CODES {
        assert!(
            ts.contains(&format!("  {}: {},\n", close.name(), close.code())),
            "{close:?}"
        );
    }
    for frame in SERVER_FRAMES {
        assert!(
            ts.contains(&format!("'{}'", frame.frame_type())),
            "{frame:?}"
        );
        assert!(ts.contains(&format!("'{}'", frame.sub_type())) || frame.sub_type().is_empty());
    }
}
