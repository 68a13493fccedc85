//! The assigned agent hands a conversation to another agent, or back to
//! the queue. One conditional update in the database: the previous agent
//! stops being a participant at that moment (texts stored after it go to
//! the new agent only), and a transfer racing a close or another transfer
//! either happens whole or not at all.

use std::sync::Arc;

use qc_domain::{
    ChatEvent, Conversation, ConversationError, ConversationId, Identity, TransferOutcome, UserId,
};

use crate::ports::{
    AgentRepository, Broker, Clock, ConversationRepository, Envelope, MessageRepository,
};

#[derive(Debug, thiserror::Error)]
pub enum TransferConversationError {
    #[error("only support agents transfer conversations")]
    Forbidden,
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    /// `to` names no agent the desk has seen.
    #[error("no such agent")]
    UnknownAgent,
    /// In automatic routing, the target holds the most open conversations
    /// allowed.
    #[error("the agent is at capacity")]
    AtCapacity,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<ConversationError> for TransferConversationError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::Forbidden(_) => Self::Forbidden,
            ConversationError::Closed => Self::Closed,
            ConversationError::NotFound | ConversationError::AlreadyAssigned => Self::NotFound,
        }
    }
}

pub struct TransferConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    /// For the publish turn after the texts stored before the transfer.
    pub messages: Arc<dyn MessageRepository>,
    /// Whether the target is an agent the desk knows.
    pub agents: Arc<dyn AgentRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    /// `Some(QC_AGENT_CAPACITY)` in automatic routing: a full target is
    /// refused.
    pub capacity: Option<u32>,
    /// In automatic routing, told when a conversation came back to the
    /// queue or freed a place (it may go to someone now).
    pub on_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl TransferConversation {
    /// Hands conversation `id` from `by` (its assigned agent) to `to`
    /// (`None`: the queue). Checked in this order: the role (403), the
    /// caller holds it (404), it is open (409), the target is a known
    /// agent (400). Returns the conversation as it is after the call.
    ///
    /// # Errors
    /// See [`TransferConversationError`]; on any error nothing changed.
    pub async fn execute(
        &self,
        by: &Identity,
        id: ConversationId,
        to: Option<UserId>,
    ) -> Result<Conversation, TransferConversationError> {
        if by.role.is_customer() {
            return Err(TransferConversationError::Forbidden);
        }
        let unavailable =
            |e: crate::ports::RepositoryError| TransferConversationError::Unavailable(e.into());
        let mut conversation = self
            .conversations
            .find(id)
            .await
            .map_err(unavailable)?
            .ok_or(TransferConversationError::NotFound)?;
        if conversation.check_transfer(by, to.as_ref())? == TransferOutcome::Unchanged {
            return Ok(conversation);
        }
        if let Some(agent) = &to
            && self
                .agents
                .find(agent)
                .await
                .map_err(unavailable)?
                .is_none()
        {
            return Err(TransferConversationError::UnknownAgent);
        }
        let moved = self
            .conversations
            .try_transfer(id, &by.user_id, to.clone(), self.capacity)
            .await
            .map_err(unavailable)?;
        let last_seq = match moved {
            crate::ports::Transfer::Moved { last_seq } => last_seq,
            crate::ports::Transfer::AtCapacity => {
                return Err(TransferConversationError::AtCapacity);
            }
            crate::ports::Transfer::Lost => {
                // Closed, or moved by someone else, since we read it: answer as
                // the conversation is now.
                let now = self
                    .conversations
                    .find(id)
                    .await
                    .map_err(unavailable)?
                    .ok_or(TransferConversationError::NotFound)?;
                now.check_transfer(by, to.as_ref())?;
                return Err(TransferConversationError::NotFound);
            }
        };
        let previous = conversation.participants();
        conversation.hand_to(to.clone());
        let mut recipients = previous;
        recipients.extend(conversation.agent());
        let event = ChatEvent::ConversationAssigned {
            conversation_id: id,
            support_id: to,
            previous_support_id: Some(by.user_id.clone()),
            last_seq: Some(last_seq),
            at: self.clock.now(),
        };
        // The previous agent's typing indicator, if on, is theirs no more:
        // they can no longer switch it off themselves.
        let stopped = ChatEvent::Typing {
            conversation_id: id,
            sender_id: by.user_id.clone(),
            kind: qc_domain::TypingKind::Stopped,
            at: self.clock.now(),
        };
        // To the customer, both agents, and every agent's queue (it may
        // have come back to it); after the texts stored before the
        // transfer are published: the previous agent gets them, then this,
        // then nothing more. On a task of its own: the change is stored,
        // so its events go out even if the caller goes away meanwhile.
        let messages = self.messages.clone();
        let broker = self.broker.clone();
        let customer = conversation.customer();
        let publishing = tokio::spawn(async move {
            let mut turn = messages.settled(id).await;
            turn.wait().await;
            super::publish_best_effort(&broker, Envelope::with_all_agents(recipients, event)).await;
            drop(turn);
            super::publish_best_effort(&broker, Envelope::new(vec![customer], stopped)).await;
        });
        let _ = publishing.await;
        if let Some(on_change) = &self.on_change {
            on_change();
        }
        Ok(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::agent_repository::MockAgentRepository;
    use crate::test_support::*;

    fn known_agents() -> MockAgentRepository {
        let mut agents = MockAgentRepository::new();
        agents.expect_find().returning(|id| {
            Ok(Some(crate::ports::AgentRecord {
                id: id.clone(),
                away: false,
                open_conversations: 0,
            }))
        });
        agents
    }

    #[tokio::test]
    async fn an_unknown_target_is_refused_after_the_callers_own_checks() {
        let conv = assigned_conversation();
        let mut closed = conv.clone();
        closed.close(fixed_now());
        for (c, by, expected) in [
            (conv.clone(), agent(), "unknown"),
            (conv.clone(), other_agent(), "not found"),
            (closed, agent(), "closed"),
        ] {
            let mut f = Fixture::new();
            f.find_returns(c.clone());
            f.conversations.expect_try_transfer().times(0);
            f.broker.expect_publish().times(0);
            let mut agents = MockAgentRepository::new();
            agents.expect_find().returning(|_| Ok(None));
            let uc = TransferConversation {
                conversations: Arc::new(f.conversations),
                messages: Arc::new(f.messages),
                agents: Arc::new(agents),
                broker: Arc::new(f.broker),
                clock: Arc::new(f.clock),
                capacity: None,
                on_change: None,
            };
            let err = uc
                .execute(&by, c.id, Some(UserId::new("nobody").unwrap()))
                .await
                .unwrap_err();
            let got = match err {
                TransferConversationError::UnknownAgent => "unknown",
                TransferConversationError::NotFound => "not found",
                TransferConversationError::Closed => "closed",
                other => panic!("{other:?}"),
            };
            assert_eq!(got, expected);
        }
    }

    #[tokio::test]
    async fn a_transfer_moves_the_conversation_and_tells_everyone_concerned() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_transfer()
            .withf(|_, from, to, _| *from == agent().user_id && *to == Some(other_agent().user_id))
            .times(1)
            .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.all_agents
                    && env.recipients == vec![client().user(), agent().user(), other_agent().user()]
                    && matches!(&env.event, ChatEvent::ConversationAssigned { support_id, previous_support_id, .. }
                        if *support_id == Some(other_agent().user_id) && *previous_support_id == Some(agent().user_id))
            })
            .times(1)
            .returning(|_| Ok(()));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![client().user()]
                    && matches!(&env.event, ChatEvent::Typing { sender_id, kind: qc_domain::TypingKind::Stopped, .. } if *sender_id == agent().user_id)
            })
            .times(1)
            .returning(|_| Ok(()));
        let c = f
            .transfer_conversation()
            .execute(&agent(), conv.id, Some(other_agent().user_id))
            .await
            .unwrap();
        assert_eq!(c.support_id, Some(other_agent().user_id));
    }

    #[tokio::test]
    async fn the_event_waits_for_the_texts_stored_before_the_transfer() {
        let conv = assigned_conversation();
        let (release_text, text_published) = tokio::sync::oneshot::channel::<()>();
        let (done, _next) = tokio::sync::oneshot::channel();
        let mut turn = Some(crate::ports::PublishTurn::new(Some(text_published), done));
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_transfer()
            .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
        f.messages
            .expect_settled()
            .times(1)
            .returning(move |_| turn.take().unwrap());
        let published = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let p = published.clone();
        f.broker.expect_publish().times(2).returning(move |_| {
            p.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let uc = TransferConversation {
            conversations: Arc::new(f.conversations),
            messages: Arc::new(f.messages),
            agents: Arc::new(known_agents()),
            broker: Arc::new(f.broker),
            clock: Arc::new(f.clock),
            capacity: None,
            on_change: None,
        };
        let transferring = tokio::spawn(async move { uc.execute(&agent(), conv.id, None).await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!published.load(std::sync::atomic::Ordering::SeqCst));
        drop(release_text);
        transferring.await.unwrap().unwrap();
        assert!(published.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn back_to_the_queue() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_transfer()
            .withf(|_, _, to, _| to.is_none())
            .times(1)
            .returning(|_, _, _, _| Ok(crate::ports::Transfer::Moved { last_seq: 3 }));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.all_agents
                    && env.recipients == vec![client().user(), agent().user()]
                    && matches!(
                        &env.event,
                        ChatEvent::ConversationAssigned {
                            support_id: None,
                            ..
                        }
                    )
            })
            .times(1)
            .returning(|_| Ok(()));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![client().user()]
                    && matches!(&env.event, ChatEvent::Typing { sender_id, kind: qc_domain::TypingKind::Stopped, .. } if *sender_id == agent().user_id)
            })
            .times(1)
            .returning(|_| Ok(()));
        let c = f
            .transfer_conversation()
            .execute(&agent(), conv.id, None)
            .await
            .unwrap();
        assert_eq!(c.support_id, None);
    }

    #[tokio::test]
    async fn to_oneself_changes_and_publishes_nothing() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_transfer().times(0);
        f.broker.expect_publish().times(0);
        let c = f
            .transfer_conversation()
            .execute(&agent(), conv.id, Some(agent().user_id))
            .await
            .unwrap();
        assert_eq!(c, conv);
    }

    #[tokio::test]
    async fn only_the_assigned_agent_transfers_and_customers_are_forbidden() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_transfer().times(0);
        f.broker.expect_publish().times(0);
        let uc = f.transfer_conversation();
        assert!(matches!(
            uc.execute(&other_agent(), conv.id, None).await,
            Err(TransferConversationError::NotFound)
        ));
        assert!(matches!(
            uc.execute(&client(), conv.id, None).await,
            Err(TransferConversationError::Forbidden)
        ));
    }

    #[tokio::test]
    async fn losing_a_race_to_a_close_is_closed_and_publishes_nothing() {
        let conv = assigned_conversation();
        let mut closed = conv.clone();
        closed.close(fixed_now());
        let mut f = Fixture::new();
        let mut calls = 0;
        f.conversations.expect_find().times(2).returning(move |_| {
            calls += 1;
            Ok(Some(if calls == 1 {
                conv.clone()
            } else {
                closed.clone()
            }))
        });
        f.conversations
            .expect_try_transfer()
            .times(1)
            .returning(|_, _, _, _| Ok(crate::ports::Transfer::Lost));
        f.broker.expect_publish().times(0);
        let err = f
            .transfer_conversation()
            .execute(
                &agent(),
                "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap(),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TransferConversationError::Closed));
    }
}
