//! Automatic assignment (`QC_ROUTING=auto`, CONTRACT §5): the queue
//! empties itself into the agents who are online, within their capacity.
//!
//! Who takes what is the domain's [`RoutingRule`] (replaceable at
//! bootstrap); this is when and how it runs. A decision is one transaction
//! under the database's routing lock ([`ConversationRepository::route`]),
//! so decisions on every node run one at a time and none is half-applied.
//! Each node runs one when something may let a waiting conversation go to
//! someone (a conversation opened, an agent came online or back from away,
//! a close or a transfer freed a place; [`Router::kick`]), and once a
//! second whatever happened, which covers what another node saw: a queued
//! conversation never waits more than about a second while someone
//! qualifies.

use std::sync::{Arc, Weak};
use std::time::Duration;

use qc_domain::{ChatEvent, PresenceStatus, RoutingRule, User};
use tokio::sync::Notify;

use crate::ports::{
    AgentRepository, Broker, Clock, ConversationRepository, Envelope, PresenceStore,
    RepositoryError, Routed,
};

/// How often a node decides even when nothing told it to.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("routing unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<RepositoryError> for RoutingError {
    fn from(e: RepositoryError) -> Self {
        Self::Unavailable(e.into())
    }
}

/// What routing needs from the world.
#[derive(Clone)]
pub struct RouterPorts {
    pub conversations: Arc<dyn ConversationRepository>,
    pub agents: Arc<dyn AgentRepository>,
    pub presence: Arc<dyn PresenceStore>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
}

pub struct Router {
    ports: RouterPorts,
    rule: Arc<dyn RoutingRule>,
    capacity: u32,
    kick: Notify,
    /// One decision at a time on this node (the database serializes
    /// nodes): a kick during a decision runs one more after it.
    deciding: tokio::sync::Mutex<()>,
}

impl Router {
    /// Starts the node's routing task.
    pub fn start(ports: RouterPorts, rule: Arc<dyn RoutingRule>, capacity: u32) -> Arc<Self> {
        let router = Arc::new(Self {
            ports,
            rule,
            capacity,
            kick: Notify::new(),
            deciding: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(run(Arc::downgrade(&router)));
        router
    }

    /// Something may let a waiting conversation go to someone: decide soon.
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    /// Decides now and returns what was assigned (the caller of
    /// `POST /conversations` answers with its assignment).
    ///
    /// # Errors
    /// When the database or the presence store cannot be read.
    pub async fn route_now(&self) -> Result<Vec<Routed>, RoutingError> {
        let _one = self.deciding.lock().await;
        self.decide().await
    }

    async fn decide(&self) -> Result<Vec<Routed>, RoutingError> {
        let agents = self.ports.agents.list().await?;
        let available: Vec<User> = agents
            .into_iter()
            .filter(|a| !a.away)
            .map(|a| User::agent(a.id))
            .collect();
        let connected = self
            .ports
            .presence
            .connected(&available)
            .await
            .map_err(|e| RoutingError::Unavailable(e.into()))?;
        let online: Vec<_> = available
            .into_iter()
            .zip(connected)
            .filter_map(|(u, c)| c.then(|| u.id().clone()))
            .collect();
        let outcome = self
            .ports
            .conversations
            .route(&online, self.capacity, self.rule.clone())
            .await?;
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("qc_queue_length").set(outcome.waiting as f64);
        let oldest = outcome.oldest_waiting.map_or(0.0, |t| {
            (self.ports.clock.now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("qc_queue_oldest_wait_seconds").set(oldest);
        let routed = outcome.routed;
        for r in &routed {
            metrics::counter!("qc_assignments_total", "agent" => r.agent.to_string()).increment(1);
            tracing::debug!(conversation = %r.conversation, agent = ?r.agent.as_str(), "assigned by routing");
            let customer = User::customer(r.customer.clone());
            let agent = User::agent(r.agent.clone());
            let assigned = ChatEvent::ConversationAssigned {
                conversation_id: r.conversation,
                support_id: Some(r.agent.clone()),
                previous_support_id: None,
                last_seq: None,
                at: self.ports.clock.now(),
            };
            crate::use_cases::publish_best_effort(
                &self.ports.broker,
                Envelope::with_all_agents(vec![customer.clone(), agent.clone()], assigned),
            )
            .await;
            // The customer learns who joined, and that they are online
            // (routing picks only online agents).
            let presence = ChatEvent::Presence {
                user: agent,
                status: PresenceStatus::Online,
                at: self.ports.clock.now(),
            };
            crate::use_cases::publish_best_effort(
                &self.ports.broker,
                Envelope::new(vec![customer], presence),
            )
            .await;
        }
        Ok(routed)
    }
}

async fn run(router: Weak<Router>) {
    loop {
        let Some(me) = router.upgrade() else { return };
        {
            let _ = tokio::time::timeout(SWEEP_EVERY, me.kick.notified()).await;
            let _one = me.deciding.lock().await;
            if let Err(e) = me.decide().await {
                tracing::warn!(error = %e, "automatic assignment failed this time; retrying");
            }
        }
        drop(me);
    }
}
