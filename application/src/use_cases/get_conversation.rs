//! Read one conversation: participants, or any agent while it is unassigned.

use std::sync::Arc;

use qc_domain::{Conversation, ConversationId, ConversationView, Identity};

use crate::ports::ConversationRepository;

#[derive(Debug, thiserror::Error)]
pub enum GetConversationError {
    #[error("conversation not found")]
    NotFound,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct GetConversation {
    pub conversations: Arc<dyn ConversationRepository>,
}

impl GetConversation {
    /// # Errors
    /// `NotFound` when missing or not visible to `who` (one answer for both).
    pub async fn execute(
        &self,
        who: &Identity,
        id: ConversationId,
    ) -> Result<ConversationView, GetConversationError> {
        let view = self
            .conversations
            .find_view(id, who.side())
            .await?
            .ok_or(GetConversationError::NotFound)?;
        if !view.conversation().can_view(who) {
            return Err(GetConversationError::NotFound);
        }
        Ok(view)
    }

    /// `conversation` (just returned by another use case) as `who` sees it:
    /// with the last message and unread count read again. Falls back to no
    /// message when it is gone meanwhile.
    ///
    /// # Errors
    /// When the read fails.
    pub async fn view_of(
        &self,
        who: &Identity,
        conversation: Conversation,
    ) -> Result<ConversationView, GetConversationError> {
        let found = self
            .conversations
            .find_view(conversation.id(), who.side())
            .await
            .map_err(|e| GetConversationError::Unavailable(e.into()))?;
        Ok(match found {
            // The state the use case decided on, the summary as stored.
            Some(view) => view.with_conversation(conversation),
            None => ConversationView::empty(conversation),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn visible_to_participants_hidden_from_others() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        let c = conv.clone();
        f.conversations
            .expect_find_view()
            .returning(move |_, _| Ok(Some(ConversationView::empty(c.clone()))));
        let uc = f.get_conversation();
        assert_eq!(
            uc.execute(&client(), conv.id())
                .await
                .unwrap()
                .conversation(),
            &conv
        );
        assert_eq!(
            uc.execute(&agent(), conv.id())
                .await
                .unwrap()
                .conversation(),
            &conv
        );
        assert!(matches!(
            uc.execute(&other_agent(), conv.id()).await,
            Err(GetConversationError::NotFound)
        ));
        assert!(matches!(
            uc.execute(&stranger(), conv.id()).await,
            Err(GetConversationError::NotFound)
        ));
    }
}
