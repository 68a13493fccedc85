//! Read a conversation's history, a page at a time, oldest first per page.

use std::sync::Arc;

use qc_domain::{ConversationId, Identity};

use crate::ports::{
    ConversationRepository, HistoryCursor, HistoryError, HistoryPage, HistoryQuery,
    MessageRepository,
};
use crate::use_cases::list_conversations::{DEFAULT_LIMIT, MAX_LIMIT};

#[derive(Debug, thiserror::Error)]
pub enum ReadHistoryError {
    #[error("conversation not found")]
    NotFound,
    #[error("cursor is not a message of this conversation")]
    UnknownCursor,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct ReadHistory {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
}

impl ReadHistory {
    /// `limit` defaults to 50 and is clamped to 1..=200.
    ///
    /// # Errors
    /// `NotFound` when the conversation is missing or not visible to `who`;
    /// `UnknownCursor` when the cursor is not one of its messages.
    pub async fn execute(
        &self,
        who: &Identity,
        id: ConversationId,
        cursor: HistoryCursor,
        limit: Option<u32>,
    ) -> Result<HistoryPage, ReadHistoryError> {
        // Only whether the caller may read it: the history query says the rest.
        super::find_for::<ReadHistoryError>(self.conversations.as_ref(), id, |c| c.can_view(who))
            .await?;
        let query = HistoryQuery {
            cursor,
            limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            viewer: who.side(),
        };
        self.messages.history(id, query).await.map_err(|e| match e {
            HistoryError::UnknownCursor => ReadHistoryError::UnknownCursor,
            HistoryError::Storage(e) => ReadHistoryError::Unavailable(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn participants_read_with_clamped_limit_strangers_do_not() {
        let conv = assigned_conversation();
        let page = HistoryPage {
            items: vec![stored_message(&conv, 1, None)],
            next: None,
        };
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        let p = page.clone();
        f.messages
            .expect_history()
            .withf(|_, q| q.limit == 200 && q.cursor == HistoryCursor::Latest)
            .times(1)
            .returning(move |_, _| Ok(p.clone()));
        let uc = f.read_history();
        assert_eq!(
            uc.execute(&client(), conv.id(), HistoryCursor::Latest, Some(999))
                .await
                .unwrap(),
            page
        );
        assert!(matches!(
            uc.execute(&stranger(), conv.id(), HistoryCursor::Latest, None)
                .await,
            Err(ReadHistoryError::NotFound)
        ));
    }

    #[tokio::test]
    async fn unknown_cursor_is_reported() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_history()
            .returning(|_, _| Err(HistoryError::UnknownCursor));
        let cursor = HistoryCursor::After(stored_message(&conv, 1, None).id());
        let err = f
            .read_history()
            .execute(&agent(), conv.id(), cursor, None)
            .await
            .unwrap_err();
        assert!(matches!(err, ReadHistoryError::UnknownCursor));
    }
}
