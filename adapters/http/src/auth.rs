//! JWT verification and where a request's token is read from.
//!
//! Places, in order: `Authorization: Bearer`, the `bearer.<jwt>` WebSocket
//! subprotocol, the cookie, the `access_token` query parameter. The first
//! place holding a token decides; an invalid token there is refused with no
//! fall-through. Exactly one algorithm is accepted (RFC 8725): HS256 with a
//! shared secret, or RS256/ES256 from a PEM public key.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use poem::Request;
use poem::http::header;
use qc_domain::{Identity, Role, UserId};
use serde::{Deserialize, Serialize};

/// The claims we read. `role` is kept as a string so an unknown role is a
/// clean refusal, not a parse error message leaking into logs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub identity: Identity,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token")]
    Missing,
    #[error("invalid token")]
    Invalid,
}

/// Verifies tokens with one pinned algorithm.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    /// Kept for `token` minting in development (HS256 only).
    secret: Option<Vec<u8>>,
}

/// Optional `iss` / `aud` requirements and the clock leeway.
#[derive(Debug, Clone, Default)]
pub struct TokenRules {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_secs: u64,
}

impl TokenVerifier {
    pub fn hs256(secret: &[u8], rules: &TokenRules) -> Self {
        Self {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, rules),
            secret: Some(secret.to_vec()),
        }
    }

    /// RS256 for an RSA key, ES256 for a P-256 key.
    ///
    /// # Errors
    /// When the PEM is neither.
    pub fn from_public_key_pem(pem: &[u8], rules: &TokenRules) -> anyhow::Result<Self> {
        let (key, alg) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
            (k, Algorithm::RS256)
        } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
            (k, Algorithm::ES256)
        } else {
            anyhow::bail!("the public key is neither an RSA nor an EC (P-256) PEM key");
        };
        Ok(Self {
            key,
            validation: validation(alg, rules),
            secret: None,
        })
    }

    pub fn leeway_secs(&self) -> u64 {
        self.validation.leeway
    }

    /// # Errors
    /// [`AuthError::Invalid`] for any bad signature, algorithm, claim or role.
    pub fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let data =
            decode::<Claims>(token, &self.key, &self.validation).map_err(|_| AuthError::Invalid)?;
        let role = Role::parse(&data.claims.role).ok_or(AuthError::Invalid)?;
        let user_id = UserId::new(data.claims.sub).map_err(|_| AuthError::Invalid)?;
        Ok(Verified {
            identity: Identity::new(user_id, role),
            exp: data.claims.exp,
        })
    }

    /// Mints an HS256 token (development and tests).
    ///
    /// # Errors
    /// When this verifier has no shared secret (public-key mode).
    pub fn mint(&self, sub: &str, role: Role, ttl_secs: i64) -> anyhow::Result<String> {
        let secret = self
            .secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("minting needs QC_JWT_SECRET (HS256); tokens for public-key mode come from your identity provider"))?;
        mint_hs256(secret, sub, role, ttl_secs)
    }
}

/// Mints an HS256 token with `sub`, `role`, `iat` and `exp = now + ttl`.
///
/// # Errors
/// When encoding fails.
pub fn mint_hs256(secret: &[u8], sub: &str, role: Role, ttl_secs: i64) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: sub.to_owned(),
        role: role.as_str().to_owned(),
        exp: now + ttl_secs,
        iat: Some(now),
    };
    Ok(encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )?)
}

fn validation(alg: Algorithm, rules: &TokenRules) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = rules.leeway_secs;
    v.validate_exp = true;
    v.validate_nbf = true;
    // A configured iss/aud must be present, not only match when present.
    let mut required = vec!["exp", "sub"];
    match &rules.issuer {
        Some(iss) => {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        None => v.iss = None,
    }
    match &rules.audience {
        Some(aud) => {
            v.set_audience(&[aud]);
            required.push("aud");
        }
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&required);
    v
}

/// Authenticates requests: finds the token and verifies it.
pub struct Authenticator {
    pub verifier: TokenVerifier,
    pub cookie_name: String,
}

/// The subprotocol a browser offers beside `bearer.<jwt>`.
pub const SUBPROTOCOL: &str = "quickconnect.v1";
const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

impl Authenticator {
    /// # Errors
    /// `Missing` when no place holds a token, `Invalid` when the first one
    /// that does holds a bad one.
    pub fn authenticate(&self, req: &Request, websocket: bool) -> Result<Verified, AuthError> {
        let token = find_token(req, &self.cookie_name, websocket).ok_or(AuthError::Missing)?;
        self.verifier.verify(&token)
    }
}

/// Where a request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPlace {
    Header,
    Subprotocol,
    Cookie,
    Query,
}

/// The first non-empty token, by the contract's order of places.
pub fn find_token(req: &Request, cookie_name: &str, websocket: bool) -> Option<String> {
    locate_token(req, cookie_name, websocket).map(|(_, token)| token)
}

