//! A message's sender is a user, the pair (side, sub): `sender_side` is
//! `customer` or `agent`. A customer and an agent sharing a `sub` are two
//! users, so their `client_msg_id`s never collide either: the retry key
//! becomes `(conversation_id, sender_side, sender_id, client_msg_id)`.
//!
//! Rows stored before this migration are attributed by the only rule there
//! was: the conversation's owner is the customer, anyone else an agent.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    ConversationId,
    SenderId,
    SenderSide,
    ClientMsgId,
}

const OLD_RETRY_INDEX: &str = "ux_messages_client_msg_id";
const RETRY_INDEX: &str = "ux_messages_sender_client_msg_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(
                        ColumnDef::new(Messages::SenderSide)
                            .string_len(8)
                            .not_null()
                            .default("customer"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE messages SET sender_side = 'agent' WHERE sender_id <> \
                 (SELECT c.client_id FROM conversations c WHERE c.id = messages.conversation_id)",
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_RETRY_INDEX)
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(RETRY_INDEX)
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::SenderSide)
                    .col(Messages::SenderId)
                    .col(Messages::ClientMsgId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(RETRY_INDEX)
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD_RETRY_INDEX)
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::SenderId)
                    .col(Messages::ClientMsgId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::SenderSide)
                    .to_owned(),
            )
            .await
    }
}
