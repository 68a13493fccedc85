//! The webhook outbox (CONTRACT §6): one row per event, written in the
//! transaction of the change it reports, removed once delivered.
//!
//! - `position` orders the events; a conversation's events are written
//!   while its row is locked (inserted, updated or `FOR UPDATE`), so within
//!   a conversation `position` is the order the changes committed in.
//! - Times are milliseconds since the epoch (`*_ms`): compared on every
//!   claim, the same on both databases.
//! - `body` is the exact JSON sent, except for `message.created`: that
//!   event would repeat its message (most of a text's bytes written twice,
//!   on the message path), so it keeps only `message_id` and its body is
//!   rendered from the message row when it is sent.
//! - `id` (a fresh ULID per event) has no unique index: one index less
//!   written per text; `position` is the key.
//! - `dead_ms` is set when the event was given up; a dead event no longer
//!   holds back its conversation's later ones.
//! - The partial index finds a conversation's earliest live event (the
//!   claim's "nothing earlier waits" check) and the due ones.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &str = "id TEXT NOT NULL, \
     conversation_id TEXT NOT NULL, \
     event_type TEXT NOT NULL, \
     body TEXT, \
     message_id TEXT, \
     created_ms BIGINT NOT NULL, \
     due_ms BIGINT NOT NULL, \
     deadline_ms BIGINT NOT NULL, \
     lease_ms BIGINT, \
     attempts INTEGER NOT NULL DEFAULT 0, \
     last_error TEXT, \
     dead_ms BIGINT";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let position = match manager.get_database_backend() {
            DbBackend::Postgres => "position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            _ => "position INTEGER PRIMARY KEY AUTOINCREMENT",
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE webhook_outbox ({position}, {COLUMNS})"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX webhook_outbox_live ON webhook_outbox (conversation_id, position) \
             WHERE dead_ms IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX webhook_outbox_dead ON webhook_outbox (dead_ms) WHERE dead_ms IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS webhook_outbox")
            .await?;
        Ok(())
    }
}
