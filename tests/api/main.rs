//! One integration-test binary (one link) for every black-box test.

mod auth;
mod bad_input;
mod chat;
mod helpers;
mod http_api;
mod lifecycle;
mod slow_consumer;
