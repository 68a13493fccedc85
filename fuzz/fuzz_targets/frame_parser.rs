//! The inbound WebSocket frame parser (`qc_http::frames::parse_inbound`) on
//! arbitrary text, and the `system/error` renderer on every refusal.
//!
//! Input: the frame's text; bytes that are not UTF-8 are skipped (a
//! WebSocket text frame is UTF-8 by the time the parser sees it).
//!
//! Besides "no panic", it checks what the bad-input table promises: the
//! parser itself only answers `invalid_json` or `invalid_message`
//! (`invalid_content` is the message policy's, checked next);
//! `invalid_json` names no conversation; the default policy accepts
//! exactly the content that is non-blank and at most 4,096 characters, and
//! its refusal names why; the error frame is JSON carrying the same code
//! and conversation id.
#![no_main]

use chrono::Utc;
use libfuzzer_sys::fuzz_target;
use qc_domain::{ClientMsgId, ContentError, DefaultPolicy, MAX_CONTENT_CHARS};
use qc_http::frames::{ErrorCode, Inbound, parse_inbound, render_error};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_inbound(text) {
        Ok(Inbound::Text {
            content,
            client_msg_id,
            ..
        }) => {
            let blank = content.trim().is_empty();
            let long = content.chars().count() > MAX_CONTENT_CHARS;
            match DefaultPolicy::new().check_text(&content) {
                Ok(()) => assert!(!blank && !long, "the policy accepted {text:?}"),
                Err(ContentError::Empty) => assert!(blank, "called empty: {text:?}"),
                Err(ContentError::TooLong { limit }) => {
                    assert!(!blank && long && limit == MAX_CONTENT_CHARS, "called long: {text:?}")
                }
                Err(other) => panic!("the default policy refused {text:?} with {other:?}"),
            }
            if let Some(id) = client_msg_id {
                let n = id.as_str().chars().count();
                assert!(
                    (1..=ClientMsgId::MAX_CHARS).contains(&n),
                    "client_msg_id of {n} characters accepted: {text:?}"
                );
            }
        }
        Ok(Inbound::Typing { .. }) => {}
        Err(err) => {
            match err.code {
                ErrorCode::InvalidJson => assert_eq!(
                    err.conversation_id, None,
                    "invalid_json names a conversation: {text:?}"
                ),
                ErrorCode::InvalidMessage => {}
                other => panic!("the parser answered {other:?}, a later check's code: {text:?}"),
            }
            let frame = render_error(&err, Utc::now());
            let v: serde_json::Value = serde_json::from_str(&frame)
                .unwrap_or_else(|e| panic!("the error frame is not JSON ({e}): {}", &*frame));
            assert_eq!(v["type"], "system", "{}", &*frame);
            assert_eq!(v["sub_type"], "error", "{}", &*frame);
            assert!(
                v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{}",
                &*frame
            );
            assert_eq!(v["payload"]["code"], err.code.as_str(), "{}", &*frame);
            assert_eq!(
                v["payload"]["message"].as_str(),
                Some(err.message.as_str()),
                "{}",
                &*frame
            );
            assert_eq!(
                v["payload"]["conversation_id"].as_str(),
                err.conversation_id.as_deref(),
                "{}",
                &*frame
            );
        }
    }
});
