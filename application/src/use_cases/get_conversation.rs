//! Read one conversation: participants, or any agent while it is unassigned.

use std::sync::Arc;

use qc_domain::{Conversation, ConversationId, Identity};

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
    ) -> Result<Conversation, GetConversationError> {
        let conversation = self
            .conversations
            .find(id)
            .await
            .map_err(|e| GetConversationError::Unavailable(e.into()))?
            .ok_or(GetConversationError::NotFound)?;
        if !conversation.can_view(who) {
            return Err(GetConversationError::NotFound);
        }
        Ok(conversation)
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
        f.find_returns(conv.clone());
        let uc = f.get_conversation();
        assert_eq!(uc.execute(&client(), conv.id).await.unwrap(), conv);
        assert_eq!(uc.execute(&agent(), conv.id).await.unwrap(), conv);
        assert!(matches!(
            uc.execute(&other_agent(), conv.id).await,
            Err(GetConversationError::NotFound)
        ));
        assert!(matches!(
            uc.execute(&stranger(), conv.id).await,
            Err(GetConversationError::NotFound)
        ));
    }
}
