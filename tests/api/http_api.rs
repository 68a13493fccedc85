//! The HTTP API: statuses, error bodies, pagination.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn open_claim_close_with_contract_statuses() {
    let app = spawn_app().await;
    let client = app.user("client");
    let agent = app.user("support");
    let other_agent = app.user("support");

    let r = app.post("/conversations", &client.token, json!({})).await;
    assert_eq!(r.status(), 201);
    let conv: Value = r.json().await.unwrap();
    assert_eq!(conv["client_id"], client.id.as_str());
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["support_id"], Value::Null);
    assert_eq!(conv["subject"], Value::Null);
    assert_eq!(conv["closed_at"], Value::Null);
    assert_timestamp(&conv["created_at"]);
    let cid = conv["id"].as_str().unwrap();

    // Agents do not open conversations.
    let r = app
        .post("/conversations", &agent.token, json!({ "subject": "x" }))
        .await;
    assert_eq!(r.status(), 403);

    let r = app.assign(&agent, cid).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["support_id"],
        agent.id.as_str()
    );
    assert_eq!(
        app.assign(&agent, cid).await.status(),
        200,
        "claiming one's own again"
    );
    let r = app.assign(&other_agent, cid).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "already_assigned");
    assert_eq!(app.assign(&client, cid).await.status(), 403);

    let r = app.close(&client, cid).await;
    assert_eq!(r.status(), 200);
    let closed: Value = r.json().await.unwrap();
    assert_eq!(closed["status"], "closed");
    assert_timestamp(&closed["closed_at"]);
    let again = app.close(&agent, cid).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap()["closed_at"],
        closed["closed_at"],
        "idempotent"
    );
    assert_eq!(app.close(&other_agent, cid).await.status(), 404);

    let r = app.assign(&other_agent, cid).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "conversation_closed",
        "closed wins"
    );
}

