//! Tokens from an identity provider: RS256 / ES256 from a PEM public key,
//! `iss` / `aud` / `nbf` checks, one pinned algorithm (RFC 8725).

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "quickconnect";

fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn claims(extra: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({ "sub": "idp-user-1", "role": "client", "exp": now + 600, "iat": now, "iss": ISSUER, "aud": AUDIENCE });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn rs256(extra: Value) -> String {
    let key =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa_private.pem")).unwrap()).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims(extra), &key).unwrap()
}

fn es256(extra: Value) -> String {
    let key = EncodingKey::from_ec_pem(&std::fs::read(fixture("ec_private.pem")).unwrap()).unwrap();
    encode(&Header::new(Algorithm::ES256), &claims(extra), &key).unwrap()
}

async fn idp_app(public_key: &str) -> TestApp {
    let key = fixture(public_key);
    spawn_with(move |s| {
        s.jwt_secret = None;
        s.jwt_public_key_file = Some(key.into());
        s.jwt_issuer = Some(ISSUER.into());
        s.jwt_audience = Some(AUDIENCE.into());
    })
    .await
}

async fn ws_status(app: &TestApp, token: &str) -> u16 {
    let mut req = app.ws_url("/chats/clients").into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

async fn http_status(app: &TestApp, token: &str) -> u16 {
    app.get("/conversations", token).await.status().as_u16()
}

#[tokio::test]
async fn rs256_tokens_from_the_identity_provider_are_accepted() {
    let app = idp_app("rsa_public.pem").await;
    let token = rs256(json!({}));
    assert_eq!(ws_status(&app, &token).await, 101);
    assert_eq!(http_status(&app, &token).await, 200);
}

#[tokio::test]
async fn wrong_audience_issuer_future_nbf_or_missing_exp_are_refused() {
    let app = idp_app("rsa_public.pem").await;
    let now = chrono::Utc::now().timestamp();
    for (what, token) in [
        ("wrong audience", rs256(json!({ "aud": "another-service" }))),
        ("no audience", rs256(json!({ "aud": null }))),
        (
            "wrong issuer",
            rs256(json!({ "iss": "https://evil.example" })),
        ),
        ("not yet valid", rs256(json!({ "nbf": now + 600 }))),
        ("no exp", rs256(json!({ "exp": null }))),
        ("expired", rs256(json!({ "exp": now - 600 }))),
    ] {
        assert_eq!(ws_status(&app, &token).await, 401, "{what}");
        assert_eq!(http_status(&app, &token).await, 401, "{what}");
    }
    // nbf in the past is fine.
    assert_eq!(
        ws_status(&app, &rs256(json!({ "nbf": now - 5 }))).await,
        101
    );
}

#[tokio::test]
async fn alg_none_and_algorithm_confusion_are_refused() {
    let app = idp_app("rsa_public.pem").await;
    // alg: none, with otherwise valid claims.
    let b64 = |v: &Value| {
        use base64_url::encode;
        encode(&v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims(json!({})))
    );
    assert_eq!(ws_status(&app, &none).await, 401);
    // HS256 "signed" with the public key as the shared secret.
    let public_pem = std::fs::read(fixture("rsa_public.pem")).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    assert_eq!(ws_status(&app, &confused).await, 401);
    assert_eq!(http_status(&app, &confused).await, 401);
    // ES256 token on an RS256-pinned server.
    assert_eq!(ws_status(&app, &es256(json!({}))).await, 401);
}

#[tokio::test]
async fn es256_keys_pin_es256() {
    let app = idp_app("ec_public.pem").await;
    assert_eq!(ws_status(&app, &es256(json!({}))).await, 101);
    assert_eq!(ws_status(&app, &rs256(json!({}))).await, 401);
}

/// Minimal base64url without padding, to hand-build an `alg: none` token.
mod base64_url {
    pub fn encode(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}
