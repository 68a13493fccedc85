//! Who may connect, where the token may come from, and token expiry.

use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::helpers::*;

fn request(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Request {
    let mut req = app.ws_url(path).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    req
}

#[tokio::test]
async fn missing_or_invalid_tokens_get_401_before_the_upgrade() {
    let app = spawn_app().await;
    assert_eq!(
        app.upgrade_status(request(&app, "/chats/clients", &[]))
            .await,
        401
    );
    let bad = [
        "Bearer garbage".to_owned(),
        format!("Bearer {}", mint("client", "u1", -120)), // expired beyond leeway
        format!("Bearer {}", mint("admin", "u1", 60)),    // unknown role
        format!("Bearer {}", mint("client", "", 60)),     // empty sub
    ];
    for header in &bad {
        assert_eq!(
            app.upgrade_status(request(
                &app,
                "/chats/clients",
                &[("Authorization", header)]
            ))
            .await,
            401,
            "{header}"
        );
    }
    // The 401 carries the JSON error body.
    let r = app
        .http
        .get(app.url("/chats/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
}

#[tokio::test]
async fn roles_are_checked_per_endpoint_with_403() {
    let app = spawn_app().await;
    let support = format!("Bearer {}", mint("support", "a1", 60));
    let client = format!("Bearer {}", mint("client", "c1", 60));
    let guest = format!("Bearer {}", mint("guest", "g1", 60));
    assert_eq!(
        app.upgrade_status(request(
            &app,
            "/chats/clients",
            &[("Authorization", &support)]
        ))
        .await,
        403
    );
    assert_eq!(
        app.upgrade_status(request(
            &app,
            "/chats/supports",
            &[("Authorization", &client)]
        ))
        .await,
        403
    );
    assert_eq!(
        app.upgrade_status(request(
            &app,
            "/chats/supports",
            &[("Authorization", &guest)]
        ))
        .await,
        403
    );
    app.connect("/chats/clients", &mint("guest", "g1", 60))
        .await;
    app.connect("/chats/clients", &mint("client", "c1", 60))
        .await;
    app.connect("/chats/supports", &mint("support", "a1", 60))
        .await;
}

#[tokio::test]
async fn token_from_subprotocol_cookie_and_query() {
    let app = spawn_app().await;
    let token = mint("client", "c1", 60);

    // Browser style: the server selects quickconnect.v1 and never echoes the token.
    let proto = format!("quickconnect.v1, bearer.{token}");
    let req = request(
        &app,
        "/chats/clients",
        &[("Sec-WebSocket-Protocol", &proto)],
    );
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "quickconnect.v1"
    );

    let cookie = format!("theme=dark; access_token={token}");
    app.connect_request(request(&app, "/chats/clients", &[("Cookie", &cookie)]))
        .await
        .unwrap();

    let req = format!("{}?access_token={token}", app.ws_url("/chats/clients"))
        .into_client_request()
        .unwrap();
    app.connect_request(req).await.unwrap();

    // quickconnect.v1 is selected whatever the auth.
    let req = request(
        &app,
        "/chats/clients",
        &[
            ("Sec-WebSocket-Protocol", "quickconnect.v1"),
            ("Authorization", &format!("Bearer {token}")),
        ],
    );
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "quickconnect.v1"
    );
}

#[tokio::test]
async fn the_first_place_holding_a_token_decides_with_no_fall_through() {
    let app = spawn_app().await;
    let good = mint("client", "c1", 60);
    let cookie = format!("access_token={good}");
    let req = request(
        &app,
        "/chats/clients",
        &[("Authorization", "Bearer invalid"), ("Cookie", &cookie)],
    );
    assert_eq!(app.upgrade_status(req).await, 401);
    let proto = "quickconnect.v1, bearer.invalid".to_owned();
    let req = request(
        &app,
        "/chats/clients",
        &[("Sec-WebSocket-Protocol", &proto), ("Cookie", &cookie)],
    );
    assert_eq!(app.upgrade_status(req).await, 401);
}

#[tokio::test]
async fn disallowed_origins_get_403_before_anything_else() {
    let app = spawn_with(|s| {
        s.allowed_origins = Some("https://app.example.com, http://localhost:2530".into())
    })
    .await;
    let token = format!("Bearer {}", mint("client", "c1", 60));
    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "null",
        "http://app.example.com",
    ] {
        let req = request(
            &app,
            "/chats/clients",
            &[("Origin", origin), ("Authorization", &token)],
        );
        assert_eq!(app.upgrade_status(req).await, 403, "{origin}");
        // Origin is checked before the token.
        let req = request(&app, "/chats/clients", &[("Origin", origin)]);
        assert_eq!(app.upgrade_status(req).await, 403, "{origin} without token");
    }
    for origin in [
        "https://app.example.com",
        "HTTPS://APP.EXAMPLE.COM",
        "http://localhost:2530",
    ] {
        let req = request(
            &app,
            "/chats/clients",
            &[("Origin", origin), ("Authorization", &token)],
        );
        app.connect_request(req)
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
    }
    // No Origin (not a browser) is not refused for that.
    app.connect("/chats/clients", &mint("client", "c1", 60))
        .await;
}

#[tokio::test]
async fn an_expiring_token_closes_the_connection_with_4001() {
    let app = spawn_with(|s| s.jwt_leeway_secs = 0).await;
    let token = mint("client", "c1", 3);
    let mut ws = app.connect("/chats/clients", &token).await;
    // Served until then (a barrier's round trip takes far less than the
    // two seconds or more left)...
    ws.expect_nothing_queued().await;
    // ...then closed for the expiry (the code says so), within a hang
    // guard; exactly when (exp + leeway) is for a test on the connection's
    // own clock.
    assert_eq!(
        ws.recv_close_within(Duration::from_secs(6)).await,
        Some(4001)
    );
}
