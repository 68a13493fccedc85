//! One chat connection: a reader loop (frames in → use cases) and a writer
//! task (outbox, pings → socket), tied together by the close decision.
//!
//! Why two tasks: a peer that stops reading blocks socket writes; the writer
//! absorbs that wait while the reader keeps serving (and noticing) the peer,
//! and deliveries from other connections never wait at all (the outbox is
//! non-blocking).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use qc_application::use_cases::{
    SendMessageError, SendMessageRequest, SendOutcome, SignalTypingError,
};
use qc_domain::{ConversationId, Identity, TypingKind};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::WsContext;
use super::outbox::Outbox;
use super::rate::{FloodDetector, TokenBucket};
use crate::auth::Verified;
use crate::frames::{
    ErrorCode, Frame, FrameError, Inbound, parse_inbound, render_error, render_message,
};

type WebSocketStream = tokio_tungstenite::WebSocketStream<poem::Upgraded>;

/// Most frames the writer takes off the queue per wake-up (one flush each).
const DRAIN: usize = 128;

/// Refused frames are logged at most once a second per connection; the
/// rest are counted in the next line (a flood must not flood the log).
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Consecutive seconds of rate-limited drops that close the connection.
const FLOOD_SECONDS: u32 = 5;

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

pub(super) async fn run(socket: WebSocketStream, ctx: Arc<WsContext>, verified: Verified) {
    let who = verified.identity;
    let (outbox, rx) = Outbox::new(ctx.limits.queue_frames, ctx.limits.queue_bytes);
    let (sink, stream) = socket.split();

    let _registration = ctx.hub.register(&who.user_id, outbox.clone()).await;
    info!(user = ?who.user_id.as_str(), role = %who.role, "chat connection open");
    crate::telemetry::connection_delta(who.role.as_str(), 1.0);

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
        typing: HashSet::new(),
        bucket: (ctx.limits.rate_per_sec > 0).then(|| {
            TokenBucket::new(
                ctx.limits.rate_per_sec,
                ctx.limits.rate_burst,
                Instant::now(),
            )
        }),
        flood: FloodDetector::new(Instant::now(), FLOOD_SECONDS),
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
    for conversation in std::mem::take(&mut conn.typing) {
        let _ = ctx.signal_typing.stop_on_behalf(&who, conversation).await;
    }
    crate::telemetry::connection_delta(who.role.as_str(), -1.0);
    if let Some(CloseAction::Close(code, _)) = action {
        crate::telemetry::server_close(code);
    }
    info!(user = ?who.user_id.as_str(), ?action, "chat connection closed");
}

