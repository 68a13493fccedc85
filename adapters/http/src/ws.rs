//! The WebSocket endpoints `/chats/clients` and `/chats/supports`.
//!
//! Before the upgrade, in this order: a disallowed `Origin` → 403; no or an
//! invalid token → 401; the wrong role for the endpoint → 403. Then the
//! connection runs in [`connection::run`].

mod connection;
mod outbox;
mod rate;

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::{Data, Json};
use poem::{IntoResponse, Request, Response, handler};
use qc_application::ports::Broker;
use qc_application::use_cases::{SendMessage, SignalTyping};
use qc_domain::Endpoint;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthError, Authenticator, SUBPROTOCOL};
use crate::origin::AllowedOrigins;

pub use rate::TokenBucket;

/// Largest inbound message (after reassembly), as the contract says: 64 KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

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
    /// How long a close handshake may take before the TCP connection is dropped.
    pub close_grace: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            rate_per_sec: 20,
            rate_burst: 40,
            ping_every: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            queue_frames: 512,
            queue_bytes: 1024 * 1024,
            close_grace: Duration::from_secs(10),
        }
    }
}

/// What a chat connection needs: the two use cases it calls, the broker it
/// subscribes to, and its limits. Shutdown and tracking let the server close
/// every connection with 1001 and wait for in-flight stores.
pub struct WsContext {
    pub auth: Arc<Authenticator>,
    pub origins: AllowedOrigins,
    pub send_message: Arc<SendMessage>,
    pub signal_typing: Arc<SignalTyping>,
    pub broker: Arc<dyn Broker>,
    pub limits: WsLimits,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

impl WsContext {
    /// The tungstenite settings: a small read buffer (an idle connection costs
    /// a few KiB, not 128 KiB) and the 64 KiB message limit.
    fn socket_config() -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(0)
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

async fn upgrade(
    endpoint: Endpoint,
    req: &Request,
    ws: poem::Result<WebSocket>,
    ctx: Arc<WsContext>,
) -> Response {
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
    if !endpoint.admits(verified.identity.role) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this role may not use this endpoint",
        );
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "expected a WebSocket upgrade",
            );
        }
    };
    ws.protocols([SUBPROTOCOL])
        .config(WsContext::socket_config())
        .on_upgrade(move |socket| {
            let tracker = ctx.tracker.clone();
            tracker.track_future(connection::run(socket, ctx, verified))
        })
        .into_response()
}

/// `GET /chats/clients`: guests and clients.
#[handler]
pub async fn chat_clients(
    req: &Request,
    ws: poem::Result<WebSocket>,
    ctx: Data<&Arc<WsContext>>,
) -> Response {
    upgrade(Endpoint::Clients, req, ws, ctx.0.clone()).await
}

/// `GET /chats/supports`: support agents.
#[handler]
pub async fn chat_supports(
    req: &Request,
    ws: poem::Result<WebSocket>,
    ctx: Data<&Arc<WsContext>>,
) -> Response {
    upgrade(Endpoint::Supports, req, ws, ctx.0.clone()).await
}