/// The first non-empty token and where it was, by the contract's order of
/// places (the cross-site rules treat a cookie differently).
pub fn locate_token(
    req: &Request,
    cookie_name: &str,
    websocket: bool,
) -> Option<(TokenPlace, String)> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = v.trim().splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next()) {
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                return Some((TokenPlace::Header, token.to_owned()));
            }
        }
    }
    if websocket {
        for v in req.headers().get_all(header::SEC_WEBSOCKET_PROTOCOL) {
            let Ok(v) = v.to_str() else { continue };
            for p in v.split(',').map(str::trim) {
                if let Some(token) = p.strip_prefix(BEARER_PROTOCOL_PREFIX)
                    && !token.is_empty()
                {
                    return Some((TokenPlace::Subprotocol, token.to_owned()));
                }
            }
        }
    }
    for v in req.headers().get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                let value = value.trim().trim_matches('"');
                if name.trim() == cookie_name && !value.is_empty() {
                    return Some((TokenPlace::Cookie, value.to_owned()));
                }
            }
        }
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, v)| *k == "access_token" && !v.is_empty())
            .map(|(_, v)| (TokenPlace::Query, v.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TokenRules {
        TokenRules {
            leeway_secs: 0,
            ..TokenRules::default()
        }
    }

    fn req(build: impl FnOnce(poem::RequestBuilder) -> poem::RequestBuilder) -> Request {
        build(Request::builder().uri("/chats/clients".parse().unwrap())).finish()
    }

    #[test]
    fn valid_token_gives_identity() {
        let v = TokenVerifier::hs256(b"0123456789abcdef0123456789abcdef", &rules());
        let t = v
            .mint("01K9RDKY84GC0Q7F9F1NY54B5C", Role::Guest, 60)
            .unwrap();
        let got = v.verify(&t).unwrap();
        assert_eq!(got.identity.role(), Role::Guest);
        assert_eq!(
            got.identity.user_id().as_str(),
            "01K9RDKY84GC0Q7F9F1NY54B5C"
        );
    }

    #[test]
    fn wrong_secret_expired_unknown_role_and_none_are_invalid() {
        let v = TokenVerifier::hs256(b"secret-a-secret-a-secret-a-secret-a", &rules());
        let other = TokenVerifier::hs256(b"secret-b-secret-b-secret-b-secret-b", &rules());
        assert_eq!(
            v.verify(&other.mint("u", Role::Client, 60).unwrap()),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            v.verify(&v.mint("u", Role::Client, -10).unwrap()),
            Err(AuthError::Invalid)
        );
        let admin = Claims {
            sub: "u".into(),
            role: "admin".into(),
            exp: chrono::Utc::now().timestamp() + 60,
            iat: None,
        };
        let t = encode(
            &Header::new(Algorithm::HS256),
            &admin,
            &EncodingKey::from_secret(b"secret-a-secret-a-secret-a-secret-a"),
        )
        .unwrap();
        assert_eq!(v.verify(&t), Err(AuthError::Invalid));
        // alg: none, hand-built.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1Iiwicm9sZSI6ImNsaWVudCIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert_eq!(v.verify(none), Err(AuthError::Invalid));
        assert_eq!(v.verify("garbage"), Err(AuthError::Invalid));
    }

    #[test]
    fn configured_issuer_and_audience_are_required() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let strict = TokenVerifier::hs256(
            secret,
            &TokenRules {
                issuer: Some("idp".into()),
                audience: Some("qc".into()),
                leeway_secs: 0,
            },
        );
        let now = chrono::Utc::now().timestamp();
        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret),
            )
            .unwrap()
        };
        let ok = sign(
            serde_json::json!({"sub":"u","role":"client","exp":now+60,"iss":"idp","aud":"qc"}),
        );
        assert!(strict.verify(&ok).is_ok());
        for bad in [
            serde_json::json!({"sub":"u","role":"client","exp":now+60,"iss":"idp"}),
            serde_json::json!({"sub":"u","role":"client","exp":now+60,"aud":"qc"}),
            serde_json::json!({"sub":"u","role":"client","exp":now+60,"iss":"idp","aud":"other"}),
        ] {
            assert_eq!(strict.verify(&sign(bad)), Err(AuthError::Invalid));
        }
        // Unconfigured: an aud in the token is not held against it.
        let lax = TokenVerifier::hs256(secret, &rules());
        assert!(lax.verify(&ok).is_ok());
    }

    #[test]
    fn token_places_in_order() {
        let h = req(|b| {
            b.header("Authorization", "Bearer from-header")
                .header("Cookie", "access_token=from-cookie")
        });
        assert_eq!(
            find_token(&h, "access_token", true).as_deref(),
            Some("from-header")
        );
        let p = req(|b| {
            b.header(
                "Sec-WebSocket-Protocol",
                "quickconnect.v1, bearer.from-proto",
            )
            .header("Cookie", "a=b; access_token=from-cookie")
        });
        assert_eq!(
            find_token(&p, "access_token", true).as_deref(),
            Some("from-proto")
        );
        assert_eq!(
            find_token(&p, "access_token", false).as_deref(),
            Some("from-cookie"),
            "no subprotocol on plain HTTP"
        );
        let q = Request::builder()
            .uri(
                "/chats/clients?x=1&access_token=from-query"
                    .parse()
                    .unwrap(),
            )
            .finish();
        assert_eq!(
            find_token(&q, "access_token", true).as_deref(),
            Some("from-query")
        );
        let basic = req(|b| {
            b.header("Authorization", "Basic abc")
                .header("Cookie", "access_token=c")
        });
        assert_eq!(
            find_token(&basic, "access_token", true).as_deref(),
            Some("c"),
            "only the Bearer scheme counts"
        );
        let empty = req(|b| {
            b.header("Authorization", "Bearer ")
                .header("Cookie", "access_token=")
        });
        assert_eq!(find_token(&empty, "access_token", true), None);
    }
}
