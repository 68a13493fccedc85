//! The live desk: the agents the desk knows (and whether they set
//! themselves away), and the indexes that let a listing show each
//! conversation's last message and unread count in the same query:
//!
//! - The latest message is a backward probe of the existing
//!   `(conversation_id, seq)` key (a customer's skips the few notes on the
//!   way): no index of its own, so a text's insert maintains one index more,
//!   not two.
//! - `ix_messages_unread`: only unread texts, by conversation and sender
//!   side, so an unread count reads the unread rows and nothing else (a
//!   partial index; SQLite and PostgreSQL both have them).
//!
//! Every agent who ever sent a message or was assigned a conversation
//! before this migration is recorded as seen.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    Away,
    FirstSeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(
                        ColumnDef::new(Agents::Id)
                            .string_len(128)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Agents::Away)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Agents::FirstSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO agents (id, away, first_seen_at) \
             SELECT support_id, false, MIN(created_at) FROM conversations \
             WHERE support_id IS NOT NULL GROUP BY support_id",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO agents (id, away, first_seen_at) \
             SELECT sender_id, false, MIN(created_at) FROM messages \
             WHERE sender_side = 'agent' AND sender_id NOT IN (SELECT id FROM agents) \
             GROUP BY sender_id",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_messages_unread ON messages (conversation_id, sender_side) \
             WHERE read_at IS NULL AND message_type = 'text'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_messages_unread")
            .await?;
        manager
            .drop_table(Table::drop().table(Agents::Table).to_owned())
            .await
    }
}
