//! docs/asyncapi.yaml against the running server: every documented inbound
//! example is sent by a real client, and every reply must match the schema of
//! the outbound message it claims to be. Every documented example must match
//! its own schema too.

use serde_json::{Value, json};

use crate::helpers::*;

const DOC_CID: &str = "01KAAWW5V95WFFDERJZCTDE2QQ";

/// The parsed document (also read by `wire_vocabulary`).
pub(crate) fn doc() -> Value {
    let path = format!("{}/../docs/asyncapi.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).expect("asyncapi.yaml parses")
}

/// Follows a local `$ref` (`#/a/b/c`).
pub(crate) fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = r
                .trim_start_matches("#/")
                .split('/')
                .fold(root, |node, key| &node[key]);
            resolve(root, target)
        }
        None => v,
    }
}

/// A validator for the JSON Schema subset the document uses.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(root, schema);
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: expected {c}, got {v}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        let ok = alts
            .iter()
            .filter(|a| validate(root, a, v, at).is_ok())
            .count();
        if ok != 1 {
            return Err(format!("{at}: {v} matches {ok} of oneOf"));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let matches = |t: &str| match t {
            "string" => v.is_string(),
            "object" => v.is_object(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "null" => v.is_null(),
            "array" => v.is_array(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        if !types.iter().any(|t| matches(t)) {
            return Err(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{at}: too short"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{at}: too long"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(p).unwrap().is_match(text)
        {
            return Err(format!("{at}: {text:?} does not match {p}"));
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time") {
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| format!("{at}: {text:?} is not date-time"))?;
            if !text.ends_with('Z') {
                return Err(format!("{at}: {text:?} is not UTC with Z"));
            }
        }
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_i64)
        && v.as_i64().is_some_and(|n| n < min)
    {
        return Err(format!("{at}: below {min}"));
    }
    if let Some(obj) = v.as_object() {
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = req.as_str().unwrap();
            if !obj.contains_key(key) {
                return Err(format!("{at}: missing {key}"));
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (key, sub) in props {
                if let Some(val) = obj.get(key) {
                    validate(root, sub, val, &format!("{at}.{key}"))?;
                }
            }
        }
    }
    Ok(())
}

fn message<'a>(root: &'a Value, name: &str) -> &'a Value {
    &root["components"]["messages"][name]
}

fn examples(root: &Value, name: &str) -> Vec<Value> {
    message(root, name)["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["payload"].clone())
        .collect()
}

/// Which documented outbound message a frame is, checked against its schema.
fn conform(root: &Value, frame: &Value) -> Result<&'static str, String> {
    let name = match (frame["type"].as_str(), frame["sub_type"].as_str()) {
        (Some("text"), _) => "Text",
        (Some("note"), _) => "Note",
        (Some("system"), Some("conversation_created")) => "ConversationCreated",
        (Some("system"), Some("presence")) => "Presence",
        (Some("system"), Some("typing_started" | "typing_stopped")) => "Typing",
        (Some("system"), Some("conversation_assigned")) => "ConversationAssigned",
        (Some("system"), Some("conversation_closed")) => "ConversationClosed",
        (Some("system"), Some("messages_read")) => "MessagesRead",
        (Some("system"), Some("error")) => "Error",
        _ => return Err(format!("undocumented frame {frame}")),
    };
    validate(root, &message(root, name)["payload"], frame, name).map(|()| name)
}

#[test]
fn every_documented_example_matches_its_own_schema() {
    let root = doc();
    let names: Vec<String> = root["components"]["messages"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(names.len(), 13);
    for name in names {
        let exs = examples(&root, &name);
        assert!(!exs.is_empty(), "{name} has no example");
        for ex in exs {
            validate(&root, &message(&root, &name)["payload"], &ex, &name).unwrap();
        }
    }
    // The agents' channel carries every message; the customers' all but
    // the notes (in and out).
    for (channel, n) in [("clients", 11), ("supports", 13)] {
        let messages = root["channels"][channel]["messages"].as_object().unwrap();
        assert_eq!(messages.len(), n, "{channel}");
        if channel == "clients" {
            assert!(!messages.contains_key("SendNote") && !messages.contains_key("Note"));
        }
    }
}

#[tokio::test]
async fn documented_inbound_examples_get_documented_replies_on_both_channels() {
    let root = doc();
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    })
    .await;
    for sender_is_agent in [false, true] {
        let mut p = app.chat_pair().await;
        let inbound = ["SendText", "TypingStarted", "TypingStopped"];
        for name in inbound {
            for ex in examples(&root, name) {
                // The documented example, aimed at this session's conversation.
                let mut frame = ex.clone();
                assert_eq!(frame["conversation_id"], DOC_CID);
                frame["conversation_id"] = json!(p.cid);
                if frame.get("client_msg_id").is_some() {
                    frame["client_msg_id"] =
                        json!(format!("{}-{}", sender_is_agent, ulid::Ulid::generate()));
                }
                let (sender, other) = if sender_is_agent {
                    (&mut p.agent_ws, &mut p.client_ws)
                } else {
                    (&mut p.client_ws, &mut p.agent_ws)
                };
                sender.send(frame.clone()).await;
                let reply = other.recv().await;
                let kind = conform(&root, &reply).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    kind,
                    if name == "SendText" { "Text" } else { "Typing" },
                    "{name}"
                );
                if name == "SendText" {
                    assert_eq!(reply["payload"]["content"], ex["content"]);
                    let own = sender.recv().await;
                    assert_eq!(conform(&root, &own).unwrap(), "Text");
                } else {
                    assert_eq!(reply["sub_type"], ex["sub_type"]);
                    // Not back to the sender: nothing was queued for them.
                    sender.expect_nothing_queued().await;
                }
            }
        }
        // Every reply was read: nothing else was sent either side.
        p.client_ws.expect_nothing_queued().await;
        p.agent_ws.expect_nothing_queued().await;
        // The server's own events conform too: read receipt, close, errors.
        let last = app.all_messages(&p.client, &p.cid).await.last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The other side reads what the sender wrote.
        let reader = if sender_is_agent { &p.client } else { &p.agent };
        let r = app
            .post(
                &format!("/conversations/{}/read", p.cid),
                &reader.token,
                json!({ "up_to": last }),
            )
            .await;
        assert_eq!(r.status(), 204);
        assert_eq!(
            conform(&root, &p.agent_ws.recv().await).unwrap(),
            "MessagesRead"
        );
        assert_eq!(
            conform(&root, &p.client_ws.recv().await).unwrap(),
            "MessagesRead"
        );
        app.close(&p.agent, &p.cid).await;
        assert_eq!(
            conform(&root, &p.client_ws.recv().await).unwrap(),
            "ConversationClosed"
        );
        let mut bad = examples(&root, "SendText")[0].clone();
        bad["conversation_id"] = json!(p.cid);
        p.client_ws.send(bad).await;
        assert_eq!(conform(&root, &p.client_ws.recv().await).unwrap(), "Error");
    }
    // Assignment event.
    let client = app.user("client");
    let agent = app.user("support");
    let cid = app.open_conversation(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = app.connect("/chats/clients", &client.token).await;
    app.assign(&agent, &cid).await;
    assert_eq!(
        conform(&root, &ws.recv().await).unwrap(),
        "ConversationAssigned"
    );
}

