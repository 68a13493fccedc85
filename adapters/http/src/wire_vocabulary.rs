//! The WebSocket's vocabulary, listed once: the `error.code` values, the
//! close codes the server sends, and the `type` / `sub_type` of every frame
//! in and out. The browser client's `web/src/wire.ts` is rendered from it
//! ([`render_typescript`]); the black-box test `wire_vocabulary` checks the
//! committed file, docs/asyncapi.yaml and docs/protocol.md against it.
//! After a change: `QC_WRITE_WIRE=1 cargo test -p qc-tests wire_vocabulary`,
//! then `npm run build` in web/.
//!
//! Every list is exhaustive by construction: `listed!` names each variant
//! once, for both the list and a `match` with no wildcard, so a variant
//! added to an enum and left off its list does not compile. The frame kinds
//! are tied the same way to what the frames module parses ([`Inbound`]) and
//! renders ([`ChatEvent`]).

mod typescript;

use qc_domain::{ChatEvent, MessageKind, TypingKind};

use crate::frames::{ErrorCode, Inbound};

pub use typescript::{TYPESCRIPT_HEADER, render_typescript};

/// `[$ty::A, $ty::B, …]`, checked by a `match` on `$ty` with exactly these
/// variants and no wildcard: one missing from the list is a compile error
/// (E0004, non-exhaustive patterns), in this file.
macro_rules! listed {
    ($ty:ident { $($variant:ident),+ $(,)? }) => {{
        #[allow(dead_code)]
        fn _every_variant_is_listed(v: $ty) {
            match v {
                $($ty::$variant)|+ => {}
            }
        }
        [$($ty::$variant),+]
    }};
}

/// Every `error.code` of a `system`/`error` frame, in the order of
/// [`ErrorCode`]'s declaration.
pub const ERROR_CODES: [ErrorCode; 7] = listed!(ErrorCode {
    InvalidJson,
    InvalidMessage,
    InvalidContent,
    ConversationNotFound,
    ConversationClosed,
    Unavailable,
    RateLimited,
});

// `ErrorCode::ALL` (frames.rs; the metrics export each code from it) is
// this list, in this order: a different length is a type error, another
// order or variant fails the assertion, both at compile time.
const _: () = {
    let all: [ErrorCode; ERROR_CODES.len()] = ErrorCode::ALL;
    let mut i = 0;
    while i < ERROR_CODES.len() {
        assert!(
            all[i] as usize == ERROR_CODES[i] as usize,
            "ErrorCode::ALL and wire_vocabulary::ERROR_CODES differ"
        );
        i += 1;
    }
};

/// A close code the server sends (docs/protocol.md, "Close codes"). The
/// 1000s are named as RFC 6455 (§7.4.1) names them; 4001 and 4002 are this
/// server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000: nothing arrived for the idle timeout.
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
    /// 1002: a WebSocket protocol violation.
    ProtocolError,
    /// 1003: a binary frame.
    UnsupportedData,
    /// 1007: a text frame that is not valid UTF-8.
    InvalidPayload,
    /// 1008: a flood past the rate limit.
    PolicyViolation,
    /// 1009: a message over the size limit.
    MessageTooBig,
    /// 4001: the token expired.
    TokenExpired,
    /// 4002: the peer stopped reading and its outbound queue filled.
    SlowConsumer,
}

/// Every close code the server sends, lowest first.
pub const CLOSE_CODES: [CloseCode; 9] = listed!(CloseCode {
    Normal,
    GoingAway,
    ProtocolError,
    UnsupportedData,
    InvalidPayload,
    PolicyViolation,
    MessageTooBig,
    TokenExpired,
    SlowConsumer,
});

/// The numbers of [`CLOSE_CODES`], in the same order.
pub const CLOSE_CODE_NUMBERS: [u16; CLOSE_CODES.len()] = {
    let mut numbers = [0; CLOSE_CODES.len()];
    let mut i = 0;
    while i < CLOSE_CODES.len() {
        numbers[i] = CLOSE_CODES[i].code();
        i += 1;
    }
    numbers
};

impl CloseCode {
    /// The number in the close frame.
    pub const fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::GoingAway => 1001,
            Self::ProtocolError => 1002,
            Self::UnsupportedData => 1003,
            Self::InvalidPayload => 1007,
            Self::PolicyViolation => 1008,
            Self::MessageTooBig => 1009,
            Self::TokenExpired => 4001,
            Self::SlowConsumer => 4002,
        }
    }

    /// Its key in `CLOSE_CODES` of web/src/wire.ts.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::GoingAway => "going_away",
            Self::ProtocolError => "protocol_error",
            Self::UnsupportedData => "unsupported_data",
            Self::InvalidPayload => "invalid_payload",
            Self::PolicyViolation => "policy_violation",
            Self::MessageTooBig => "message_too_big",
            Self::TokenExpired => "token_expired",
            Self::SlowConsumer => "slow_consumer",
        }
    }

    /// When the server sends it, for a client reading wire.ts.
    pub const fn when(self) -> &'static str {
        match self {
            Self::Normal => "Nothing (no frame, no pong) arrived for the idle timeout.",
            Self::GoingAway => "The server is shutting down: reconnect.",
            Self::ProtocolError => "A WebSocket protocol violation.",
            Self::UnsupportedData => "A binary frame was sent.",
            Self::InvalidPayload => "A text frame that is not valid UTF-8.",
            Self::PolicyViolation => "Flooding past the rate limit.",
            Self::MessageTooBig => "A message over 64 KiB.",
            Self::TokenExpired => "The token expired: get a new one before reconnecting.",
            Self::SlowConsumer => {
                "The outbound queue filled (the client stopped reading): reconnect and catch up."
            }
        }
    }
}

