//! The announcer: works out a user's presence and who hears of it (the
//! agents, the customers they serve), and publishes it on the broker.

use std::sync::{Arc, OnceLock};

use qc_domain::{ChatEvent, PresenceStatus, Side, User};

use super::{Hook, PresenceError, PresencePorts};
use crate::ports::Envelope;

/// Works out a user's status and who hears of it, and publishes.
pub(super) struct Announcer {
    pub(super) ports: PresencePorts,
    pub(super) available: Arc<OnceLock<Hook>>,
}

impl Announcer {
    /// Whether some live node holds `user`.
    pub(super) async fn is_connected(&self, user: &User) -> Result<bool, PresenceError> {
        Ok(self
            .ports
            .store
            .connected(std::slice::from_ref(user))
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// Tells `to` the presence of `user` now. Best effort: logged when it
    /// cannot be read.
    pub(super) async fn tell(&self, to: User, user: User) {
        match self.status_of(&user, None).await {
            Ok(status) => {
                let event = ChatEvent::Presence {
                    user,
                    status,
                    at: self.ports.clock.now(),
                };
                crate::use_cases::publish_best_effort(
                    &self.ports.broker,
                    Envelope::new(vec![to], event),
                )
                .await;
            }
            Err(e) => tracing::warn!(error = %e, "a presence not told"),
        }
    }

    /// `connected`: when already known; else asked of the store.
    async fn status_of(
        &self,
        user: &User,
        connected: Option<bool>,
    ) -> Result<PresenceStatus, PresenceError> {
        let connected = match connected {
            Some(c) => c,
            None => self.is_connected(user).await?,
        };
        if !connected {
            return Ok(PresenceStatus::Offline);
        }
        let away = match user.side() {
            Side::Agent => self
                .ports
                .agents
                .find(user.id())
                .await?
                .is_some_and(|a| a.away),
            Side::Customer => false,
        };
        Ok(PresenceStatus::of(true, away))
    }

    /// An agent's change: every agent, and the customers the agent serves.
    /// A customer's: the agents serving them.
    pub(super) async fn announce(&self, user: &User, status: PresenceStatus) {
        let recipients = match user.side() {
            Side::Agent => self
                .ports
                .conversations
                .customers_served_by(user.id())
                .await
                .map(|c| c.into_iter().map(User::customer).collect::<Vec<_>>()),
            Side::Customer => self
                .ports
                .conversations
                .agents_serving(user.id())
                .await
                .map(|a| a.into_iter().map(User::agent).collect::<Vec<_>>()),
        };
        let recipients = match recipients {
            Ok(r) => r,
            Err(e) => {
                // Every agent still hears of an agent's change (that needs
                // no lookup); the customers it serves learn it on their next
                // connection.
                tracing::warn!(error = %e, "presence change not told to the conversations' other side");
                if user.side() == Side::Customer {
                    return;
                }
                Vec::new()
            }
        };
        let event = ChatEvent::Presence {
            user: user.clone(),
            status,
            at: self.ports.clock.now(),
        };
        let envelope = match user.side() {
            Side::Agent => Envelope::with_all_agents(recipients, event),
            Side::Customer => Envelope::new(recipients, event),
        };
        crate::use_cases::publish_best_effort(&self.ports.broker, envelope).await;
    }

    pub(super) async fn came_online(&self, user: &User) {
        match self.status_of(user, Some(true)).await {
            Ok(status) => {
                self.announce(user, status).await;
                if status == PresenceStatus::Online
                    && let Some(hook) = self.available.get()
                {
                    hook();
                }
            }
            Err(e) => tracing::warn!(error = %e, "presence change not announced"),
        }
    }

    /// A customer's connection arrived here: the agents serving them are
    /// read once, told (when the customer just came `online`), and their
    /// presence is sent to the customer's connections (what a new one
    /// missed). On the presence task, not on the connection's path: a
    /// storm of connections queues here instead of crowding the database.
    pub(super) async fn customer_arrived(&self, customer: &User, online: bool) {
        let agents = match self.ports.conversations.agents_serving(customer.id()).await {
            Ok(agents) => agents,
            Err(e) => {
                tracing::warn!(error = %e, "a customer's agents could not be read for presence");
                return;
            }
        };
        if agents.is_empty() {
            return;
        }
        if online {
            let event = ChatEvent::Presence {
                user: customer.clone(),
                status: PresenceStatus::Online,
                at: self.ports.clock.now(),
            };
            let to = agents.iter().cloned().map(User::agent).collect();
            crate::use_cases::publish_best_effort(&self.ports.broker, Envelope::new(to, event))
                .await;
        }
        for agent in agents {
            self.tell(customer.clone(), User::agent(agent)).await;
        }
    }
}