#[tokio::test]
async fn the_desks_frames_are_documented() {
    let root = doc();
    let app = spawn_app().await;
    let client = app.user("client");
    let agent = app.user("support");
    let colleague = app.user("support");
    let mut agent_ws = app
        .connect("/chats/supports", &agent.token)
        .await
        .with_presence();
    let mut colleague_ws = app.connect("/chats/supports", &colleague.token).await;
    let mut owner_ws = app
        .connect("/chats/clients", &client.token)
        .await
        .with_presence();
    // Each side's own arrival first: presence frames to the agents.
    assert_eq!(conform(&root, &agent_ws.recv().await).unwrap(), "Presence");
    let cid = app.open_conversation(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = async |ws: &mut Ws| loop {
        let f = ws.recv().await;
        if f["sub_type"] != "presence" {
            return f;
        }
    };
    for ws in [&mut agent_ws, &mut owner_ws] {
        assert_eq!(
            conform(&root, &next(ws).await).unwrap(),
            "ConversationCreated"
        );
    }
    app.assign(&agent, &cid).await;
    for ws in [&mut agent_ws, &mut owner_ws] {
        assert_eq!(
            conform(&root, &next(ws).await).unwrap(),
            "ConversationAssigned"
        );
    }
    // Then the presence of the agent who joined.
    assert_eq!(conform(&root, &owner_ws.recv().await).unwrap(), "Presence");
    for ex in examples(&root, "SendNote") {
        let mut frame = ex.clone();
        frame["conversation_id"] = json!(cid);
        agent_ws.send(frame.clone()).await;
        assert_eq!(conform(&root, &next(&mut agent_ws).await).unwrap(), "Note");
        owner_ws.send(frame).await;
        let refused = next(&mut owner_ws).await;
        assert_eq!(conform(&root, &refused).unwrap(), "Error");
        assert_eq!(refused["payload"]["code"], "invalid_message");
    }
    let r = app
        .post(
            &format!("/conversations/{cid}/transfer"),
            &agent.token,
            json!({ "to": colleague.id }),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The colleague saw the queue grow, the claim, then the transfer.
    for kind in [
        "ConversationCreated",
        "ConversationAssigned",
        "ConversationAssigned",
    ] {
        assert_eq!(conform(&root, &colleague_ws.recv().await).unwrap(), kind);
    }
}
