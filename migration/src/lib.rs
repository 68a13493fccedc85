//! Database migrations, applied at start and by `quickconnect migrate`.
//! One migration per file, named `mYYYYMMDD_NNNNNN_what.rs`.

pub use sea_orm_migration::prelude::*;

mod m20251118_000001_create_conversations;
mod m20251118_000002_create_messages;
mod m20261201_000003_message_sender_side;
mod m20261201_000004_desk;
mod m20261201_000005_webhook_outbox;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20251118_000001_create_conversations::Migration),
            Box::new(m20251118_000002_create_messages::Migration),
            Box::new(m20261201_000003_message_sender_side::Migration),
            Box::new(m20261201_000004_desk::Migration),
            Box::new(m20261201_000005_webhook_outbox::Migration),
        ]
    }
}
