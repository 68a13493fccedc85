//! Why a participant's action inside a conversation was refused: one
//! error for everything a connection sends into one (a text, a note, a
//! typing signal), so the WebSocket adapter maps it to the contract's
//! frames in one place.

use qc_domain::ContentError;

#[derive(Debug, thiserror::Error)]
pub enum ParticipantError {
    /// Missing, or the sender is not a participant (one answer for both).
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    /// A customer tried to write a note.
    #[error("only agents write notes")]
    NotAllowed,
    /// The message policy refused the content.
    #[error(transparent)]
    InvalidContent(#[from] ContentError),
    /// The store or the cache behind it is down; nothing was stored.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}
