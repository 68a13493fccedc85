//! Where a request's token is read from (`qc_http::auth::locate_token`) and
//! its verification (`TokenVerifier::verify`), on arbitrary `Authorization`,
//! `Cookie` and `Sec-WebSocket-Protocol` headers and query strings.
//!
//! Input: one flags byte (bit 0: the request is a WebSocket upgrade), then
//! four fields separated by `\n`:
//!
//! ```text
//! <flags><Authorization>\n<Cookie>\n<Sec-WebSocket-Protocol>\n<query>
//! ```
//!
//! A header field may hold several values separated by NUL bytes, each sent
//! as its own header line; an empty field sends no header. Values that are
//! not valid header values are skipped; an input whose query does not make a
//! valid URI (`/chats/clients?<query>`) is skipped. (`\n` and NUL can never
//! be inside a header value or a URI, so no input is lost to the format.)
//!
//! Checked: a located token is non-empty; it comes from the subprotocol only
//! on a WebSocket request; one from `Authorization` has no surrounding
//! whitespace; `find_token` agrees with `locate_token`. When the located
//! token is itself a JSON object it is also signed as the claims of an HS256
//! token and verified, so that claim handling past the signature check is
//! fuzzed too; a verified identity must then be the claims' `sub`, `role`
//! and `exp`.
#![no_main]

use std::sync::LazyLock;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use poem::Request;
use poem::http::{HeaderValue, Uri, header};
use qc_domain::Role;
use qc_http::auth::{TokenPlace, TokenRules, TokenVerifier, find_token, locate_token};

const SECRET: [u8; 32] = [7; 32];
const COOKIE_NAME: &str = "access_token";
const PATH: &str = "/chats/clients";

static VERIFIER: LazyLock<TokenVerifier> = LazyLock::new(|| {
    TokenVerifier::hs256(
        &SECRET,
        &TokenRules {
            issuer: None,
            audience: None,
            leeway_secs: 30,
        },
    )
});

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let websocket = flags & 1 == 1;
    let mut fields = rest.splitn(4, |b| *b == b'\n');
    let authorization = fields.next().unwrap_or_default();
    let cookie = fields.next().unwrap_or_default();
    let protocol = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();

    let uri = if query.is_empty() {
        Uri::from_static(PATH)
    } else {
        let mut target = Vec::with_capacity(PATH.len() + 1 + query.len());
        target.extend_from_slice(PATH.as_bytes());
        target.push(b'?');
        target.extend_from_slice(query);
        let Ok(uri) = Uri::try_from(target.as_slice()) else {
            return;
        };
        uri
    };
    let mut builder = Request::builder().uri(uri);
    for (name, field) in [
        (header::AUTHORIZATION, authorization),
        (header::COOKIE, cookie),
        (header::SEC_WEBSOCKET_PROTOCOL, protocol),
    ] {
        if field.is_empty() {
            continue;
        }
        for raw in field.split(|b| *b == 0) {
            let Ok(value) = HeaderValue::from_bytes(raw) else {
                continue;
            };
            builder = builder.header(name.clone(), value);
        }
    }
    let req = builder.finish();

    let located = locate_token(&req, COOKIE_NAME, websocket);
    assert_eq!(
        find_token(&req, COOKIE_NAME, websocket),
        located.as_ref().map(|(_, token)| token.clone()),
        "find_token and locate_token disagree"
    );
    let Some((place, token)) = located else {
        return;
    };
    assert!(!token.is_empty(), "an empty token was located ({place:?})");
    if place == TokenPlace::Subprotocol {
        assert!(websocket, "a subprotocol token on a plain HTTP request");
    }
    if place == TokenPlace::Header {
        assert_eq!(
            token,
            token.trim(),
            "the Authorization token is not trimmed"
        );
    }

    // Fuzzed tokens essentially never carry a valid signature: this covers
    // the parsing and signature checks.
    let _ = VERIFIER.verify(&token);

    // A JSON object as the token: sign it, so the claims are checked too.
    if let Ok(claims @ serde_json::Value::Object(_)) =
        serde_json::from_str::<serde_json::Value>(&token)
    {
        let Ok(signed) = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&SECRET),
        ) else {
            return;
        };
        if let Ok(verified) = VERIFIER.verify(&signed) {
            assert_eq!(
                Some(verified.identity.user_id().as_str()),
                claims["sub"].as_str(),
                "verified sub differs from the claims: {claims}"
            );
            assert_eq!(
                claims["role"].as_str().and_then(Role::parse),
                Some(verified.identity.role()),
                "verified role differs from the claims: {claims}"
            );
            assert_eq!(
                claims["exp"].as_i64(),
                Some(verified.exp),
                "verified exp differs from the claims: {claims}"
            );
        }
    }
});
