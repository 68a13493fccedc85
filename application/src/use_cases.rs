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

use crate::ports::{Broker, Envelope};

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
