//! One chat connection: a reader loop (frames in → use cases) and a writer
//! task (outbox, pings → socket), tied together by the close decision.
//!
//! Why two tasks: a peer that stops reading blocks socket writes; the writer
//! absorbs that wait while the reader keeps serving (and noticing) the peer,
//! and deliveries from other connections never wait at all (the outbox is
//! non-blocking).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use qc_application::use_cases::{
    SendMessageError, SendMessageRequest, SendOutcome, SignalTypingError,
};
use qc_domain::{ConversationId, Identity, TypingKind};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::WsContext;
use super::outbox::Outbox;
use super::rate::{FloodDetector, TokenBucket};
use crate::auth::Verified;
use crate::frames::{
    ErrorCode, Frame, FrameError, Inbound, parse_inbound_from, render_error, render_message,
};

type WebSocketStream = tokio_tungstenite::WebSocketStream<poem::Upgraded>;

/// Most frames the writer takes off the queue per wake-up (one flush each).
const DRAIN: usize = 128;

/// Texts one connection may have waiting for their commit at once. The
/// reader keeps reading while they wait, so a client that sends faster
/// than one commit per round trip gets its texts into the same batches;
/// beyond this it stops reading (TCP backpressure), it is not refused.
const PIPELINE: usize = 32;

/// How long a closing connection waits for its texts still being stored.
const SETTLE: Duration = Duration::from_secs(5);

/// A text's store, finished: what the reader does next with it.
struct Sent {
    raw_id: String,
    conversation: ConversationId,
    /// The frame counter when it was read (orders it against typing frames).
    read_at: u64,
    started: Instant,
    result: Result<SendOutcome, SendMessageError>,
}

/// A connection's stores, polled by its own loop. Not a task each: a
/// connection's texts must reach the writer in the order they were read
/// (their seq order), and these futures enqueue in the order they are
/// pushed, on their first poll. So that a text's publish (and the publish
/// turn its conversation's next text waits for) never waits on this loop,
/// the loop keeps polling them while it waits for anything else, and
/// whatever is left when the connection ends is driven to completion on a
/// task of its own.
type InFlight = FuturesUnordered<BoxFuture<'static, Sent>>;

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
    crate::telemetry::connection_delta(who.role.as_str(), -1.0);
    if let Some(CloseAction::Close(code, _)) = action {
        crate::telemetry::server_close(code);
    }
    info!(user = ?who.user_id.as_str(), ?action, "chat connection closed");
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

    async fn on_frame(&mut self, frame: Inbound, in_flight: &mut InFlight) {
        match frame {
            Inbound::Text {
                kind,
                conversation_id,
                content,
                client_msg_id,
            } => {
                let Some(cid) = self.conversation(&conversation_id) else {
                    return;
                };
                let request = SendMessageRequest {
                    conversation_id: cid,
                    kind,
                    content,
                    client_msg_id,
                };
                let send = self.ctx.send_message.clone();
                let who = self.who.clone();
                let read_at = self.frames;
                in_flight.push(
                    async move {
                        let started = Instant::now();
                        let result = send.execute(&who, request).await;
                        Sent {
                            raw_id: conversation_id,
                            conversation: cid,
                            read_at,
                            started,
                            result,
                        }
                    }
                    .boxed(),
                );
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
                            TypingKind::Started => self.typing.insert(cid, self.frames),
                            TypingKind::Stopped => self.typing.remove(&cid),
                        };
                    }
                    Err(e) => self.reply_error(&typing_error(e, conversation_id)),
                }
            }
        }
    }

    /// A text's store finished: errors and retries answered to this
    /// connection; a stored text ends this connection's typing indicator
    /// there, if it was switched on before the text was sent.
    async fn on_sent(&mut self, sent: Sent) {
        match sent.result {
            Ok(SendOutcome::Stored {
                message, published, ..
            }) => {
                crate::telemetry::message_stored(sent.started.elapsed().as_secs_f64());
                if !published {
                    // The broker is down: ack the sender directly.
                    self.outbox
                        .push(render_message(&message, message.created_at));
                }
                let cid = sent.conversation;
                if self.typing.get(&cid).is_some_and(|at| *at < sent.read_at) {
                    self.typing.remove(&cid);
                    let _ = self.ctx.signal_typing.stop_on_behalf(self.who, cid).await;
                }
            }
            Ok(SendOutcome::Duplicate(message)) => {
                // Byte-identical to the original broadcast.
                self.outbox
                    .push(render_message(&message, message.created_at));
            }
            Err(e) => self.reply_error(&send_error(e, sent.raw_id)),
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
        SendMessageError::NotAllowed => FrameError::new(
            ErrorCode::InvalidMessage,
            "type must be text or system",
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
        // A peer that just went away (TCP closed without a close frame).
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => CloseAction::Drop,
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
    mut rx: super::outbox::Receiver,
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
            _ = rx.recv_many(&mut batch, DRAIN) => false,
            _ = ping.tick() => true,
        };
        let write = async {
            if ping_now {
                sink.feed(Message::Ping(Bytes::new())).await?;
            }
            for frame in batch.drain(..) {
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
