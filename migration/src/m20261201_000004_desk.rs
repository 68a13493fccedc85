//! The live desk: the agents the desk knows (and whether they set
//! themselves away), and what lets a listing show each conversation's last
//! message and unread counts in the same query:
//!
//! - The latest message is a backward probe of the existing
//!   `(conversation_id, seq)` key (a customer's skips the few notes on the
//!   way).
//! - `unread_by_customer` / `unread_by_agent` on the conversation: the texts
//!   from the other side not yet read, kept by the statements that change
//!   them (the writer's counter update adds, a read receipt subtracts what
//!   it marked), so nothing is counted at read time. Why not a partial
//!   index of unread texts: every insert would maintain one more index, and
//!   that cost a fifth of SQLite's throughput.
//!
//! Every agent who ever sent a message or was assigned a conversation
//! before this migration is recorded as seen.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    UnreadByCustomer,
    UnreadByAgent,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    Away,
    FirstSeenAt,
    LastAssignedAt,
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
                    // Automatic assignment's tie-break: the agent whose last
                    // assignment is oldest goes first.
                    .col(ColumnDef::new(Agents::LastAssignedAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Automatic assignment's lock: one row every routing decision
        // writes first (adapters/persistence/src/routing.rs).
        db.execute_unprepared(
            "CREATE TABLE routing_lock (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO routing_lock (id, n) VALUES (1, 0)")
            .await?;
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
        for column in [
            Conversations::UnreadByCustomer,
            Conversations::UnreadByAgent,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .add_column(ColumnDef::new(column).big_integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        for (column, sender) in [
            ("unread_by_customer", "agent"),
            ("unread_by_agent", "customer"),
        ] {
            db.execute_unprepared(&format!(
                "UPDATE conversations SET {column} = (SELECT COUNT(*) FROM messages m \
                 WHERE m.conversation_id = conversations.id AND m.sender_side = '{sender}' \
                 AND m.message_type = 'text' AND m.read_at IS NULL)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Conversations::UnreadByCustomer,
            Conversations::UnreadByAgent,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS routing_lock")
            .await?;
        manager
            .drop_table(Table::drop().table(Agents::Table).to_owned())
            .await
    }
}
