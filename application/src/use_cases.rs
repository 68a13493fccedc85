//! One module per use case: a struct holding its ports, a request, an error enum.

pub mod assign_conversation;
pub mod close_conversation;
pub mod get_conversation;
pub mod list_conversations;
pub mod mark_read;
pub mod open_conversation;
mod participant_error;
pub mod read_history;
pub mod send_message;
pub mod signal_typing;
pub mod transfer_conversation;

pub use assign_conversation::{AssignConversation, AssignConversationError, AssignResult};
pub use close_conversation::{CloseConversation, CloseConversationError};
pub use get_conversation::{GetConversation, GetConversationError};
pub use list_conversations::{ListConversations, ListConversationsError};
pub use mark_read::{MarkRead, MarkReadUseCaseError};
pub use open_conversation::{OpenConversation, OpenConversationError};
pub use participant_error::ParticipantError;
pub use read_history::{ReadHistory, ReadHistoryError};
pub use send_message::{SendMessage, SendMessageRequest, SendOutcome};
pub use signal_typing::SignalTyping;
pub use transfer_conversation::{TransferConversation, TransferConversationError};

use std::sync::Arc;

use qc_domain::{Conversation, ConversationId};

use crate::ports::{Broker, ConversationRepository, Envelope, RepositoryError};

/// A use case's error that can say the two things every lookup may end
/// in: the conversation is not there for this caller, or the store is down.
pub(crate) trait LookupError: From<RepositoryError> {
    fn not_found() -> Self;
}

/// Implements [`LookupError`] (and `From<RepositoryError>`, so `?` maps a
/// store failure) for error enums with `NotFound` and
/// `Unavailable(anyhow::Error)` variants.
macro_rules! lookup_error {
    ($($error:ty),+ $(,)?) => {$(
        impl From<RepositoryError> for $error {
            fn from(e: RepositoryError) -> Self {
                Self::Unavailable(e.into())
            }
        }

        impl LookupError for $error {
            fn not_found() -> Self {
                Self::NotFound
            }
        }
    )+};
}

lookup_error!(
    AssignConversationError,
    CloseConversationError,
    GetConversationError,
    MarkReadUseCaseError,
    ReadHistoryError,
    TransferConversationError,
);

/// Conversation `id` for a use case whose domain rule decides who may act
/// on it (claim, transfer, close): [`find_for`] with nobody filtered out.
///
/// # Errors
/// `NotFound` when it does not exist, `Unavailable` when the store is down.
pub(crate) async fn find<E: LookupError>(
    conversations: &dyn ConversationRepository,
    id: ConversationId,
) -> Result<Conversation, E> {
    find_for(conversations, id, |_| true).await
}

/// The step most use cases start with: conversation `id`, when it exists
/// and `known` says the caller may know of it. Otherwise the use case's
/// `NotFound`, one answer for "missing" and "not yours" so that existence
/// does not leak.
///
/// # Errors
/// `NotFound`, or `Unavailable` when the store is down.
pub(crate) async fn find_for<E: LookupError>(
    conversations: &dyn ConversationRepository,
    id: ConversationId,
    known: impl FnOnce(&Conversation) -> bool,
) -> Result<Conversation, E> {
    match conversations.find(id).await? {
        Some(conversation) if known(&conversation) => Ok(conversation),
        _ => Err(E::not_found()),
    }
}

/// Publishes, logging (not failing) when the broker is down: the state change
/// is already stored, and clients recover missed events through history.
pub(crate) async fn publish_best_effort(broker: &Arc<dyn Broker>, envelope: Envelope) -> bool {
    if !envelope.is_addressed() {
        return true;
    }
    match broker.publish(Arc::new(envelope)).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err, "event not published; recipients will catch up via history");
            false
        }
    }
}
