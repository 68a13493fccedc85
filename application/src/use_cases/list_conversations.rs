//! List conversations: a customer's own, an agent's assigned, or the queue.

use std::sync::Arc;

use qc_domain::{ConversationId, Identity, Role};

use crate::ports::{ConversationFilter, ConversationPage, ConversationRepository, PageRequest};

/// Page size bounds.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ListConversationsError {
    #[error("only support agents see the queue")]
    QueueForbidden,
    /// The cursor is not an item of this listing for this caller (unknown,
    /// someone else's, or from another listing): one answer for all, so a
    /// cursor reveals nothing.
    #[error("the cursor is not an item of this listing")]
    InvalidCursor,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct ListConversations {
    pub conversations: Arc<dyn ConversationRepository>,
}

impl ListConversations {
    /// `limit` is clamped to 1..=200 (default 50).
    ///
    /// # Errors
    /// `QueueForbidden` when a customer asks for the queue.
    pub async fn execute(
        &self,
        who: &Identity,
        queue: bool,
        after: Option<ConversationId>,
        limit: Option<u32>,
    ) -> Result<ConversationPage, ListConversationsError> {
        let filter = match (who.role(), queue) {
            (Role::Support, true) => ConversationFilter::Queue,
            (Role::Support, false) => ConversationFilter::AssignedTo(who.user_id().clone()),
            (_, true) => return Err(ListConversationsError::QueueForbidden),
            (_, false) => ConversationFilter::OwnedBy(who.user_id().clone()),
        };
        if let Some(cursor) = after {
            let unavailable =
                |e: crate::ports::RepositoryError| ListConversationsError::Unavailable(e.into());
            let item = self.conversations.find(cursor).await.map_err(unavailable)?;
            let belongs = item.is_some_and(|c| match &filter {
                ConversationFilter::OwnedBy(owner) => c.client_id() == owner,
                ConversationFilter::AssignedTo(agent) => c.support_id() == Some(agent),
                // Every agent sees the queue; an item claimed since the last
                // page still marks the place to go on from.
                ConversationFilter::Queue => true,
            });
            if !belongs {
                return Err(ListConversationsError::InvalidCursor);
            }
        }
        let page = PageRequest {
            after,
            limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        };
        self.conversations
            .list(&filter, &page)
            .await
            .map_err(|e| ListConversationsError::Unavailable(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn a_cursor_from_someone_elses_listing_is_invalid_and_lists_nothing() {
        let theirs = open_conversation(); // owned by client()
        let mut f = Fixture::new();
        f.find_returns(theirs.clone());
        f.conversations.expect_list().times(0);
        let err = f
            .list_conversations()
            .execute(&stranger(), false, Some(theirs.id()), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ListConversationsError::InvalidCursor));
        // Unknown is the same answer.
        let mut f = Fixture::new();
        f.conversations.expect_find().returning(|_| Ok(None));
        f.conversations.expect_list().times(0);
        let err = f
            .list_conversations()
            .execute(&agent(), false, Some(theirs.id()), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ListConversationsError::InvalidCursor));
    }

    #[tokio::test]
    async fn each_role_sees_its_own_list_with_clamped_limits() {
        let mut f = Fixture::new();
        f.conversations
            .expect_list()
            .withf(|filter, page| {
                *filter == ConversationFilter::OwnedBy(client().user_id().clone())
                    && page.limit == 50
            })
            .times(1)
            .returning(|_, _| {
                Ok(ConversationPage {
                    items: vec![],
                    next: None,
                })
            });
        f.conversations
            .expect_list()
            .withf(|filter, page| {
                *filter == ConversationFilter::AssignedTo(agent().user_id().clone())
                    && page.limit == 200
            })
            .times(1)
            .returning(|_, _| {
                Ok(ConversationPage {
                    items: vec![],
                    next: None,
                })
            });
        f.conversations
            .expect_list()
            .withf(|filter, page| *filter == ConversationFilter::Queue && page.limit == 1)
            .times(1)
            .returning(|_, _| {
                Ok(ConversationPage {
                    items: vec![],
                    next: None,
                })
            });
        let uc = f.list_conversations();
        uc.execute(&client(), false, None, None).await.unwrap();
        uc.execute(&agent(), false, None, Some(10_000))
            .await
            .unwrap();
        uc.execute(&agent(), true, None, Some(0)).await.unwrap();
        assert!(matches!(
            uc.execute(&client(), true, None, None).await,
            Err(ListConversationsError::QueueForbidden)
        ));
    }
}
