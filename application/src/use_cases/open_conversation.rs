//! Open a conversation owned by the caller (a guest or client).

use std::sync::Arc;

use qc_domain::{ChatEvent, Conversation, ConversationError, Identity};

use crate::ports::{Broker, Clock, ConversationRepository, Envelope, IdGenerator};

#[derive(Debug, thiserror::Error)]
pub enum OpenConversationError {
    #[error("only guests and clients open conversations")]
    Forbidden,
    #[error("the customer already has the most open conversations allowed")]
    TooManyOpen,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct OpenConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Most open conversations one customer may own (`QC_MAX_OPEN_CONVERSATIONS`).
    pub max_open: u32,
}

impl OpenConversation {
    /// # Errors
    /// `Forbidden` for support agents, `TooManyOpen` when the customer
    /// already owns `max_open` open conversations, `Unavailable` when
    /// storing failed.
    pub async fn execute(
        &self,
        owner: &Identity,
        subject: Option<String>,
    ) -> Result<Conversation, OpenConversationError> {
        let conversation =
            Conversation::open(self.ids.conversation_id(), owner, subject, self.clock.now())
                .map_err(|e| match e {
                    ConversationError::Forbidden(_) => OpenConversationError::Forbidden,
                    other => OpenConversationError::Unavailable(other.into()),
                })?;
        let stored = self
            .conversations
            .insert(&conversation, self.max_open)
            .await
            .map_err(|e| OpenConversationError::Unavailable(e.into()))?;
        if !stored {
            return Err(OpenConversationError::TooManyOpen);
        }
        // The queue grew: every agent's console shows it at once, and the
        // owner's other tabs learn of it too.
        let event = ChatEvent::ConversationCreated {
            conversation: conversation.clone(),
            at: conversation.created_at(),
        };
        super::publish_best_effort(
            &self.broker,
            Envelope::with_all_agents(vec![conversation.customer()], event),
        )
        .await;
        Ok(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn client_opens_and_it_is_stored() {
        let mut f = Fixture::new();
        f.conversations
            .expect_insert()
            .withf(|c, max| {
                c.client_id() == client().user_id()
                    && c.support_id().is_none()
                    && c.is_open()
                    && *max == 5
            })
            .times(1)
            .returning(|_, _| Ok(true));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.all_agents
                    && env.recipients == vec![client().user()]
                    && matches!(&env.event, ChatEvent::ConversationCreated { conversation, .. } if conversation.client_id() == client().user_id())
            })
            .times(1)
            .returning(|_| Ok(()));
        let c = f
            .open_conversation()
            .execute(&client(), Some("Order".into()))
            .await
            .unwrap();
        assert_eq!(c.subject(), Some("Order"));
        assert_eq!(c.created_at(), fixed_now());
    }

    #[tokio::test]
    async fn past_the_cap_the_store_refuses_and_nothing_is_returned() {
        let mut f = Fixture::new();
        f.conversations
            .expect_insert()
            .times(1)
            .returning(|_, _| Ok(false));
        f.broker.expect_publish().times(0);
        let err = f
            .open_conversation()
            .execute(&client(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, OpenConversationError::TooManyOpen));
    }

    #[tokio::test]
    async fn agents_cannot_open() {
        let mut f = Fixture::new();
        f.conversations.expect_insert().times(0);
        let err = f
            .open_conversation()
            .execute(&agent(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, OpenConversationError::Forbidden));
    }
}
