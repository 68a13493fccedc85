//! Open a conversation owned by the caller (a guest or client).

use std::sync::Arc;

use qc_domain::{Conversation, ConversationError, Identity};

use crate::ports::{Clock, ConversationRepository, IdGenerator};

#[derive(Debug, thiserror::Error)]
pub enum OpenConversationError {
    #[error("only guests and clients open conversations")]
    Forbidden,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct OpenConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl OpenConversation {
    /// # Errors
    /// `Forbidden` for support agents, `Unavailable` when storing failed.
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
        self.conversations
            .insert(&conversation)
            .await
            .map_err(|e| OpenConversationError::Unavailable(e.into()))?;
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
            .withf(|c| c.client_id == client().user_id && c.support_id.is_none() && c.is_open())
            .times(1)
            .returning(|_| Ok(()));
        let c = f
            .open_conversation()
            .execute(&client(), Some("Order".into()))
            .await
            .unwrap();
        assert_eq!(c.subject.as_deref(), Some("Order"));
        assert_eq!(c.created_at, fixed_now());
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
