//! One integration-test binary (one link) for every black-box test.

mod asyncapi;
mod auth;
mod bad_input;
mod chat;
mod desk;
mod desk_nodes;
mod extensions;
mod helpers;
mod http_api;
mod identity;
mod idp_tokens;
mod lifecycle;
mod limits;
mod multinode;
mod outage;
mod protocol_errors;
mod routing;
mod slow_consumer;
mod support_desk;
mod timeouts;
mod tls;
mod webhooks;
mod wire_vocabulary;
