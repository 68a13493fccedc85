//! How events reach people: [`Broker`] is what use cases publish to (every
//! connection of every recipient, on every node); [`Transport`] is only the
//! move between nodes (Redis), under the node-local hub that owns the
//! connections.
//!
//! Delivery is addressed to users, not connections: a user's connections
//! (tabs, devices, nodes) each receive what the user receives.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use qc_domain::{ChatEvent, User};

/// An event and who receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub recipients: Vec<User>,
    /// Also every agent connection on every node (the queue changed, or an
    /// agent's presence did), the listed recipients not twice.
    pub all_agents: bool,
    pub event: ChatEvent,
}

impl Envelope {
    pub fn new(recipients: Vec<User>, event: ChatEvent) -> Self {
        Self {
            recipients,
            all_agents: false,
            event,
        }
    }

    /// To `recipients` and to every agent.
    pub fn with_all_agents(recipients: Vec<User>, event: ChatEvent) -> Self {
        Self {
            recipients,
            all_agents: true,
            event,
        }
    }

    /// Whether anyone at all receives it.
    pub fn is_addressed(&self) -> bool {
        self.all_agents || !self.recipients.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("broker unavailable: {0}")]
pub struct BrokerError(#[from] pub anyhow::Error);

/// What use cases publish to.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Broker: Send + Sync {
    /// Delivers `envelope` to every connection of each recipient, on this
    /// node at once and on the others through the transport.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the event could not be delivered at
    /// all; local deliveries made before a transport failure stand.
    async fn publish(&self, envelope: Arc<Envelope>) -> Result<(), BrokerError>;

    /// Readiness probe.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the transport is unreachable.
    async fn health(&self) -> Result<(), BrokerError>;
}

/// Where a transport hands the events other nodes published for users this
/// node holds. Called on the transport's task: MUST NOT block or await.
pub trait RemoteEvents: Send + Sync {
    fn deliver(&self, envelope: Arc<Envelope>);
}

/// Resolves once a [`Transport::watch`] is in effect (events for the user
/// published from then on reach this node), or the transport gave up
/// waiting.
pub type Watched = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Moves events between nodes. One node needs none.
///
/// Interest is per user: a node [`watch`](Transport::watch)es the users it
/// holds a connection of, and receives only events addressed to them, so
/// adding nodes does not multiply every node's work.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Starts handing received events to `inbound`. Called once, before any
    /// `watch`.
    fn attach(&self, inbound: Arc<dyn RemoteEvents>);

    /// Sends `envelope` towards the other nodes that hold a recipient. MUST
    /// NOT wait for the network: it queues and returns, so a caller holding
    /// a per-conversation lock holds it for no round trip.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the event cannot even be queued.
    fn publish(&self, envelope: &Arc<Envelope>) -> Result<(), BrokerError>;

    /// This node holds a connection of `user` from now on (first one).
    /// Takes effect in call order with `unwatch` (called under the hub's
    /// lock for that user); the returned future says when it is in effect.
    fn watch(&self, user: &User) -> Watched;

    /// This node holds no connection of `user` any more (last one gone).
    fn unwatch(&self, user: &User);

    /// Readiness probe.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the transport is unreachable.
    async fn health(&self) -> Result<(), BrokerError>;
}
