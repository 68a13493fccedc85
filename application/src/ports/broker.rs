//! Pub/sub: how events reach every connection of every recipient, on every node.
//!
//! Delivery is addressed to users, not connections: a user's connections
//! (tabs, devices, nodes) each subscribe with their own [`EventSink`].

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use qc_domain::{ChatEvent, UserId};

/// An event and who receives it.
#[derive(Debug)]
pub struct Envelope {
    pub recipients: Vec<UserId>,
    pub event: ChatEvent,
    /// The wire form, rendered once by the first sink that needs it and then
    /// shared by every other recipient on this node (a message to N
    /// connections is serialized once, not N times).
    rendered: OnceLock<Arc<str>>,
}

impl Envelope {
    pub fn new(recipients: Vec<UserId>, event: ChatEvent) -> Self {
        Self {
            recipients,
            event,
            rendered: OnceLock::new(),
        }
    }

    /// The rendered form, computing it with `render` the first time.
    pub fn rendered_with(&self, render: impl FnOnce(&ChatEvent) -> Arc<str>) -> Arc<str> {
        self.rendered.get_or_init(|| render(&self.event)).clone()
    }
}

impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.recipients == other.recipients && self.event == other.event
    }
}

/// Where a subscriber receives events. Called on the publisher's task, so it
/// MUST NOT block or await: queue and return.
pub trait EventSink: Send + Sync {
    fn deliver(&self, envelope: &Arc<Envelope>);
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    _guard: Box<dyn Send + Sync>,
}

impl Subscription {
    /// `guard` unsubscribes when dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("broker unavailable: {0}")]
pub struct BrokerError(#[from] pub anyhow::Error);

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Broker: Send + Sync {
    /// Delivers `envelope` to every connection of each recipient.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the event could not be handed to the
    /// transport; local deliveries made before the failure stand.
    async fn publish(&self, envelope: Arc<Envelope>) -> Result<(), BrokerError>;

    /// Starts delivering `user`'s events to `sink` until the returned
    /// subscription is dropped.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the transport cannot subscribe.
    async fn subscribe(
        &self,
        user: &UserId,
        sink: Arc<dyn EventSink>,
    ) -> Result<Subscription, BrokerError>;

    /// Readiness probe.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the transport is unreachable.
    async fn health(&self) -> Result<(), BrokerError>;
}
