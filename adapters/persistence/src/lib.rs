//! sea-orm persistence for SQLite (default, a file in WAL mode) and
//! PostgreSQL, through one code path. Entities stay private to this crate:
//! nothing outside sees a `Model` or a `DbErr`.

mod agents;
mod connect;
mod conversations;
mod entities;
mod messages;
mod outbox;
mod routing;
mod sql;
mod views;
mod writer;

pub use agents::SeaOrmAgentRepository;
pub use connect::{Database, connect, create_postgres_database, migrate};
pub use conversations::SeaOrmConversationRepository;
pub use messages::SeaOrmMessageRepository;
pub use outbox::SeaOrmOutbox;

#[cfg(test)]
mod tests;
