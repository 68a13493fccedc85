//! Conversations, with `last_seq`: the counter that hands out message `seq`s.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Conversations {
    Table,
    Id,
    ClientId,
    SupportId,
    Status,
    Subject,
    CreatedAt,
    ClosedAt,
    LastSeq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .string_len(26)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Conversations::ClientId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::SupportId)
                            .string_len(128)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Conversations::Subject).text().null())
                    .col(
                        ColumnDef::new(Conversations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_conversations_client",
                vec![Conversations::ClientId, Conversations::CreatedAt],
            ),
            (
                "idx_conversations_support",
                vec![Conversations::SupportId, Conversations::CreatedAt],
            ),
            (
                "idx_conversations_queue",
                vec![
                    Conversations::Status,
                    Conversations::SupportId,
                    Conversations::CreatedAt,
                ],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Conversations::Table).if_not_exists();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Conversations::Table).to_owned())
            .await
    }
}
