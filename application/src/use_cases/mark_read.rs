//! Read receipts: a participant marks the other side's messages read up to a
//! message; every participant is told.

use std::sync::Arc;

use qc_domain::{ChatEvent, ConversationId, Identity, MessageId};

use crate::ports::{
    Broker, Clock, ConversationRepository, Envelope, MarkReadError, MessageRepository,
};

#[derive(Debug, thiserror::Error)]
pub enum MarkReadUseCaseError {
    #[error("conversation not found")]
    NotFound,
    #[error("message is not in this conversation")]
    UnknownMessage,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct MarkRead {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
}

impl MarkRead {
    /// # Errors
    /// `NotFound` for a non-participant; `UnknownMessage` when `up_to` is not
    /// a message of the conversation.
    pub async fn execute(
        &self,
        reader: &Identity,
        id: ConversationId,
        up_to: MessageId,
    ) -> Result<(), MarkReadUseCaseError> {
        let reading = reader.user();
        let conversation =
            super::find_for::<MarkReadUseCaseError>(self.conversations.as_ref(), id, |c| {
                c.is_participant(&reading)
            })
            .await?;
        let at = self.clock.now();
        let changed = self
            .messages
            .mark_read(id, &reader.user(), up_to, at)
            .await
            .map_err(|e| match e {
                MarkReadError::UnknownMessage => MarkReadUseCaseError::UnknownMessage,
                MarkReadError::Storage(e) => MarkReadUseCaseError::Unavailable(e.into()),
            })?;
        if changed > 0 {
            let event = ChatEvent::MessagesRead {
                conversation_id: id,
                reader_id: reader.user_id().clone(),
                up_to,
                at,
            };
            super::publish_best_effort(
                &self.broker,
                Envelope::new(conversation.participants(), event),
            )
            .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn marking_read_tells_everyone_once() {
        let conv = assigned_conversation();
        let msg = stored_message(&conv, 4, None);
        let msg_id = msg.id();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_mark_read()
            .times(1)
            .returning(|_, _, _, _| Ok(3));
        f.broker
            .expect_publish()
            .withf(move |env| {
                env.recipients.len() == 2
                    && matches!(&env.event, ChatEvent::MessagesRead { up_to, reader_id, .. } if *up_to == msg_id && reader_id == agent().user_id())
            })
            .times(1)
            .returning(|_| Ok(()));
        f.mark_read()
            .execute(&agent(), conv.id(), msg.id())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn nothing_new_read_publishes_nothing() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_mark_read()
            .times(1)
            .returning(|_, _, _, _| Ok(0));
        f.broker.expect_publish().times(0);
        f.mark_read()
            .execute(&agent(), conv.id(), stored_message(&conv, 1, None).id())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn strangers_and_unknown_messages_are_refused() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_mark_read()
            .times(1)
            .returning(|_, _, _, _| Err(MarkReadError::UnknownMessage));
        f.broker.expect_publish().times(0);
        let uc = f.mark_read();
        let mid = stored_message(&conv, 1, None).id();
        assert!(matches!(
            uc.execute(&stranger(), conv.id(), mid).await,
            Err(MarkReadUseCaseError::NotFound)
        ));
        assert!(matches!(
            uc.execute(&client(), conv.id(), mid).await,
            Err(MarkReadUseCaseError::UnknownMessage)
        ));
    }
}
