//! Who is connected, across every node: the port the presence tracker
//! keeps its book through.
//!
//! A node reports only its own changes: the first connection of a user on
//! this node ([`arrive`](PresenceStore::arrive)) and the last one gone
//! ([`depart`](PresenceStore::depart)). The store answers whether that
//! changed the user's presence everywhere, atomically, so of two nodes
//! that see a user arrive at once exactly one is told "now online". A node
//! holds a lease it [`renew`](PresenceStore::renew)s; what a node whose
//! lease ran out held is [`reap`](PresenceStore::reap)ed by one other node.

use async_trait::async_trait;
use qc_domain::User;

use super::broker::BrokerError;

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// This node holds `user` from now on. Returns `true` when no live node
    /// held them before: they just came online.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the store is unreachable (nothing
    /// recorded).
    async fn arrive(&self, user: &User) -> Result<bool, BrokerError>;

    /// This node holds `user` no more. Returns `true` when no live node
    /// holds them now: they just went offline.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the store is unreachable.
    async fn depart(&self, user: &User) -> Result<bool, BrokerError>;

    /// For each of `users`, whether some live node holds them.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the store is unreachable.
    async fn connected(&self, users: &[User]) -> Result<Vec<bool>, BrokerError>;

    /// Renews this node's lease. Returns `true` when it had run out (other
    /// nodes took this node's users for offline): the caller then arrives
    /// its users again.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the store is unreachable.
    async fn renew(&self) -> Result<bool, BrokerError>;

    /// Takes over what nodes whose lease ran out held, and returns the
    /// users nobody holds any more (now offline). Each such user is
    /// returned by exactly one node's call.
    ///
    /// # Errors
    /// MUST return [`BrokerError`] when the store is unreachable.
    async fn reap(&self) -> Result<Vec<User>, BrokerError>;
}
