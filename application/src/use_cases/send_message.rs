//! Send a text message: validate, authorize, store (with the next `seq`),
//! then publish to every participant. Nothing is published unless stored.

use std::sync::Arc;

use qc_domain::{
    ChatEvent, ClientMsgId, ConversationId, Identity, Message, MessageContent, MessageKind,
    MessagePolicy, NewMessage, User,
};

use super::ParticipantError;

use crate::ports::{
    AppendError, Appended, Broker, Clock, Envelope, IdGenerator, MessageRepository,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageRequest {
    pub conversation_id: ConversationId,
    /// A text, or (agents only) an internal note.
    pub kind: MessageKind,
    /// Content that passed the use case's [`MessagePolicy`]
    /// ([`SendMessage::content`]).
    pub content: MessageContent,
    pub client_msg_id: Option<ClientMsgId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored now. `published` is false when the broker was down: the other
    /// participants catch up via history, and the sender must be acked
    /// directly. `participants` are the conversation's, as the store saw
    /// them (who else may need a `typing_stopped` from this sender).
    Stored {
        message: Message,
        participants: Vec<User>,
        published: bool,
    },
    /// A retry of a message stored before (same `client_msg_id`): nothing
    /// stored or broadcast; the original goes back to the sender only.
    Duplicate(Message),
}

/// No read before the store: the store itself accepts a text only if, in
/// the database at that moment, the conversation is open and the sender a
/// participant, and it settles `client_msg_id` retries by its unique index.
pub struct SendMessage {
    pub messages: Arc<dyn MessageRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// The content rules ([`qc_domain::DefaultPolicy`] unless bootstrap
    /// plugged in another).
    pub policy: Arc<dyn MessagePolicy>,
}

impl SendMessage {
    /// Checks `raw` against the message policy: what `sender` may post as a
    /// message of `kind`. Synchronous, and before anything else about the
    /// frame is looked up, so that a refused text says why whatever the
    /// conversation (the contract's order of checks).
    ///
    /// # Errors
    /// [`ParticipantError::InvalidContent`], with the policy's reason.
    pub fn content(
        &self,
        sender: &Identity,
        kind: MessageKind,
        raw: String,
    ) -> Result<MessageContent, ParticipantError> {
        Ok(MessageContent::checked(
            raw,
            &sender.user(),
            kind,
            self.policy.as_ref(),
        )?)
    }

    /// # Errors
    /// See [`ParticipantError`]; on any error nothing is stored or published.
    pub async fn execute(
        &self,
        sender: &Identity,
        request: SendMessageRequest,
    ) -> Result<SendOutcome, ParticipantError> {
        let new = NewMessage::write(
            self.ids.message_id(),
            request.conversation_id,
            sender.user(),
            request.kind,
            request.content,
            request.client_msg_id,
            self.clock.now(),
        )
        .map_err(|qc_domain::MessageError::KindNotAllowed(_)| ParticipantError::NotAllowed)?;

        // No lock across the store: many texts of one conversation may share
        // a batch. The turn orders their publishes by seq instead.
        let (message, participants, mut turn) = match self.messages.append(new).await {
            Ok(Appended::Stored {
                message,
                participants,
                turn,
            }) => (message, participants, turn),
            Ok(Appended::Duplicate(message)) => return Ok(SendOutcome::Duplicate(message)),
            Err(AppendError::ConversationClosed) => return Err(ParticipantError::Closed),
            Err(AppendError::ConversationMissing | AppendError::NotParticipant) => {
                return Err(ParticipantError::NotFound);
            }
            Err(AppendError::Storage(e)) => return Err(ParticipantError::Unavailable(e.into())),
        };
        let event = ChatEvent::MessageStored {
            at: message.created_at(),
            message: message.clone(),
        };
        // A note goes to the agent side only; the customer gets only its
        // seq, so their in-order delivery does not wait for it.
        let (recipients, withheld): (Vec<User>, Vec<User>) = participants
            .iter()
            .cloned()
            .partition(|u| message.kind().visible_to(u.side()));
        turn.wait().await;
        let published =
            super::publish_best_effort(&self.broker, Envelope::new(recipients, event)).await;
        if !withheld.is_empty() {
            let passed = ChatEvent::MessageWithheld {
                conversation_id: message.conversation_id(),
                seq: message.seq(),
            };
            super::publish_best_effort(&self.broker, Envelope::new(withheld, passed)).await;
        }
        drop(turn);
        Ok(SendOutcome::Stored {
            message,
            participants,
            published,
        })
    }
}

#[cfg(test)]
mod tests;