#[tokio::test]
async fn errors_are_json_with_code_and_message() {
    let app = spawn_app().await;
    let client = app.user("client");
    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (
            app.http
                .post(app.url("/conversations"))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
        ),
        (
            app.get("/conversations/not-a-ulid", &client.token).await,
            404,
            "not_found",
        ),
        (
            app.get("/conversations/01KAAWW5V95WFFDERJZCTDE2QQ", &client.token)
                .await,
            404,
            "not_found",
        ),
        (
            app.http
                .post(app.url("/conversations"))
                .bearer_auth(&client.token)
                .header("content-type", "application/json")
                .body("{bad json")
                .send()
                .await
                .unwrap(),
            400,
            "invalid_request",
        ),
        (
            app.get("/no/such/route", &client.token).await,
            404,
            "not_found",
        ),
        (
            app.http
                .post(app.url("/conversations"))
                .bearer_auth(&client.token)
                .header("content-type", "text/plain")
                .body("hi")
                .send()
                .await
                .unwrap(),
            415,
            "unsupported_media_type",
        ),
    ];
    // A subject that is not a string is refused, not stringified.
    let r = app
        .post("/conversations", &client.token, json!({ "subject": false }))
        .await;
    assert_eq!(r.status(), 400);
    // A POST /conversations without a body is told to send JSON.
    let r = app
        .http
        .post(app.url("/conversations"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "unsupported_media_type"
    );
    // 405 names the allowed methods.
    let r = app
        .http
        .delete(app.url("/conversations"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST");
    let r = app
        .http
        .get(app.url("/conversations/01KAAWW5V95WFFDERJZCTDE2QQ/close"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.headers()["allow"],
        "POST",
        "read from the OpenAPI document"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    for (resp, status, code) in cases {
        assert_eq!(resp.status().as_u16(), status);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn history_pages_with_after_before_and_limit() {
    let app = spawn_with(|s| {
        s.ws_rate_per_sec = 0;
        s.user_rate_per_sec = 0;
    })
    .await;
    let mut p = app.chat_pair().await;
    for i in 1..=7 {
        p.client_ws.send(text(&p.cid, &format!("m{i}"))).await;
        p.client_ws.recv().await;
    }
    let page = |q: &str| {
        let path = format!("/conversations/{}/messages{q}", p.cid);
        let token = p.agent.token.clone();
        let app = &app;
        async move {
            let r = app.get(&path, &token).await;
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let contents = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let latest = page("?limit=3").await;
    assert_eq!(contents(&latest), ["m5", "m6", "m7"]);
    let cursor = latest["next_cursor"].as_str().unwrap().to_owned();
    let older = page(&format!("?limit=3&before={cursor}")).await;
    assert_eq!(contents(&older), ["m2", "m3", "m4"]);
    let first_id = page("?limit=200").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = page(&format!("?after={first_id}&limit=2")).await;
    assert_eq!(contents(&after), ["m2", "m3"]);
    assert!(after["next_cursor"].is_string());
    let all = page("?limit=100000").await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        7,
        "limit is clamped, not refused"
    );
    assert_eq!(all["next_cursor"], Value::Null);

    // Strangers see 404; agents may preview an unassigned conversation.
    let stranger = app.user("client");
    assert_eq!(
        app.get(
            &format!("/conversations/{}/messages", p.cid),
            &stranger.token
        )
        .await
        .status(),
        404
    );
    // after + before: what lies strictly between.
    let fifth_id = page("?limit=200").await["items"][4]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        contents(&page(&format!("?after={first_id}&before={fifth_id}")).await),
        ["m2", "m3", "m4"]
    );
    assert_eq!(
        contents(&page("?limit=-5").await),
        ["m7"],
        "limit below 1 is clamped to 1"
    );
    let r = app
        .get(
            &format!(
                "/conversations/{}/messages?after=01KAAWW5V95WFFDERJZCTDE2QQ",
                p.cid
            ),
            &p.agent.token,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_message");
}

#[tokio::test]
async fn health_readiness_and_the_openapi_document() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["broker"], "ok");
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/conversations",
        "/conversations/{id}",
        "/conversations/{id}/assign",
        "/conversations/{id}/close",
        "/conversations/{id}/messages",
        "/conversations/{id}/read",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the spec"
        );
    }
    let docs = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn read_receipts_set_read_at_and_tell_both_sides() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "q1")).await;
    let m1 = p.agent_ws.recv().await;
    p.client_ws.recv().await;
    let up_to = m1["payload"]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/conversations/{}/read", p.cid),
            &p.agent.token,
            json!({ "up_to": up_to }),
        )
        .await;
    assert_eq!(r.status(), 204);
    for ws in [&mut p.client_ws, &mut p.agent_ws] {
        let e = ws.recv().await;
        assert_eq!(e["sub_type"], "messages_read");
        assert_eq!(
            e["payload"],
            json!({ "conversation_id": p.cid, "reader_id": p.agent.id, "up_to": up_to })
        );
    }
    let history = app.all_messages(&p.client, &p.cid).await;
    assert_timestamp(&history[0]["read_at"]);
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_text_format() {
    let app = spawn_app().await;
    let mut p = app.chat_pair().await;
    p.client_ws.send(text(&p.cid, "counted")).await;
    p.client_ws.recv().await;
    p.client_ws.send_text("not json").await;
    p.client_ws.recv().await;
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = r.text().await.unwrap();
    for name in [
        "qc_messages_stored_total",
        "qc_ws_connections",
        "qc_ws_frame_errors_total{code=\"invalid_json\"}",
        "qc_http_requests_total",
    ] {
        assert!(body.contains(name), "{name} missing from:\n{body}");
    }
}

async fn served_openapi(app: &TestApp) -> Value {
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// docs/openapi.json is the served document, byte for byte in meaning.
/// Regenerate after an API change: `QC_WRITE_OPENAPI=1 cargo test -p qc-tests openapi_document`.
#[tokio::test]
async fn docs_openapi_json_matches_the_served_openapi_document() {
    let app = spawn_app().await;
    let served = served_openapi(&app).await;
    let path = format!("{}/../docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("QC_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&served).unwrap() + "\n").unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/openapi.json exists"))
            .expect("docs/openapi.json is JSON");
    assert!(
        committed == served,
        "docs/openapi.json drifted from /openapi.json; run QC_WRITE_OPENAPI=1 cargo test -p qc-tests openapi_document"
    );
}

/// Swagger UI's Authorize: the bearer scheme is declared, and applied to
/// every operation that needs a caller (optional in the document, as the
/// cookie works too); "Try it out" then sends the header the API takes.
/// No id is prefilled, and the endpoints outside the document are named,
/// the WebSocket ones with a pointer to the served AsyncAPI document.
#[tokio::test]
async fn the_openapi_document_declares_and_applies_the_bearer_scheme() {
    let app = spawn_app().await;
    let doc = served_openapi(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["BearerToken"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"], &scheme["bearerFormat"]),
        (&json!("http"), &json!("bearer"), &json!("JWT"))
    );
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = path == "/healthz" || path == "/readyz";
            let security = op["security"].as_array();
            if public {
                assert!(security.is_none(), "{method} {path} needs no token");
                continue;
            }
            let security = security.unwrap_or_else(|| panic!("{method} {path}: no security"));
            assert!(
                security.contains(&json!({ "BearerToken": [] })),
                "{method} {path}: {security:?}"
            );
            secured += 1;
        }
    }
    assert!(secured >= 10, "every caller-bound operation: {secured}");
    assert!(
        !doc.to_string().contains("01KAAWW5V95WFFDERJZCTDE2QQ"),
        "no example id to prefill"
    );
    let about = doc["info"]["description"].as_str().unwrap();
    for named in [
        "/chats/clients",
        "/chats/supports",
        "/metrics",
        "/dev/token",
        "/asyncapi.yaml",
    ] {
        assert!(about.contains(named), "{named} is described");
    }
    let asyncapi = app
        .http
        .get(app.url("/asyncapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(asyncapi.status(), 200);
    assert!(asyncapi.text().await.unwrap().starts_with("asyncapi:"));
    // What "Try it out" sends after Authorize: the bearer header.
    let client = app.user("client");
    let r = app
        .http
        .get(app.url("/conversations"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .get(app.url("/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "still the API's own 401 without a token");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
}

#[tokio::test]
async fn the_browser_pages_and_library_are_served_and_dev_tokens_exist_only_in_dev_mode() {
    let app = spawn_app().await; // has a secret: not dev mode
    for (path, ctype, needle) in [
        ("/", "text/html", "Chat with support"),
        ("/agent", "text/html", "Agent console"),
        (
            "/assets/quickconnect/pages/widget.js",
            "text/javascript",
            "sendText",
        ),
        (
            "/assets/quickconnect/pages/agent.js",
            "text/javascript",
            "sendNote",
        ),
        (
            "/assets/quickconnect/index.js",
            "text/javascript",
            "ChatClient",
        ),
        ("/assets/app.css", "text/css", ".msg"),
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
        if ctype == "text/html" {
            assert!(
                r.headers()["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("default-src 'self'")
            );
        }
        assert!(r.text().await.unwrap().contains(needle), "{path}");
    }
    let r = app
        .http
        .get(app.url("/dev/token?role=client"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no dev tokens outside dev mode");

    let dev = spawn_with(|s| s.jwt_secret = None).await;
    let r = dev
        .http
        .get(dev.url("/dev/token?role=support"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["role"], "support");
    let token = body["token"].as_str().unwrap();
    // The token works where a support token belongs.
    dev.connect("/chats/supports", token).await;
    assert_eq!(
        dev.get("/conversations?queue=true", token).await.status(),
        200
    );
    let r = dev
        .http
        .get(dev.url("/dev/token?role=admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The same user again (a page renewing its session): `sub` is kept.
    let again: Value = dev
        .http
        .get(dev.url(&format!(
            "/dev/token?role=support&sub={}",
            body["user_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["user_id"], body["user_id"]);
    assert_ne!(again["token"], Value::Null);
    let bad = dev
        .http
        .get(dev.url("/dev/token?role=client&sub=a%20b"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // The icon the browser asks for.
    let icon = dev.http.get(dev.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().contains("<svg"));
}

#[tokio::test]
async fn cors_lets_allowed_origins_call_the_api_without_credentials() {
    let open = spawn_app().await;
    let client = open.user("client");
    let pre = open
        .http
        .request(reqwest::Method::OPTIONS, open.url("/conversations"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(
        pre.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let r = open
        .http
        .get(open.url("/conversations"))
        .bearer_auth(&client.token)
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    let strict = spawn_with(|s| s.allowed_origins = Some("https://app.example.com".into())).await;
    let pre = strict
        .http
        .request(reqwest::Method::OPTIONS, strict.url("/conversations"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 403);
    assert_eq!(
        pre.json::<Value>().await.unwrap()["code"],
        "origin_not_allowed"
    );
    let r = strict
        .http
        .get(strict.url("/conversations"))
        .bearer_auth(&strict.user("client").token)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "the browser will refuse it"
    );
}

/// A malformed body or parameter is answered in the contract's words:
/// 400 `invalid_request`, naming what is wrong, never a Rust type or the
/// framework's own phrasing.
#[tokio::test]
async fn malformed_bodies_and_parameters_are_explained_without_framework_internals() {
    let app = spawn_app().await;
    let client = app.user("client");
    let empty = app
        .http
        .post(app.url("/conversations"))
        .bearer_auth(&client.token)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let bad_limit = app.get("/conversations?limit=many", &client.token).await;
    for (r, names) in [(empty, "JSON object"), (bad_limit, "\"limit\"")] {
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(names), "{message}");
        for internal in [
            "parse request payload",
            "Request\"",
            "Expected input type",
            "failed to parse",
        ] {
            assert!(!message.contains(internal), "{message}");
        }
    }
}
