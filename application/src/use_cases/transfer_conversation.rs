//! The assigned agent hands a conversation to another agent, or back to
//! the queue. One conditional update in the database: the previous agent
//! stops being a participant at that moment (texts stored after it go to
//! the new agent only), and a transfer racing a close or another transfer
//! either happens whole or not at all.

use std::sync::Arc;

use qc_domain::{
    ChatEvent, Conversation, ConversationError, ConversationId, Identity, TransferOutcome, UserId,
};

use crate::ports::{
    AgentRepository, Broker, Clock, ConversationRepository, Envelope, MessageRepository,
};

#[derive(Debug, thiserror::Error)]
pub enum TransferConversationError {
    #[error("only support agents transfer conversations")]
    Forbidden,
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    /// `to` names no agent the desk has seen.
    #[error("no such agent")]
    UnknownAgent,
    /// In automatic routing, the target holds the most open conversations
    /// allowed.
    #[error("the agent is at capacity")]
    AtCapacity,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<ConversationError> for TransferConversationError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::Forbidden(_) => Self::Forbidden,
            ConversationError::Closed => Self::Closed,
            ConversationError::NotFound | ConversationError::AlreadyAssigned => Self::NotFound,
        }
    }
}

pub struct TransferConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    /// For the publish turn after the texts stored before the transfer.
    pub messages: Arc<dyn MessageRepository>,
    /// Whether the target is an agent the desk knows.
    pub agents: Arc<dyn AgentRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    /// `Some(QC_AGENT_CAPACITY)` in automatic routing: a full target is
    /// refused.
    pub capacity: Option<u32>,
    /// In automatic routing, told when a conversation came back to the
    /// queue or freed a place (it may go to someone now).
    pub on_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl TransferConversation {
    /// Hands conversation `id` from `by` (its assigned agent) to `to`
    /// (`None`: the queue). Checked in this order: the role (403), the
    /// caller holds it (404), it is open (409), the target is a known
    /// agent (400). Returns the conversation as it is after the call.
    ///
    /// # Errors
    /// See [`TransferConversationError`]; on any error nothing changed.
    pub async fn execute(
        &self,
        by: &Identity,
        id: ConversationId,
        to: Option<UserId>,
    ) -> Result<Conversation, TransferConversationError> {
        if by.role().is_customer() {
            return Err(TransferConversationError::Forbidden);
        }
        let mut conversation =
            super::find::<TransferConversationError>(self.conversations.as_ref(), id).await?;
        let previous = conversation.participants();
        if conversation.transfer(by, to.as_ref())? == TransferOutcome::Unchanged {
            return Ok(conversation);
        }
        if let Some(agent) = &to
            && self.agents.find(agent).await?.is_none()
        {
            return Err(TransferConversationError::UnknownAgent);
        }
        let moved = self
            .conversations
            .try_transfer(id, by.user_id(), to.clone(), self.capacity)
            .await?;
        let last_seq = match moved {
            crate::ports::Transfer::Moved { last_seq } => last_seq,
            crate::ports::Transfer::AtCapacity => {
                return Err(TransferConversationError::AtCapacity);
            }
            crate::ports::Transfer::Lost => {
                // Closed, or moved by someone else, since we read it: answer as
                // the conversation is now.
                let now = super::find::<TransferConversationError>(self.conversations.as_ref(), id)
                    .await?;
                now.clone().transfer(by, to.as_ref())?;
                return Err(TransferConversationError::NotFound);
            }
        };
        let mut recipients = previous;
        recipients.extend(conversation.agent());
        let event = ChatEvent::ConversationAssigned {
            conversation_id: id,
            support_id: to,
            previous_support_id: Some(by.user_id().clone()),
            last_seq: Some(last_seq),
            at: self.clock.now(),
        };
        // The previous agent's typing indicator, if on, is theirs no more:
        // they can no longer switch it off themselves.
        let stopped = ChatEvent::Typing {
            conversation_id: id,
            sender_id: by.user_id().clone(),
            kind: qc_domain::TypingKind::Stopped,
            at: self.clock.now(),
        };
        // To the customer, both agents, and every agent's queue (it may
        // have come back to it); after the texts stored before the
        // transfer are published: the previous agent gets them, then this,
        // then nothing more. On a task of its own: the change is stored,
        // so its events go out even if the caller goes away meanwhile.
        let messages = self.messages.clone();
        let broker = self.broker.clone();
        let customer = conversation.customer();
        let publishing = tokio::spawn(async move {
            let mut turn = messages.settled(id).await;
            turn.wait().await;
            super::publish_best_effort(&broker, Envelope::with_all_agents(recipients, event)).await;
            drop(turn);
            super::publish_best_effort(&broker, Envelope::new(vec![customer], stopped)).await;
        });
        let _ = publishing.await;
        if let Some(on_change) = &self.on_change {
            on_change();
        }
        Ok(conversation)
    }
}

#[cfg(test)]
mod tests;
