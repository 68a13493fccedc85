//! The wire format of the WebSocket: frames in (parsed with the contract's
//! error codes) and frames out (`{type, sub_type, timestamp, payload}`).

mod inbound;
mod outbound;

#[cfg(test)]
use chrono::Utc;

pub use inbound::{Inbound, parse_inbound, parse_inbound_from};
pub use outbound::{render_error, render_event, render_message};

// What tests.rs reaches through `use super::*` besides the items above.
#[cfg(test)]
use qc_domain::{ChatEvent, Conversation, Message, Side, TypingKind};

/// A rendered outbound frame: UTF-8 in a shared, reference-counted buffer
/// (cloning it for another connection copies nothing).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// RFC 3339, UTC, milliseconds, `Z`.
pub use qc_application::json::timestamp;

/// The `error.code` values of the bad-input table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    InvalidMessage,
    InvalidContent,
    ConversationNotFound,
    ConversationClosed,
    Unavailable,
    RateLimited,
}

impl ErrorCode {
    /// Every code, for exporting their counters at 0 from the start.
    pub const ALL: [Self; 7] = [
        Self::InvalidJson,
        Self::InvalidMessage,
        Self::InvalidContent,
        Self::ConversationNotFound,
        Self::ConversationClosed,
        Self::Unavailable,
        Self::RateLimited,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidMessage => "invalid_message",
            Self::InvalidContent => "invalid_content",
            Self::ConversationNotFound => "conversation_not_found",
            Self::ConversationClosed => "conversation_closed",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub conversation_id: Option<String>,
}

impl FrameError {
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        conversation_id: Option<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            conversation_id,
        }
    }
}

#[cfg(test)]
mod tests;
