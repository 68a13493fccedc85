//! One chat connection's lifecycle: it opens (hub, presence), its reader
//! loop reads frames (limits, rates, the close decision), and it closes
//! (the writer told why, typing indicators switched off).
//!
//! Two tasks: the reader loop here (frames in → [`dispatch`] → use cases)
//! and the [`writer`] task (outbox, pings → socket), tied together by the
//! close decision. A peer that stops reading blocks socket writes; the
//! writer absorbs that wait while the reader keeps serving (and noticing)
//! the peer, and deliveries from other connections never wait at all (the
//! outbox is non-blocking).

mod dispatch;
mod errors;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use qc_domain::{ConversationId, Identity};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::WsContext;
use super::outbox::Outbox;
use super::rate::{FloodDetector, TokenBucket};
use crate::auth::Verified;
use crate::frames::{ErrorCode, FrameError, parse_inbound_from, render_error};
use dispatch::InFlight;
use errors::read_failed;
use writer::write_loop;

type WebSocketStream = tokio_tungstenite::WebSocketStream<poem::Upgraded>;

/// Texts one connection may have waiting for their commit at once. The
/// reader keeps reading while they wait, so a client that sends faster
/// than one commit per round trip gets its texts into the same batches;
/// beyond this it stops reading (TCP backpressure), it is not refused.
const PIPELINE: usize = 32;

/// How long a closing connection waits for its texts still being stored.
const SETTLE: Duration = Duration::from_secs(5);

/// Refused frames are logged at most once a second per connection; the
/// rest are counted in the next line (a flood must not flood the log).
const LOG_EVERY: Duration = Duration::from_secs(1);

/// How long a flood (rate-limited drops with no quiet second) may last
/// before the connection is closed with 1008.
const FLOOD_LIMIT: Duration = Duration::from_secs(5);

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseAction {
    /// Send a close frame with this code and reason, then drop.
    Close(u16, &'static str),
    /// The peer sent Close; our reply is already queued: flush and drop.
    Flush,
    /// The peer is gone: just drop.
    Drop,
}

pub(super) async fn run(
    socket: WebSocketStream,
    ctx: Arc<WsContext>,
    verified: Verified,
    slot: crate::hub::Slot,
) {
    // Shared with each pipelined store without copying the identity.
    let who = Arc::new(verified.identity);
    let (outbox, rx) = Outbox::new(ctx.limits.queue_frames, ctx.limits.queue_bytes);
    let (sink, stream) = socket.split();

    let user = who.user();
    let _registration = ctx.hub.register(&user, outbox.clone()).await;
    let _presence = Present::new(ctx.presence.clone(), user);
    info!(user = ?who.user_id().as_str(), role = %who.role(), "chat connection open");
    crate::telemetry::connection_delta(who.role().as_str(), 1.0);

    let stop = CancellationToken::new();
    let decision: Arc<OnceLock<CloseAction>> = Arc::new(OnceLock::new());
    let mut writer = tokio::spawn(write_loop(
        sink,
        rx,
        outbox.clone(),
        stop.clone(),
        decision.clone(),
        ctx.limits.ping_every,
        ctx.limits.close_grace,
    ));

    let mut conn = Reader {
        ctx: &ctx,
        who: &who,
        outbox: &outbox,
        slot: &slot,
        typing: HashMap::new(),
        frames: 0,
        bucket: (ctx.limits.rate_per_sec > 0).then(|| {
            TokenBucket::new(
                ctx.limits.rate_per_sec,
                ctx.limits.rate_burst,
                Instant::now(),
            )
        }),
        flood: FloodDetector::new(FLOOD_LIMIT),
        last_log: None,
        unlogged: 0,
    };
    let action = conn.read_loop(stream, &mut writer, verified.exp).await;

    if let Some(action) = action {
        let _ = decision.set(action);
        stop.cancel();
        let _ = writer.await;
    }
    // No indicator is left on for a connection that went away mid-typing.
    for (conversation, _) in std::mem::take(&mut conn.typing) {
        let _ = ctx.signal_typing.stop_on_behalf(&who, conversation).await;
    }
    crate::telemetry::connection_delta(who.role().as_str(), -1.0);
    if let Some(CloseAction::Close(code, _)) = action {
        crate::telemetry::server_close(code);
    }
    info!(user = ?who.user_id().as_str(), ?action, "chat connection closed");
}

/// The connection counted in its user's presence until dropped (a panic
/// included).
struct Present {
    presence: Arc<qc_application::Presence>,
    user: qc_domain::User,
}

impl Present {
    fn new(presence: Arc<qc_application::Presence>, user: qc_domain::User) -> Self {
        presence.connected(&user);
        Self { presence, user }
    }
}

impl Drop for Present {
    fn drop(&mut self) {
        self.presence.disconnected(&self.user);
    }
}

struct Reader<'a> {
    ctx: &'a WsContext,
    who: &'a Arc<Identity>,
    outbox: &'a Arc<Outbox>,
    /// This connection's place among its user's, with the user's bucket.
    slot: &'a crate::hub::Slot,
    /// Conversations this connection said it is typing in, with the frame
    /// counter of the `typing_started`.
    typing: HashMap<ConversationId, u64>,
    /// Frames read so far.
    frames: u64,
    bucket: Option<TokenBucket>,
    flood: FloodDetector,
    /// When a refused frame was last logged, and how many since.
    last_log: Option<Instant>,
    unlogged: u32,
}

