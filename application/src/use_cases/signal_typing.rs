//! Typing indicators: authorize, then publish to the other participants only.
//! Never stored.

use std::sync::Arc;

use qc_domain::{ChatEvent, ConversationError, ConversationId, Identity, TypingKind};

use super::ParticipantError;
use crate::access::ConversationAccess;
use crate::ports::{Broker, Clock, Envelope};

/// Authorized from the node's [`ConversationAccess`] cache: a typing frame
/// normally touches no database.
pub struct SignalTyping {
    pub access: Arc<ConversationAccess>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
}

impl SignalTyping {
    /// A typing signal the sender sent.
    ///
    /// # Errors
    /// `NotFound` (missing or not a participant), `Closed`, `Unavailable`.
    pub async fn execute(
        &self,
        sender: &Identity,
        conversation_id: ConversationId,
        kind: TypingKind,
    ) -> Result<(), ParticipantError> {
        self.signal(sender, conversation_id, kind, true).await
    }

    /// `typing_stopped` sent by the server for a connection that stopped
    /// typing implicitly (it sent a text, or it went away). Also into a
    /// closed conversation, so no indicator is left on.
    ///
    /// # Errors
    /// As [`SignalTyping::execute`], never `Closed`.
    pub async fn stop_on_behalf(
        &self,
        sender: &Identity,
        conversation_id: ConversationId,
    ) -> Result<(), ParticipantError> {
        self.signal(sender, conversation_id, TypingKind::Stopped, false)
            .await
    }

    async fn signal(
        &self,
        sender: &Identity,
        conversation_id: ConversationId,
        kind: TypingKind,
        must_be_open: bool,
    ) -> Result<(), ParticipantError> {
        let conversation = self
            .access
            .get(conversation_id)
            .await
            .map_err(|e| ParticipantError::Unavailable(e.into()))?
            .ok_or(ParticipantError::NotFound)?;
        let user = sender.user();
        match conversation.ensure_can_send(&user) {
            Ok(()) => {}
            Err(ConversationError::Closed) if !must_be_open => {}
            Err(ConversationError::Closed) => return Err(ParticipantError::Closed),
            Err(_) => return Err(ParticipantError::NotFound),
        }
        let event = ChatEvent::Typing {
            conversation_id,
            sender_id: sender.user_id().clone(),
            kind,
            at: self.clock.now(),
        };
        super::publish_best_effort(
            &self.broker,
            Envelope::new(conversation.others(&user), event),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn typing_goes_to_the_other_participants_only() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![agent().user()]
                    && matches!(&env.event, ChatEvent::Typing { kind: TypingKind::Started, sender_id, .. } if *sender_id == client().user_id().clone())
            })
            .times(1)
            .returning(|_| Ok(()));
        f.signal_typing()
            .execute(&client(), conv.id(), TypingKind::Started)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn nobody_else_means_nothing_published() {
        let conv = open_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.broker.expect_publish().times(0);
        f.signal_typing()
            .execute(&client(), conv.id(), TypingKind::Started)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn strangers_and_closed_conversations_are_refused() {
        let mut conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.broker.expect_publish().times(0);
        let err = f
            .signal_typing()
            .execute(&stranger(), conv.id(), TypingKind::Started)
            .await;
        assert!(matches!(err, Err(ParticipantError::NotFound)));

        conv.close(&client().user(), fixed_now()).unwrap();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.broker.expect_publish().times(0);
        let err = f
            .signal_typing()
            .execute(&client(), conv.id(), TypingKind::Stopped)
            .await;
        assert!(matches!(err, Err(ParticipantError::Closed)));
    }

    #[tokio::test]
    async fn stop_on_behalf_reaches_a_closed_conversation() {
        let mut conv = assigned_conversation();
        conv.close(&client().user(), fixed_now()).unwrap();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.broker
            .expect_publish()
            .withf(|env| {
                matches!(
                    &env.event,
                    ChatEvent::Typing {
                        kind: TypingKind::Stopped,
                        ..
                    }
                )
            })
            .times(1)
            .returning(|_| Ok(()));
        f.signal_typing()
            .stop_on_behalf(&agent(), conv.id())
            .await
            .unwrap();
    }
}
