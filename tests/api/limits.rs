//! Limits for untrusted traffic (CONTRACT rev. 2 §1, §3): connections per
//! user, one Origin per upgrade, no CORS on the development token.

use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

fn request(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = app.ws_url("/chats/clients").into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    req
}

#[tokio::test]
async fn a_users_connection_past_the_cap_gets_429_too_many_connections() {
    let app = spawn_on_sqlite(|s| s.ws_max_per_user = 3).await;
    let alice = app.user("client");
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.connect("/chats/clients", &alice.token).await);
    }
    match tokio_tungstenite::connect_async(request(&app, &alice.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            let body: serde_json::Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["code"], "too_many_connections");
        }
        other => panic!("the fourth connection must be refused: {other:?}"),
    }
    // Another user is not affected.
    let bob = app.user("client");
    let _bob = app.connect("/chats/clients", &bob.token).await;
    // A closed connection gives its slot back (once the server has seen it go).
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(request(&app, &alice.token)).await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                assert!(
                    matches!(e, tokio_tungstenite::tungstenite::Error::Http(_)),
                    "{e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the slot never came back: {e}"),
        }
    }
}

#[tokio::test]
async fn an_upgrade_with_two_origin_headers_is_refused_with_403() {
    let app = spawn_on_sqlite(|_| {}).await;
    let user = app.user("client");
    let mut req = request(&app, &user.token);
    req.headers_mut()
        .append("Origin", HeaderValue::from_static("https://app.example"));
    req.headers_mut()
        .append("Origin", HeaderValue::from_static("https://evil.example"));
    assert_eq!(app.upgrade_status(req).await, 403);
}

#[tokio::test]
async fn the_development_token_never_carries_cors_headers() {
    let app = spawn_on_sqlite(|s| s.jwt_secret = None).await;
    let r = app
        .http
        .get(app.url("/dev/token?role=support"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "dev mode serves tokens");
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "no site may read it: {:?}",
        r.headers()
    );
}
