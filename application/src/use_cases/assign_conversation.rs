//! A support agent claims an open, unassigned conversation. Atomic: of two
//! agents claiming at once, exactly one wins.

use std::sync::Arc;

use qc_domain::{
    AssignOutcome, ChatEvent, Conversation, ConversationError, ConversationId, Identity,
};

use crate::ports::{Broker, Clock, ConversationRepository, Envelope};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignResult {
    /// This call assigned it.
    Assigned(Conversation),
    /// The caller held it already; nothing changed.
    AlreadyMine(Conversation),
}

impl AssignResult {
    pub fn conversation(&self) -> &Conversation {
        match self {
            Self::Assigned(c) | Self::AlreadyMine(c) => c,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssignConversationError {
    #[error("only support agents claim conversations")]
    Forbidden,
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    #[error("conversation is assigned to another agent")]
    AlreadyAssigned,
    /// In automatic routing, the agent holds the most open conversations
    /// allowed.
    #[error("the agent is at capacity")]
    AtCapacity,
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<ConversationError> for AssignConversationError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound => Self::NotFound,
            ConversationError::Closed => Self::Closed,
            ConversationError::AlreadyAssigned => Self::AlreadyAssigned,
            ConversationError::Forbidden(_) => Self::Forbidden,
        }
    }
}

pub struct AssignConversation {
    pub conversations: Arc<dyn ConversationRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    /// `Some(QC_AGENT_CAPACITY)` in automatic routing: claims by hand stay
    /// within it.
    pub capacity: Option<u32>,
}

impl AssignConversation {
    /// # Errors
    /// See [`AssignConversationError`].
    pub async fn execute(
        &self,
        agent: &Identity,
        id: ConversationId,
    ) -> Result<AssignResult, AssignConversationError> {
        // A role that may never claim gets 403 whatever the conversation
        // (CONTRACT §4), before anything is looked up.
        if agent.role().is_customer() {
            return Err(AssignConversationError::Forbidden);
        }
        // Whether the agent may claim it is the domain's to say.
        let mut conversation =
            super::find::<AssignConversationError>(self.conversations.as_ref(), id).await?;
        if conversation.assign(agent)? == AssignOutcome::AlreadyMine {
            return Ok(AssignResult::AlreadyMine(conversation));
        }
        let claimed = match self.capacity {
            None => self.conversations.try_assign(id, agent.user_id()).await?,
            Some(capacity) => match self
                .conversations
                .try_assign_within(id, agent.user_id(), capacity)
                .await?
            {
                crate::ports::Claim::Assigned => true,
                crate::ports::Claim::AtCapacity => {
                    return Err(AssignConversationError::AtCapacity);
                }
                crate::ports::Claim::Lost => false,
            },
        };
        if claimed {
            let event = ChatEvent::ConversationAssigned {
                conversation_id: id,
                support_id: Some(agent.user_id().clone()),
                previous_support_id: None,
                last_seq: None,
                at: self.clock.now(),
            };
            // Every agent too: the conversation left the queue.
            super::publish_best_effort(
                &self.broker,
                Envelope::with_all_agents(conversation.participants(), event),
            )
            .await;
            return Ok(AssignResult::Assigned(conversation));
        }
        // Lost a race: someone closed or claimed it since we read it.
        let now = super::find::<AssignConversationError>(self.conversations.as_ref(), id).await?;
        match now.clone().assign(agent)? {
            AssignOutcome::AlreadyMine => Ok(AssignResult::AlreadyMine(now)),
            // Still claimable yet the update matched nothing: treat as taken.
            AssignOutcome::Assigned => Err(AssignConversationError::AlreadyAssigned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn claiming_an_unassigned_conversation_tells_both_sides() {
        let conv = open_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations
            .expect_try_assign()
            .times(1)
            .returning(|_, _| Ok(true));
        f.broker
            .expect_publish()
            .withf(|env| {
                env.recipients == vec![client().user(), agent().user()]
                    && env.all_agents
                    && matches!(&env.event, ChatEvent::ConversationAssigned { support_id, previous_support_id: None, .. } if *support_id == Some(agent().user_id().clone()))
            })
            .times(1)
            .returning(|_| Ok(()));
        let r = f
            .assign_conversation()
            .execute(&agent(), conv.id())
            .await
            .unwrap();
        assert!(
            matches!(&r, AssignResult::Assigned(c) if c.support_id() == Some(agent().user_id()))
        );
    }

    #[tokio::test]
    async fn claiming_ones_own_again_changes_nothing() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_assign().times(0);
        f.broker.expect_publish().times(0);
        let r = f
            .assign_conversation()
            .execute(&agent(), conv.id())
            .await
            .unwrap();
        assert!(matches!(r, AssignResult::AlreadyMine(_)));
    }

    #[tokio::test]
    async fn another_agents_conversation_is_a_conflict() {
        let conv = assigned_conversation();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_assign().times(0);
        f.broker.expect_publish().times(0);
        let err = f
            .assign_conversation()
            .execute(&other_agent(), conv.id())
            .await
            .unwrap_err();
        assert!(matches!(err, AssignConversationError::AlreadyAssigned));
    }

    #[tokio::test]
    async fn closed_wins_over_assigned() {
        let mut conv = assigned_conversation();
        conv.close(&client().user(), fixed_now()).unwrap();
        let mut f = Fixture::new();
        f.find_returns(conv.clone());
        f.conversations.expect_try_assign().times(0);
        let err = f
            .assign_conversation()
            .execute(&other_agent(), conv.id())
            .await
            .unwrap_err();
        assert!(matches!(err, AssignConversationError::Closed));
    }

    #[tokio::test]
    async fn losing_the_race_is_a_conflict_and_publishes_nothing() {
        let conv = open_conversation();
        let mut taken = conv.clone();
        taken.assign(&other_agent()).unwrap();
        let mut f = Fixture::new();
        let mut calls = 0;
        f.conversations.expect_find().times(2).returning(move |_| {
            calls += 1;
            Ok(Some(if calls == 1 {
                conv.clone()
            } else {
                taken.clone()
            }))
        });
        f.conversations
            .expect_try_assign()
            .times(1)
            .returning(|_, _| Ok(false));
        f.broker.expect_publish().times(0);
        let err = f
            .assign_conversation()
            .execute(&agent(), "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, AssignConversationError::AlreadyAssigned));
    }

    #[tokio::test]
    async fn customers_cannot_claim_whatever_the_conversation() {
        // The owner and a stranger get the same 403, and nothing is looked
        // up: the answer says nothing about the conversation.
        let conv = open_conversation();
        for who in [client(), stranger()] {
            let mut f = Fixture::new();
            f.conversations.expect_find().times(0);
            f.conversations.expect_try_assign().times(0);
            let err = f
                .assign_conversation()
                .execute(&who, conv.id())
                .await
                .unwrap_err();
            assert!(matches!(err, AssignConversationError::Forbidden));
        }
    }
}
