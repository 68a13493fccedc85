//! A participant closes a conversation. Idempotent: a second close changes
//! nothing and broadcasts nothing.

use std::sync::Arc;

use qc_domain::{ChatEvent, Conversation, ConversationId, Identity};

use crate::ports::{Broker, Clock, ConversationRepository, Envelope};

#[derive(Debug, thiserror::Error)]
pub enum CloseConversationError {
    #[error("conversation not found")]
    NotFound,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct CloseConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    /// In automatic routing, told when a close freed an agent's place.
    pub on_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl CloseConversation {
    /// Returns the conversation as it is after the call.
    ///
    /// # Errors
    /// `NotFound` for a missing conversation or a non-participant.
    pub async fn execute(
        &self,
        who: &Identity,
        id: ConversationId,
    ) -> Result<Conversation, CloseConversationError> {
        let mut conversation =
            super::find::<CloseConversationError>(self.conversations.as_ref(), id).await?;
        let at = self.clock.now();
        let closes = conversation
            .close(&who.user(), at)
            .map_err(|_| CloseConversationError::NotFound)?;
        if !closes {
            return Ok(conversation);
        }
        if !self.conversations.try_close(id, at, who.user_id()).await? {
            // Closed concurrently by someone else: they broadcast it.
            return super::find::<CloseConversationError>(self.conversations.as_ref(), id).await;
        }
        let event = ChatEvent::ConversationClosed {
            conversation_id: id,
            closed_by: who.user_id().clone(),
            at,
        };
        // Closed while still queued: every agent's queue loses it.
        let envelope = if conversation.support_id().is_none() {
            Envelope::with_all_agents(conversation.participants(), event)
        } else {
            Envelope::new(conversation.participants(), event)
        };
        super::publish_best_effort(&self.broker, envelope).await;
        if let Some(on_change) = &self.on_change {
            on_change();
        }
        Ok(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use qc_domain::ConversationStatus;

    #[tokio::test]
    async fn closing_tells_every_participant() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_close()
            .times(1)
            .returning(|_, _, _| Ok(true));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients.len() == 2
                    && !env.all_agents
                    && matches!(&env.event, ChatEvent::ConversationClosed { closed_by, .. } if *closed_by == agent().user_id().clone())
            })
            .times(1)
            .returning(|_| Ok(()));
        let c = f
            .close_conversation()
            .execute(&agent(), conv.id())
            .await
            .unwrap();
        assert_eq!(c.status(), ConversationStatus::Closed);
        assert_eq!(c.closed_at(), Some(fixed_now()));
    }

    #[tokio::test]
    async fn closing_a_queued_conversation_tells_every_agent() {
        let conv = open_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_close()
            .times(1)
            .returning(|_, _, _| Ok(true));
        f.broker
            .expect_publish()
            .withf(|env| env.all_agents && env.recipients == vec![client().user()])
            .times(1)
            .returning(|_| Ok(()));
        f.close_conversation()
            .execute(&client(), conv.id())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn second_close_changes_and_broadcasts_nothing() {
        let mut conv = assigned_conversation();
        conv.close(&client().user(), fixed_now()).unwrap();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_close().times(0);
        f.broker.expect_publish().times(0);
        let c = f
            .close_conversation()
            .execute(&client(), conv.id())
            .await
            .unwrap();
        assert_eq!(c, conv);
    }

    #[tokio::test]
    async fn strangers_cannot_close() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_close().times(0);
        let err = f
            .close_conversation()
            .execute(&other_agent(), conv.id())
            .await
            .unwrap_err();
        assert!(matches!(err, CloseConversationError::NotFound));
    }
}
