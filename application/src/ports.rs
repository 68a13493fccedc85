//! The ports: what the use cases need from the outside world.

pub mod agent_repository;
pub mod broker;
pub mod clock;
pub mod conversation_repository;
pub mod ids;
pub mod message_repository;
pub mod outbox;
pub mod presence;

pub use agent_repository::{AgentRecord, AgentRepository};
pub use broker::{Broker, BrokerError, Envelope, RemoteEvents, Transport, Watched};
pub use clock::{Clock, SystemClock};
pub use conversation_repository::{
    Claim, ConversationFilter, ConversationPage, ConversationRepository, PageRequest,
    RepositoryError, RouteOutcome, Routed, Transfer,
};
pub use ids::{IdGenerator, UlidGenerator};
pub use message_repository::{
    AppendError, Appended, HistoryCursor, HistoryError, HistoryPage, HistoryQuery, MarkReadError,
    MessageRepository, PublishTurn,
};
pub use outbox::{Backlog, DeadEvent, DeliveryError, Outbox, OutboxEvent, WebhookSender};
pub use presence::PresenceStore;
