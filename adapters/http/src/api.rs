//! The JSON HTTP API (CONTRACT §4), described by poem-openapi so that
//! `/openapi.json` and Swagger UI at `/docs` always match the code.

mod agents;
mod caller;
mod conversations;
mod dto;
pub(crate) mod error;
mod health;
mod strict_string;
mod ulid_param;

pub use agents::AgentsApi;
pub use conversations::ConversationsApi;
pub use dto::{ConversationDto, ErrorBody, MessageDto};
pub use error::{ApiError, json_error};
pub use health::HealthApi;
pub use strict_string::StrictString;
pub use ulid_param::UlidParam;

use poem_openapi::Tags;

#[derive(Tags)]
enum ApiTags {
    /// Conversations, their history and read receipts.
    Conversations,
    /// The support team: presence and status.
    Agents,
    /// Liveness and readiness probes.
    Health,
}
