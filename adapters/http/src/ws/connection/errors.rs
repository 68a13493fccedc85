//! Mapping failures to what the peer is told: a use case's error to the
//! contract's `system/error` frame (CONTRACT §3, bad input), and a socket
//! read error to the close code that ends the connection (§3, close codes).

use qc_application::use_cases::ParticipantError;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tracing::debug;

use super::CloseAction;
use crate::frames::{ErrorCode, FrameError};

pub(super) fn not_found(cid: String) -> FrameError {
    FrameError::new(
        ErrorCode::ConversationNotFound,
        "no such conversation",
        Some(cid),
    )
}

/// A use case's refusal of a text, a note or a typing frame.
pub(super) fn participant_error(e: ParticipantError, cid: String) -> FrameError {
    match e {
        ParticipantError::NotFound => not_found(cid),
        ParticipantError::Closed => FrameError::new(
            ErrorCode::ConversationClosed,
            "the conversation is closed",
            Some(cid),
        ),
        ParticipantError::NotAllowed => FrameError::new(
            ErrorCode::InvalidMessage,
            "type must be text or system",
            Some(cid),
        ),
        ParticipantError::InvalidContent(why) => {
            FrameError::new(ErrorCode::InvalidContent, why.to_string(), Some(cid))
        }
        ParticipantError::Unavailable(err) => {
            tracing::error!(error = %format!("{err:#}"), "storing a message or a typing signal failed");
            FrameError::new(
                ErrorCode::Unavailable,
                "storage unavailable; nothing was stored; retry",
                Some(cid),
            )
        }
    }
}

/// How a read error ends the connection (CONTRACT §3 close codes).
pub(super) fn read_failed(e: &WsError) -> CloseAction {
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

#[cfg(test)]
mod tests;
