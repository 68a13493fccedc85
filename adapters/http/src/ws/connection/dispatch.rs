//! Routing a client's frame to its use case: a text to `SendMessage`
//! (pipelined, its outcome answered when the store finishes), a typing
//! frame to `SignalTyping`.

use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use qc_application::use_cases::{ParticipantError, SendMessageRequest, SendOutcome};
use qc_domain::{ConversationId, TypingKind};

use super::Reader;
use super::errors::{not_found, participant_error};
use crate::frames::{Inbound, render_message};

/// A text's store, finished: what the reader does next with it.
pub(super) struct Sent {
    raw_id: String,
    conversation: ConversationId,
    /// The frame counter when it was read (orders it against typing frames).
    read_at: u64,
    started: Instant,
    result: Result<SendOutcome, ParticipantError>,
}

/// A connection's stores, polled by its own loop. Not a task each: a
/// connection's texts must reach the writer in the order they were read
/// (their seq order), and these futures enqueue in the order they are
/// pushed, on their first poll. So that a text's publish (and the publish
/// turn its conversation's next text waits for) never waits on this loop,
/// the loop keeps polling them while it waits for anything else, and
/// whatever is left when the connection ends is driven to completion on a
/// task of its own.
pub(super) type InFlight = FuturesUnordered<BoxFuture<'static, Sent>>;

impl Reader<'_> {
    pub(super) async fn on_frame(&mut self, frame: Inbound, in_flight: &mut InFlight) {
        match frame {
            Inbound::Text {
                kind,
                conversation_id,
                content,
                client_msg_id,
            } => {
                // The content before the conversation (the contract's order).
                let content = match self.ctx.send_message.content(self.who, kind, content) {
                    Ok(content) => content,
                    Err(e) => return self.reply_error(&participant_error(e, conversation_id)),
                };
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
                    Err(e) => self.reply_error(&participant_error(e, conversation_id)),
                }
            }
        }
    }

    /// A text's store finished: errors and retries answered to this
    /// connection; a stored text ends this connection's typing indicator
    /// there, if it was switched on before the text was sent.
    pub(super) async fn on_sent(&mut self, sent: Sent) {
        match sent.result {
            Ok(SendOutcome::Stored {
                message, published, ..
            }) => {
                crate::telemetry::message_stored(sent.started.elapsed().as_secs_f64());
                if !published {
                    // The broker is down: ack the sender directly.
                    self.outbox
                        .push(render_message(&message, message.created_at()));
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
                    .push(render_message(&message, message.created_at()));
            }
            Err(e) => self.reply_error(&participant_error(e, sent.raw_id)),
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
