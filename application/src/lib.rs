//! Quick Connect Chat use cases and the ports they reach the world through.
//!
//! Each use case is a struct holding the ports it needs (`Arc<dyn Port>`),
//! with one request shape and one error enum. Inbound adapters call use
//! cases; outbound adapters implement ports. Mocks of every port are built
//! with the `mocks` feature (or in this crate's tests); the ports'
//! executable contracts, which an adapter runs against itself, with the
//! `testing` feature (`qc_application::testing`).

pub mod access;
pub mod json;
pub mod ports;
pub mod presence;
pub mod routing;
#[cfg(feature = "testing")]
pub mod testing;
pub mod use_cases;
pub mod webhooks;

#[cfg(test)]
mod test_support;

pub use access::ConversationAccess;
pub use presence::{AgentEntry, LocalPresenceStore, Presence, PresenceError, PresencePorts};
pub use routing::{Router, RouterPorts, RoutingError};