struct Reader<'a> {
    ctx: &'a WsContext,
    who: &'a Identity,
    outbox: &'a Arc<Outbox>,
    /// Conversations this connection said it is typing in.
    typing: HashSet<ConversationId>,
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
        let leeway = i64::try_from(self.ctx.auth.verifier.leeway_secs()).unwrap_or(0);
        let left =
            (exp.saturating_add(leeway) - Utc::now().timestamp()).clamp(0, 10 * 365 * 86_400);
        let expiry = tokio::time::sleep(Duration::from_secs(left.unsigned_abs()));
        tokio::pin!(expiry);
        loop {
            let next = tokio::select! {
                biased;
                _ = overflow.cancelled() => {
                    // The writer closes with 4002; stop reading.
                    let _ = writer.await;
                    return None;
                }
                _ = &mut *writer => return None,
                () = self.ctx.shutdown.cancelled() => return Some(CloseAction::Close(1001, "server shutting down")),
                () = &mut expiry => return Some(CloseAction::Close(4001, "token expired")),
                r = tokio::time::timeout(self.ctx.limits.idle_timeout, stream.next()) => r,
            };
            let frame = match next {
                Err(_idle) => return Some(CloseAction::Close(1000, "idle timeout")),
                Ok(None) => return Some(CloseAction::Drop),
                Ok(Some(Err(e))) => return Some(read_failed(&e)),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Text(text) => {
                    if let Some(action) = self.on_text(&text).await {
                        return Some(action);
                    }
                }
                Message::Binary(_) => {
                    return Some(CloseAction::Close(1003, "binary frames are not supported"));
                }
                Message::Close(_) => return Some(CloseAction::Flush),
                // tungstenite answers pings itself; any frame counts as liveness.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    fn reply_error(&mut self, err: &FrameError) {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
        {
            warn!(
                user = ?self.who.user_id.as_str(),
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

    async fn on_text(&mut self, text: &str) -> Option<CloseAction> {
        if let Some(bucket) = &mut self.bucket {
            let now = Instant::now();
            if !bucket.try_take(now) {
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
        }
        match parse_inbound(text) {
            Err(e) => self.reply_error(&e),
            Ok(frame) => self.on_frame(frame).await,
        }
        None
    }

    async fn on_frame(&mut self, frame: Inbound) {
        match frame {
            Inbound::Text {
                conversation_id,
                content,
                client_msg_id,
            } => {
                let Some(cid) = self.conversation(&conversation_id) else {
                    return;
                };
                let started = Instant::now();
                let request = SendMessageRequest {
                    conversation_id: cid,
                    content,
                    client_msg_id,
                };
                match self.ctx.send_message.execute(self.who, request).await {
                    Ok(SendOutcome::Stored {
                        message, published, ..
                    }) => {
                        crate::telemetry::message_stored(started.elapsed().as_secs_f64());
                        if !published {
                            // The broker is down: ack the sender directly.
                            self.outbox
                                .push(render_message(&message, message.created_at));
                        }
                        if self.typing.remove(&cid) {
                            let _ = self.ctx.signal_typing.stop_on_behalf(self.who, cid).await;
                        }
                    }
                    Ok(SendOutcome::Duplicate(message)) => {
                        // Byte-identical to the original broadcast.
                        self.outbox
                            .push(render_message(&message, message.created_at));
                    }
                    Err(e) => self.reply_error(&send_error(e, conversation_id)),
                }
            }
            Inbound::Typing {
                conversation_id,
                kind,
            } => {
                let Some(cid) = self.conversation(&conversation_id) else {
                    return;
                };
                match self.ctx.signal_typing.execute(self.who, cid, kind).await {
                    Ok(()) => {
                        match kind {
                            TypingKind::Started => self.typing.insert(cid),
                            TypingKind::Stopped => self.typing.remove(&cid),
                        };
                    }
                    Err(e) => self.reply_error(&typing_error(e, conversation_id)),
                }
            }
        }
    }

    /// Parses the id; not a ULID is answered like an unknown conversation.
    fn conversation(&mut self, raw: &str) -> Option<ConversationId> {
        match raw.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                self.reply_error(&not_found(raw.to_owned()));
                None
            }
        }
    }
}

fn not_found(cid: String) -> FrameError {
    FrameError::new(
        ErrorCode::ConversationNotFound,
        "no such conversation",
        Some(cid),
    )
}

fn send_error(e: SendMessageError, cid: String) -> FrameError {
    match e {
        SendMessageError::NotFound => not_found(cid),
        SendMessageError::Closed => FrameError::new(
            ErrorCode::ConversationClosed,
            "the conversation is closed",
            Some(cid),
        ),
        SendMessageError::Unavailable(err) => {
            tracing::error!(error = %format!("{err:#}"), "storing a message failed");
            FrameError::new(
                ErrorCode::Unavailable,
                "the message was not stored; retry",
                Some(cid),
            )
        }
    }
}

fn typing_error(e: SignalTypingError, cid: String) -> FrameError {
    match e {
        SignalTypingError::NotFound => not_found(cid),
        SignalTypingError::Closed => FrameError::new(
            ErrorCode::ConversationClosed,
            "the conversation is closed",
            Some(cid),
        ),
        SignalTypingError::Unavailable(err) => {
            tracing::error!(error = %format!("{err:#}"), "typing signal failed");
            FrameError::new(
                ErrorCode::Unavailable,
                "storage unavailable; retry",
                Some(cid),
            )
        }
    }
}

/// How a read error ends the connection (CONTRACT §3 close codes).
fn read_failed(e: &WsError) -> CloseAction {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            CloseAction::Close(1009, "message too big")
        }
        WsError::Capacity(_) => CloseAction::Close(1009, "frame too big"),
        WsError::Utf8(_) => CloseAction::Close(1007, "text frame is not valid UTF-8"),
        WsError::Protocol(_) => CloseAction::Close(1002, "protocol violation"),
        other => {
            debug!(error = %other, "socket read failed");
            CloseAction::Drop
        }
    }
}

/// Drains the outbox into the socket and pings; on a close decision (or
/// overflow) sends the close frame, giving it `grace` before dropping TCP.
///
/// Each wake-up takes everything queued (up to [`DRAIN`] frames) into the
/// socket's write buffer and flushes once: one syscall for a burst, not one
/// per frame.
async fn write_loop(
    mut sink: SplitSink<WebSocketStream, Message>,
    mut rx: mpsc::Receiver<Frame>,
    outbox: Arc<Outbox>,
    stop: CancellationToken,
    decision: Arc<OnceLock<CloseAction>>,
    ping_every: Duration,
    grace: Duration,
) {
    let overflow = outbox.overflow_signal();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let slow = CloseAction::Close(4002, "slow consumer");
    let mut batch: Vec<Frame> = Vec::new();
    let action = loop {
        let ping_now = tokio::select! {
            biased;
            () = overflow.cancelled() => break slow,
            () = stop.cancelled() => break decision.get().copied().unwrap_or(CloseAction::Drop),
            n = rx.recv_many(&mut batch, DRAIN) => {
                if n == 0 {
                    break CloseAction::Drop;
                }
                false
            }
            _ = ping.tick() => true,
        };
        let write = async {
            if ping_now {
                sink.feed(Message::Ping(Bytes::new())).await?;
            }
            for frame in batch.drain(..) {
                outbox.taken(frame.len());
                sink.feed(Message::Text(frame)).await?;
            }
            sink.flush().await
        };
        // A write may wait on a peer that does not read: stay interruptible.
        tokio::select! {
            biased;
            () = overflow.cancelled() => break slow,
            () = stop.cancelled() => break decision.get().copied().unwrap_or(CloseAction::Drop),
            sent = write => if sent.is_err() { break CloseAction::Drop },
        }
    };
    // What was queued for a closing connection is dropped, not sent.
    drop(rx);
    match action {
        CloseAction::Close(code, reason) => {
            let close = Message::Close(Some(CloseFrame {
                code: code.into(),
                reason: reason.into(),
            }));
            let _ = tokio::time::timeout(grace, async {
                sink.send(close).await?;
                sink.close().await
            })
            .await;
        }
        CloseAction::Flush => {
            let _ = tokio::time::timeout(grace, sink.close()).await;
        }
        CloseAction::Drop => {}
    }
}