impl Reader<'_> {
    /// Returns the close decision, or `None` when the writer already ended
    /// the connection (slow consumer or a dead socket).
    async fn read_loop(
        &mut self,
        mut stream: SplitStream<WebSocketStream>,
        writer: &mut tokio::task::JoinHandle<()>,
        exp: i64,
    ) -> Option<CloseAction> {
        let overflow = self.outbox.overflow_signal();
        // Closed at exp + leeway to the millisecond (CONTRACT §3).
        let leeway = i64::try_from(self.ctx.auth.verifier.leeway_secs()).unwrap_or(0);
        let deadline_ms = exp.saturating_add(leeway).saturating_mul(1000);
        let left_ms =
            (deadline_ms - Utc::now().timestamp_millis()).clamp(0, 10 * 365 * 86_400 * 1000);
        let expiry = tokio::time::sleep(Duration::from_millis(left_ms.unsigned_abs()));
        tokio::pin!(expiry);
        let mut in_flight = InFlight::new();
        let action = loop {
            let next = tokio::select! {
                biased;
                _ = overflow.cancelled() => {
                    // The writer closes with 4002; stop reading, and keep the
                    // stores moving while it does.
                    loop {
                        tokio::select! {
                            _ = &mut *writer => break,
                            Some(_) = in_flight.next(), if !in_flight.is_empty() => {}
                        }
                    }
                    break None;
                }
                _ = &mut *writer => break None,
                () = self.ctx.shutdown.cancelled() => break Some(CloseAction::Close(1001, "server shutting down")),
                () = &mut expiry => break Some(CloseAction::Close(4001, "token expired")),
                Some(sent) = in_flight.next(), if !in_flight.is_empty() => {
                    self.on_sent(sent).await;
                    continue;
                }
                r = tokio::time::timeout(self.ctx.limits.idle_timeout, stream.next()), if in_flight.len() < PIPELINE => r,
            };
            let frame = match next {
                Err(_idle) => break Some(CloseAction::Close(1000, "idle timeout")),
                Ok(None) => break Some(CloseAction::Drop),
                Ok(Some(Err(e))) => break Some(read_failed(&e)),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Text(text) => {
                    if let Some(action) = self.on_text(&text, &mut in_flight).await {
                        break Some(action);
                    }
                }
                Message::Binary(_) => {
                    break Some(CloseAction::Close(1003, "binary frames are not supported"));
                }
                Message::Close(_) => break Some(CloseAction::Flush),
                // tungstenite answers pings itself; any frame counts as liveness.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        };
        // When the server closes the connection, the acks and
        // typing_stopped of texts already handed to the store go out before
        // the close frame; a peer that closed or vanished gets nothing more.
        if matches!(action, Some(CloseAction::Close(..))) {
            let _ = tokio::time::timeout(SETTLE, async {
                while let Some(sent) = in_flight.next().await {
                    self.on_sent(sent).await;
                }
            })
            .await;
        }
        // Whatever is left is still stored and published, off this task.
        if !in_flight.is_empty() {
            tokio::spawn(async move { while in_flight.next().await.is_some() {} });
        }
        action
    }

    fn reply_error(&mut self, err: &FrameError) {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
        {
            warn!(
                user = ?self.who.user_id().as_str(),
                code = err.code.as_str(),
                reason = %err.message,
                suppressed = self.unlogged,
                "frame dropped"
            );
            self.last_log = Some(now);
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        crate::telemetry::frame_error(err.code.as_str());
        self.outbox.push(render_error(err, Utc::now()));
    }

    async fn on_text(&mut self, text: &str, in_flight: &mut InFlight) -> Option<CloseAction> {
        self.frames += 1;
        // The connection's bucket, then the user's (all of the user's
        // connections on this node): a frame over either is dropped unread.
        let now = Instant::now();
        let connection_ok = self.bucket.as_mut().is_none_or(|b| b.try_take(now));
        if !connection_ok || !self.slot.take_user_token(now) {
            let (send_error, flooding) = self.flood.dropped(now);
            if flooding {
                return Some(CloseAction::Close(1008, "rate limit exceeded"));
            }
            if send_error {
                self.reply_error(&FrameError::new(
                    ErrorCode::RateLimited,
                    "too many frames; slow down",
                    None,
                ));
            }
            return None;
        }
        match parse_inbound_from(text, self.who.side()) {
            Err(e) => self.reply_error(&e),
            Ok(frame) => self.on_frame(frame, in_flight).await,
        }
        None
    }
}
