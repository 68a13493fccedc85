//! The gate in front of the authenticated HTTP API (`/conversations…`,
//! `/agents…`): the token is checked before anything reads or parses the
//! body, and each user (side, sub) has a token bucket of requests
//! (`QC_HTTP_RATE_PER_SEC` / `QC_HTTP_RATE_BURST`); an empty bucket is 429
//! `rate_limited` with `Retry-After`. The verified identity travels to the
//! handler in the request's extensions, so it is verified once.
//!
//! It runs inside the body limit and the cross-site check: a body over the
//! limit is 413 and a cross-site write is 403 before any token is looked at.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use poem::{Endpoint, IntoResponse, Request, Response};
use qc_domain::{Identity, User};

use crate::api::error::ApiError;
use crate::auth::{AuthError, Authenticator};
use crate::ws::TokenBucket;

/// Paths (and everything below them) that need a token.
const PROTECTED: [&str; 2] = ["/conversations", "/agents"];

/// Every this many requests, buckets that have refilled are forgotten.
const SWEEP_EVERY: u64 = 4096;

pub struct ApiGate {
    auth: Arc<Authenticator>,
    /// `(per second, burst)`; `None`: no HTTP rate limit.
    rate: Option<(u32, u32)>,
    buckets: DashMap<User, TokenBucket>,
    requests: AtomicU64,
}

impl ApiGate {
    pub fn new(auth: Arc<Authenticator>, rate: Option<(u32, u32)>) -> Self {
        Self {
            auth,
            rate,
            buckets: DashMap::new(),
            requests: AtomicU64::new(0),
        }
    }

    fn protects(path: &str) -> bool {
        PROTECTED.iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Takes a request from `user`'s bucket; `Err(seconds)` to wait when
    /// it is empty.
    fn take(&self, user: User, now: Instant) -> Result<(), u64> {
        let Some((per_sec, burst)) = self.rate else {
            return Ok(());
        };
        if self.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain(|_, b| !b.is_full(now));
        }
        let mut bucket = self
            .buckets
            .entry(user)
            .or_insert_with(|| TokenBucket::new(per_sec, burst, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            Err(bucket.wait(now).as_secs_f64().ceil().max(1.0) as u64)
        }
    }

    /// The identity the gate verified for this request, if it ran.
    pub fn identity(req: &Request) -> Option<&Identity> {
        req.extensions().get::<Identity>()
    }
}

/// Middleware: see the module docs.
pub async fn api_gate<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    gate: Arc<ApiGate>,
) -> poem::Result<Response> {
    if !ApiGate::protects(req.uri().path()) || req.method() == poem::http::Method::OPTIONS {
        return Ok(ep.get_response(req).await);
    }
    let identity = match gate.auth.authenticate(&req, false) {
        Ok(v) => v.identity,
        Err(AuthError::Missing) => {
            return Ok(ApiError::unauthorized("a token is required").into_response());
        }
        Err(AuthError::Invalid) => {
            return Ok(ApiError::unauthorized("the token is invalid or expired").into_response());
        }
    };
    if let Err(wait) = gate.take(identity.user(), Instant::now()) {
        crate::telemetry::http_rate_limited();
        return Ok(ApiError::rate_limited(wait).into_response());
    }
    req.extensions_mut().insert(identity);
    Ok(ep.get_response(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qc_domain::UserId;
    use std::time::Duration;

    fn gate(rate: Option<(u32, u32)>) -> ApiGate {
        let verifier =
            crate::auth::TokenVerifier::hs256(&[7; 32], &crate::auth::TokenRules::default());
        ApiGate::new(
            Arc::new(Authenticator {
                verifier,
                cookie_name: "access_token".into(),
            }),
            rate,
        )
    }

    #[test]
    fn protects_the_api_paths_only() {
        for p in [
            "/conversations",
            "/conversations/x/messages",
            "/agents",
            "/agents/me/status",
        ] {
            assert!(ApiGate::protects(p), "{p}");
        }
        for p in [
            "/",
            "/healthz",
            "/readyz",
            "/metrics",
            "/conversationsx",
            "/dev/token",
            "/docs",
        ] {
            assert!(!ApiGate::protects(p), "{p}");
        }
    }

    #[test]
    fn each_user_has_a_bucket_and_the_wait_is_rounded_up() {
        let g = gate(Some((2, 3)));
        let now = Instant::now();
        let sub = UserId::new("same").unwrap();
        let customer = User::customer(sub.clone());
        for _ in 0..3 {
            assert_eq!(g.take(customer.clone(), now), Ok(()));
        }
        assert_eq!(
            g.take(customer.clone(), now),
            Err(1),
            "0.5 s rounds up to 1"
        );
        // The agent with the same sub is another user with a full bucket.
        assert_eq!(g.take(User::agent(sub), now), Ok(()));
        // Half a second later one token is back.
        assert_eq!(
            g.take(customer.clone(), now + Duration::from_millis(500)),
            Ok(())
        );
        let slow = gate(Some((1, 1)));
        assert_eq!(slow.take(customer.clone(), now), Ok(()));
        assert_eq!(slow.take(customer, now + Duration::from_millis(10)), Err(1));
    }

    #[test]
    fn off_means_no_limit() {
        let g = gate(None);
        let user = User::customer(UserId::new("u").unwrap());
        for _ in 0..10_000 {
            assert_eq!(g.take(user.clone(), Instant::now()), Ok(()));
        }
        assert!(g.buckets.is_empty());
    }
}
