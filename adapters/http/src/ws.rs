//! The WebSocket endpoints `/chats/clients` and `/chats/supports`.
//!
//! Before the upgrade, in this order: a disallowed `Origin` → 403; no or an
//! invalid token → 401; the wrong role for the endpoint → 403. Then the
//! connection runs in [`connection::run`].
//!
//! The upgrade is done here on poem's raw upgraded connection, with
//! tokio-tungstenite directly, rather than through poem's `WebSocket`:
//! poem's `Message::Text(String)` would force one copy of every outbound
//! frame per recipient and one socket write per frame. tungstenite's
//! `Utf8Bytes` frames share one buffer, and its write buffer lets the writer
//! send everything queued with one flush.

mod connection;
mod outbox;
mod rate;

use std::sync::Arc;
use std::time::Duration;

use poem::http::{Method, StatusCode, header};
use poem::web::{Data, Json};
use poem::{Body, IntoResponse, Request, Response, handler};
use qc_application::use_cases::{SendMessage, SignalTyping};
use qc_domain::Endpoint;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthError, Authenticator, SUBPROTOCOL};
use crate::hub::Hub;
use crate::origin::AllowedOrigins;

pub use outbox::{Outbox, Receiver};
pub use rate::TokenBucket;

/// Largest inbound message (after reassembly), as the contract says: 64 KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// tungstenite's read buffer, zero-filled on the first read: the largest
/// share of an idle connection's memory (512 B rather than 1 KiB kept an
/// idle connection under 8 KiB once the per-user slots were added). A burst
/// larger than this takes a few more reads; a 64 KiB message still fits
/// (the buffer grows for it).
const READ_BUFFER_BYTES: usize = 512;

/// Frames gather in tungstenite's write buffer up to this before it writes
/// without waiting for the flush.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Per-connection limits (CONTRACT §3).
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Token-bucket refill per second; 0 disables rate limiting.
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    pub ping_every: Duration,
    /// Close a connection from which nothing arrived for this long.
    pub idle_timeout: Duration,
    pub queue_frames: usize,
    pub queue_bytes: usize,
    /// Most connections one user may hold on this node (CONTRACT §3: the
    /// next gets HTTP 429 `too_many_connections` before the upgrade).
    pub max_per_user: usize,
    /// A second token bucket per user on this node, shared by all of the
    /// user's connections (0: off), so many connections do not multiply a
    /// user's rate.
    pub user_rate_per_sec: u32,
    pub user_rate_burst: u32,
    /// How long a close handshake may take before the TCP connection is dropped.
    pub close_grace: Duration,
}

/// What a chat connection needs: the two use cases it calls, the hub it
/// registers with, and its limits. Shutdown and tracking let the server close
/// every connection with 1001 and wait for in-flight stores.
/// Longest an agent's upgrade waits for the desk to record the agent.
const AGENT_SEEN_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub struct WsContext {
    pub auth: Arc<Authenticator>,
    pub origins: AllowedOrigins,
    pub send_message: Arc<SendMessage>,
    pub signal_typing: Arc<SignalTyping>,
    pub presence: Arc<qc_application::Presence>,
    pub hub: Arc<Hub>,
    pub limits: WsLimits,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

impl WsContext {
    /// The tungstenite settings: a small read buffer (an idle connection costs
    /// a few KiB, not 128 KiB as with the default), the 64 KiB message limit, and a write buffer
    /// that frames gather in until the writer flushes (one syscall for all
    /// that was queued; allocated only once something is sent).
    fn socket_config() -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BUFFER_BYTES)
            .max_write_buffer_size(4 * 1024 * 1024)
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

/// The parts of a WebSocket upgrade request the handshake needs.
struct Handshake {
    key: poem::http::HeaderValue,
    /// Whether the client offered `quickconnect.v1`.
    subprotocol: bool,
}

/// Checks an RFC 6455 upgrade request: GET, `Upgrade: websocket`,
/// `Connection: upgrade`, version 13 and a key.
fn handshake(req: &Request) -> Option<Handshake> {
    let headers = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let ok = req.method() == Method::GET
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    if !ok {
        return None;
    }
    Some(Handshake {
        key: headers.get(header::SEC_WEBSOCKET_KEY)?.clone(),
        // Subprotocols are compared exactly (RFC 6455 §4.1), unlike the
        // Upgrade/Connection tokens.
        subprotocol: headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim() == SUBPROTOCOL))
            }),
    })
}

async fn upgrade(endpoint: Endpoint, req: &Request, ctx: Arc<WsContext>) -> Response {
    if req.headers().get_all("origin").iter().count() > 1 {
        return refuse(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "a request may carry one Origin",
        );
    }
    if let Some(origin) = req.headers().get("origin") {
        let allowed = origin.to_str().is_ok_and(|o| ctx.origins.allows(o));
        if !allowed {
            return refuse(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this Origin may not open a chat connection",
            );
        }
    }
    let verified = match ctx.auth.authenticate(req, true) {
        Ok(v) => v,
        Err(AuthError::Missing) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a token is required",
            );
        }
        Err(AuthError::Invalid) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the token is invalid or expired",
            );
        }
    };
    if !endpoint.admits(verified.identity.role()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this role may not use this endpoint",
        );
    }
    let user_rate = (ctx.limits.user_rate_per_sec > 0)
        .then_some((ctx.limits.user_rate_per_sec, ctx.limits.user_rate_burst));
    let Some(slot) = ctx.hub.reserve(
        &verified.identity.user(),
        ctx.limits.max_per_user,
        user_rate,
    ) else {
        crate::telemetry::connections_refused();
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "this user holds the most connections allowed on this server",
        );
    };
    if !verified.identity.role().is_customer() {
        // Known to the desk before the upgrade completes (a transfer
        // target, the team list): once per agent and node (cached), and
        // bounded, so a database that does not answer delays an upgrade by
        // a second at most and refuses none.
        let seen = ctx.presence.agent_seen(verified.identity.user_id());
        match tokio::time::timeout(AGENT_SEEN_WAIT, seen).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "agent not recorded as seen"),
            Err(_) => tracing::warn!("agent not recorded as seen: the database is slow"),
        }
    }
    let (Some(hs), Ok(on_upgrade)) = (handshake(req), req.take_upgrade()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected a WebSocket upgrade",
        );
    };
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(hs.key.as_bytes()),
        );
    if hs.subprotocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL);
    }
    let tracker = ctx.tracker.clone();
    tokio::spawn(tracker.track_future(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket = WebSocketStream::from_raw_socket(
            upgraded,
            Role::Server,
            Some(WsContext::socket_config()),
        )
        .await;
        connection::run(socket, ctx, verified, slot).await;
    }));
    response.body(Body::empty())
}

/// `GET /chats/clients`: guests and clients.
#[handler]
pub async fn chat_clients(req: &Request, ctx: Data<&Arc<WsContext>>) -> Response {
    upgrade(Endpoint::Clients, req, ctx.0.clone()).await
}

/// `GET /chats/supports`: support agents.
#[handler]
pub async fn chat_supports(req: &Request, ctx: Data<&Arc<WsContext>>) -> Response {
    upgrade(Endpoint::Supports, req, ctx.0.clone()).await
}