/// The `type` of every frame that does not carry a stored message.
pub const SYSTEM: &str = "system";

/// Every kind of stored message: the `type` of a frame carrying one, and
/// the payload's `message_type`.
pub const MESSAGE_KINDS: [MessageKind; 2] = listed!(MessageKind { Text, Note });

/// Every typing signal: the `sub_type` of a typing frame, in and out.
pub const TYPING_KINDS: [TypingKind; 2] = listed!(TypingKind { Started, Stopped });

/// A frame a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientFrame {
    /// `text`.
    Text,
    /// `note`, from agents only.
    Note,
    /// `system` / `typing_started`.
    TypingStarted,
    /// `system` / `typing_stopped`.
    TypingStopped,
}

/// Every frame a client may send.
pub const CLIENT_FRAMES: [ClientFrame; 4] = listed!(ClientFrame {
    Text,
    Note,
    TypingStarted,
    TypingStopped,
});

impl ClientFrame {
    pub const fn message(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Text => Self::Text,
            MessageKind::Note => Self::Note,
        }
    }

    pub const fn typing(kind: TypingKind) -> Self {
        match kind {
            TypingKind::Started => Self::TypingStarted,
            TypingKind::Stopped => Self::TypingStopped,
        }
    }

    /// Which frame was parsed. A new kind of [`Inbound`] does not compile
    /// until it is given its frame here.
    pub fn of(frame: &Inbound) -> Self {
        match frame {
            Inbound::Text { kind, .. } => Self::message(*kind),
            Inbound::Typing { kind, .. } => Self::typing(*kind),
        }
    }

    pub const fn frame_type(self) -> &'static str {
        match self {
            Self::Text => MessageKind::Text.as_str(),
            Self::Note => MessageKind::Note.as_str(),
            Self::TypingStarted | Self::TypingStopped => SYSTEM,
        }
    }

    /// `None` for a text or a note: they have no `sub_type`.
    pub const fn sub_type(self) -> Option<&'static str> {
        match self {
            Self::Text | Self::Note => None,
            Self::TypingStarted => Some(TypingKind::Started.sub_type()),
            Self::TypingStopped => Some(TypingKind::Stopped.sub_type()),
        }
    }
}

/// A frame the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerFrame {
    /// `text` / `""`: a stored text.
    Text,
    /// `note` / `""`: a stored note, to agents only.
    Note,
    TypingStarted,
    TypingStopped,
    ConversationCreated,
    ConversationAssigned,
    ConversationClosed,
    Presence,
    MessagesRead,
    /// `system` / `error`: the last frame was refused.
    Error,
}

/// Every frame the server may send.
pub const SERVER_FRAMES: [ServerFrame; 10] = listed!(ServerFrame {
    Text,
    Note,
    TypingStarted,
    TypingStopped,
    ConversationCreated,
    ConversationAssigned,
    ConversationClosed,
    Presence,
    MessagesRead,
    Error,
});

impl ServerFrame {
    pub const fn message(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Text => Self::Text,
            MessageKind::Note => Self::Note,
        }
    }

    pub const fn typing(kind: TypingKind) -> Self {
        match kind {
            TypingKind::Started => Self::TypingStarted,
            TypingKind::Stopped => Self::TypingStopped,
        }
    }

    /// The frames `event` may render as: a stored message as a text or a
    /// note (by its kind); none for an event the hub consumes. A new
    /// [`ChatEvent`] does not compile until it is given its frames here.
    pub fn for_event(event: &ChatEvent) -> &'static [Self] {
        match event {
            ChatEvent::MessageStored { .. } => &[Self::Text, Self::Note],
            ChatEvent::MessageWithheld { .. } => &[],
            ChatEvent::Typing { kind, .. } => match kind {
                TypingKind::Started => &[Self::TypingStarted],
                TypingKind::Stopped => &[Self::TypingStopped],
            },
            ChatEvent::ConversationCreated { .. } => &[Self::ConversationCreated],
            ChatEvent::ConversationAssigned { .. } => &[Self::ConversationAssigned],
            ChatEvent::ConversationClosed { .. } => &[Self::ConversationClosed],
            ChatEvent::MessagesRead { .. } => &[Self::MessagesRead],
            ChatEvent::Presence { .. } => &[Self::Presence],
        }
    }

    pub const fn frame_type(self) -> &'static str {
        match self {
            Self::Text => MessageKind::Text.as_str(),
            Self::Note => MessageKind::Note.as_str(),
            Self::TypingStarted
            | Self::TypingStopped
            | Self::ConversationCreated
            | Self::ConversationAssigned
            | Self::ConversationClosed
            | Self::Presence
            | Self::MessagesRead
            | Self::Error => SYSTEM,
        }
    }

    /// `""` for a text or a note.
    pub const fn sub_type(self) -> &'static str {
        match self {
            Self::Text | Self::Note => "",
            Self::TypingStarted => TypingKind::Started.sub_type(),
            Self::TypingStopped => TypingKind::Stopped.sub_type(),
            Self::ConversationCreated => "conversation_created",
            Self::ConversationAssigned => "conversation_assigned",
            Self::ConversationClosed => "conversation_closed",
            Self::Presence => "presence",
            Self::MessagesRead => "messages_read",
            Self::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests;
