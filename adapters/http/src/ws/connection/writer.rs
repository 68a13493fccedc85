//! The writer side of a connection: the outbox and pings into the socket,
//! then the close frame the connection's close decision calls for.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;

use super::{CloseAction, WebSocketStream};
use crate::frames::Frame;
use crate::ws::outbox::{Outbox, Receiver};

/// Most frames the writer takes off the queue per wake-up (one flush each).
const DRAIN: usize = 128;

/// Drains the outbox into the socket and pings; on a close decision (or
/// overflow) sends the close frame, giving it `grace` before dropping TCP.
///
/// Each wake-up takes everything queued (up to [`DRAIN`] frames) into the
/// socket's write buffer and flushes once: one syscall for a burst, not one
/// per frame.
pub(super) async fn write_loop(
    mut sink: SplitSink<WebSocketStream, Message>,
    mut rx: Receiver,
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
