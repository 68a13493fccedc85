//! Inbound adapters: the two WebSocket chat endpoints of the seed document
//! and the JSON HTTP API (poem-openapi), with authentication, error mapping
//! and the wire formats. Everything here translates; the rules live in the
//! domain and the use cases.

pub mod api;
pub mod auth;
pub mod frames;
pub mod gate;
pub mod hub;
pub mod listener;
pub mod origin;
pub mod routes;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;
pub mod web;
pub mod wire_vocabulary;
pub mod ws;

pub use auth::{Authenticator, TokenVerifier};
pub use hub::Hub;
pub use origin::AllowedOrigins;
pub use routes::{HttpDeps, build_routes};
pub use ws::{WsContext, WsLimits};
