//! Send a text message: validate, authorize, store (with the next `seq`),
//! then publish to every participant. Nothing is published unless stored.

use std::sync::Arc;

use qc_domain::{
    ChatEvent, ClientMsgId, ConversationError, ConversationId, Identity, Message, MessageContent,
    NewMessage,
};

use crate::ordering::ConversationOrdering;
use crate::ports::{
    AppendError, Appended, Broker, Clock, ConversationRepository, Envelope, IdGenerator,
    MessageRepository,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageRequest {
    pub conversation_id: ConversationId,
    pub content: MessageContent,
    pub client_msg_id: Option<ClientMsgId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored now. `published` is false when the broker was down: the other
    /// participants catch up via history, and the sender must be acked directly.
    Stored { message: Message, published: bool },
    /// A retry of a message stored before (same `client_msg_id`): nothing
    /// stored or broadcast; the original goes back to the sender only.
    Duplicate(Message),
}

#[derive(Debug, thiserror::Error)]
pub enum SendMessageError {
    /// Missing, or the sender is not a participant (one answer for both).
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

pub struct SendMessage {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub ordering: Arc<ConversationOrdering>,
}

impl SendMessage {
    /// # Errors
    /// See [`SendMessageError`]; on any error nothing is stored or published.
    pub async fn execute(
        &self,
        sender: &Identity,
        request: SendMessageRequest,
    ) -> Result<SendOutcome, SendMessageError> {
        let conversation = self
            .conversations
            .find(request.conversation_id)
            .await
            .map_err(|e| SendMessageError::Unavailable(e.into()))?
            .ok_or(SendMessageError::NotFound)?;
        conversation
            .ensure_can_send(&sender.user_id)
            .map_err(|e| match e {
                ConversationError::Closed => SendMessageError::Closed,
                _ => SendMessageError::NotFound,
            })?;

        if let Some(cmid) = &request.client_msg_id
            && let Some(existing) = self
                .messages
                .find_by_client_msg_id(conversation.id, &sender.user_id, cmid)
                .await
                .map_err(|e| SendMessageError::Unavailable(e.into()))?
        {
            return Ok(SendOutcome::Duplicate(existing));
        }

        let new = NewMessage {
            id: self.ids.message_id(),
            conversation_id: conversation.id,
            sender_id: sender.user_id.clone(),
            content: request.content,
            client_msg_id: request.client_msg_id,
            created_at: self.clock.now(),
        };

        // Store and publish under the conversation's ordering lock so this
        // node publishes in seq order.
        let _order = self.ordering.lock(conversation.id).await;
        let message = match self.messages.append(new).await {
            Ok(Appended::Stored(message)) => message,
            Ok(Appended::Duplicate(message)) => return Ok(SendOutcome::Duplicate(message)),
            Err(AppendError::ConversationClosed) => return Err(SendMessageError::Closed),
            Err(AppendError::ConversationMissing) => return Err(SendMessageError::NotFound),
            Err(AppendError::Storage(e)) => return Err(SendMessageError::Unavailable(e.into())),
        };
        let event = ChatEvent::MessageStored {
            at: message.created_at,
            message: message.clone(),
        };
        let published = super::publish_best_effort(
            &self.broker,
            Envelope::new(conversation.participants(), event),
        )
        .await;
        Ok(SendOutcome::Stored { message, published })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{BrokerError, RepositoryError};
    use crate::test_support::*;
    use mockall::predicate::*;

    fn request(conv: &qc_domain::Conversation, cmid: Option<&str>) -> SendMessageRequest {
        SendMessageRequest {
            conversation_id: conv.id,
            content: MessageContent::new("Hello, I need help with my order.").unwrap(),
            client_msg_id: cmid.map(|c| ClientMsgId::new(c).unwrap()),
        }
    }

    #[tokio::test]
    async fn stores_then_publishes_to_every_participant() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_append()
            .times(1)
            .returning(|new| Ok(Appended::Stored(Message::stored(new, 1))));
        let expected_recipients = vec![client().user_id, agent().user_id];
        f.broker
            .expect_publish()
            .withf(move |env| {
                env.recipients == expected_recipients
                    && matches!(&env.event, ChatEvent::MessageStored { message, .. } if message.seq == 1)
            })
            .times(1)
            .returning(|_| Ok(()));
        let uc = f.send_message();
        let out = uc.execute(&client(), request(&conv, None)).await.unwrap();
        match out {
            SendOutcome::Stored { message, published } => {
                assert!(published);
                assert_eq!(
                    message.sender_id,
                    client().user_id,
                    "sender comes from the identity"
                );
                assert_eq!(message.content, "Hello, I need help with my order.");
                assert_eq!(message.created_at, fixed_now());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn storage_failure_publishes_nothing() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages.expect_append().times(1).returning(|_| {
            Err(AppendError::Storage(RepositoryError(anyhow::anyhow!(
                "disk full"
            ))))
        });
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&client(), request(&conv, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::Unavailable(_)));
    }

    #[tokio::test]
    async fn non_participant_stores_nothing() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages.expect_append().times(0);
        f.messages.expect_find_by_client_msg_id().times(0);
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&stranger(), request(&conv, Some("x")))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::NotFound));
    }

    #[tokio::test]
    async fn missing_conversation_is_not_found() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.conversations.expect_find().returning(|_| Ok(None));
        f.messages.expect_append().times(0);
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&client(), request(&conv, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::NotFound));
    }

    #[tokio::test]
    async fn closed_conversation_stores_nothing() {
        let mut conv = assigned_conversation();
        conv.close(fixed_now());
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages.expect_append().times(0);
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&agent(), request(&conv, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::Closed));
    }

    #[tokio::test]
    async fn closed_between_lookup_and_store_is_closed() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_append()
            .times(1)
            .returning(|_| Err(AppendError::ConversationClosed));
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&client(), request(&conv, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::Closed));
    }

    #[tokio::test]
    async fn retry_with_known_client_msg_id_returns_original_without_storing() {
        let conv = assigned_conversation();
        let original = stored_message(&conv, 7, Some("c-1"));
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        let o = original.clone();
        f.messages
            .expect_find_by_client_msg_id()
            .with(
                eq(conv.id),
                eq(client().user_id),
                eq(ClientMsgId::new("c-1").unwrap()),
            )
            .times(1)
            .returning(move |_, _, _| Ok(Some(o.clone())));
        f.messages.expect_append().times(0);
        f.broker.expect_publish().times(0);
        let out = f
            .send_message()
            .execute(&client(), request(&conv, Some("c-1")))
            .await
            .unwrap();
        assert_eq!(out, SendOutcome::Duplicate(original));
    }

    #[tokio::test]
    async fn duplicate_detected_by_the_store_is_not_published() {
        let conv = assigned_conversation();
        let original = stored_message(&conv, 3, Some("c-1"));
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_find_by_client_msg_id()
            .returning(|_, _, _| Ok(None));
        let o = original.clone();
        f.messages
            .expect_append()
            .times(1)
            .returning(move |_| Ok(Appended::Duplicate(o.clone())));
        f.broker.expect_publish().times(0);
        let out = f
            .send_message()
            .execute(&client(), request(&conv, Some("c-1")))
            .await
            .unwrap();
        assert_eq!(out, SendOutcome::Duplicate(original));
    }

    #[tokio::test]
    async fn broker_down_still_stores_and_reports_unpublished() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.messages
            .expect_append()
            .times(1)
            .returning(|new| Ok(Appended::Stored(Message::stored(new, 1))));
        f.broker
            .expect_publish()
            .times(1)
            .returning(|_| Err(BrokerError(anyhow::anyhow!("redis down"))));
        let out = f
            .send_message()
            .execute(&client(), request(&conv, None))
            .await
            .unwrap();
        assert!(matches!(
            out,
            SendOutcome::Stored {
                published: false,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn lookup_failure_is_unavailable() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.conversations
            .expect_find()
            .returning(|_| Err(RepositoryError(anyhow::anyhow!("db down"))));
        f.messages.expect_append().times(0);
        f.broker.expect_publish().times(0);
        let err = f
            .send_message()
            .execute(&client(), request(&conv, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendMessageError::Unavailable(_)));
    }
}
