//! [`MessageRepository`] on sea-orm, with atomic `seq` assignment.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{
    AppendError, Appended, HistoryCursor, HistoryError, HistoryPage, HistoryQuery, MarkReadError,
    MessageRepository, RepositoryError,
};
use qc_domain::{
    ClientMsgId, ConversationId, ConversationStatus, Message, MessageId, NewMessage, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionTrait,
};

use crate::Database;
use crate::conversations::storage;
use crate::entities::{conversation, message};

#[derive(Clone)]
pub struct SeaOrmMessageRepository {
    db: Database,
}

impl SeaOrmMessageRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The `seq` of message `id` in `conversation`, if it is one of its messages.
    async fn seq_of(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<i64>, RepositoryError> {
        message::Entity::find_by_id(id.to_string())
            .filter(message::Column::ConversationId.eq(conversation.to_string()))
            .select_only()
            .column(message::Column::Seq)
            .into_tuple::<i64>()
            .one(self.db.read())
            .await
            .map_err(storage)
    }
}

fn to_messages(rows: Vec<message::Model>) -> Result<Vec<Message>, RepositoryError> {
    rows.into_iter()
        .map(Message::try_from)
        .collect::<Result<_, _>>()
        .map_err(storage)
}

#[async_trait]
impl MessageRepository for SeaOrmMessageRepository {
    async fn append(&self, new: NewMessage) -> Result<Appended, AppendError> {
        let cid = new.conversation_id.to_string();
        let txn = self.db.write().begin().await.map_err(storage)?;
        // Bump the conversation's counter and read it back in one statement.
        // The row lock (PostgreSQL) or the write lock (SQLite) it takes is
        // held until commit, so concurrent appends get consecutive numbers.
        // The status filter makes "closed accepts nothing" atomic too.
        let bumped = conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastSeq,
                Expr::col(conversation::Column::LastSeq).add(1),
            )
            .filter(conversation::Column::Id.eq(cid.clone()))
            .filter(conversation::Column::Status.eq(ConversationStatus::Open.as_str()))
            .exec_with_returning(&txn)
            .await
            .map_err(storage)?;
        let Some(row) = bumped.into_iter().next() else {
            txn.rollback().await.map_err(storage)?;
            let exists = conversation::Entity::find_by_id(cid)
                .one(self.db.read())
                .await
                .map_err(storage)?;
            return Err(if exists.is_some() {
                AppendError::ConversationClosed
            } else {
                AppendError::ConversationMissing
            });
        };
        let seq = row.last_seq;
        let insert = message::Entity::insert(message::ActiveModel {
            id: Set(new.id.to_string()),
            conversation_id: Set(cid),
            seq: Set(seq),
            sender_id: Set(new.sender_id.to_string()),
            message_type: Set(qc_domain::MessageKind::Text.as_str().to_owned()),
            content: Set(new.content.as_str().to_owned()),
            client_msg_id: Set(new.client_msg_id.as_ref().map(|c| c.as_str().to_owned())),
            created_at: Set(new.created_at),
            read_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await;
        match insert {
            Ok(_) => {
                txn.commit().await.map_err(storage)?;
                Ok(Appended::Stored(Message::stored(new, seq)))
            }
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                // A concurrent retry with the same client_msg_id won; the
                // counter bump rolls back with us, so no gap is left.
                txn.rollback().await.map_err(storage)?;
                let Some(cmid) = &new.client_msg_id else {
                    return Err(AppendError::Storage(storage(e)));
                };
                let existing = self
                    .find_by_client_msg_id(new.conversation_id, &new.sender_id, cmid)
                    .await?
                    .ok_or_else(|| AppendError::Storage(storage(e)))?;
                Ok(Appended::Duplicate(existing))
            }
            Err(e) => Err(AppendError::Storage(storage(e))),
        }
    }

    async fn find_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: &UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>, RepositoryError> {
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation.to_string()))
            .filter(message::Column::SenderId.eq(sender.as_str()))
            .filter(message::Column::ClientMsgId.eq(client_msg_id.as_str()))
            .one(self.db.read())
            .await
            .map_err(storage)?
            .map(Message::try_from)
            .transpose()
            .map_err(storage)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> Result<HistoryPage, HistoryError> {
        let limit = query.limit as usize;
        let base = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation.to_string()));
        let cursor_seq = |id| async move {
            self.seq_of(conversation, id)
                .await?
                .ok_or(HistoryError::UnknownCursor)
        };
        let (rows, forward) = match query.cursor {
            HistoryCursor::Latest => (base.order_by_desc(message::Column::Seq), false),
            HistoryCursor::Before(id) => {
                let seq = cursor_seq(id).await?;
                (
                    base.filter(message::Column::Seq.lt(seq))
                        .order_by_desc(message::Column::Seq),
                    false,
                )
            }
            HistoryCursor::After(id) => {
                let seq = cursor_seq(id).await?;
                (
                    base.filter(message::Column::Seq.gt(seq))
                        .order_by_asc(message::Column::Seq),
                    true,
                )
            }
            HistoryCursor::Between(after, before) => {
                let (low, high) = (cursor_seq(after).await?, cursor_seq(before).await?);
                (
                    base.filter(message::Column::Seq.gt(low))
                        .filter(message::Column::Seq.lt(high))
                        .order_by_asc(message::Column::Seq),
                    true,
                )
            }
        };
        let mut rows = rows
            .limit(limit as u64 + 1)
            .all(self.db.read())
            .await
            .map_err(storage)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        if !forward {
            rows.reverse();
        }
        let items = to_messages(rows)?;
        let next = match (more, forward) {
            (false, _) => None,
            (true, true) => items.last().map(|m| m.id),
            (true, false) => items.first().map(|m| m.id),
        };
        Ok(HistoryPage { items, next })
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        reader: &UserId,
        up_to: MessageId,
        at: DateTime<Utc>,
    ) -> Result<u64, MarkReadError> {
        let seq = self
            .seq_of(conversation, up_to)
            .await?
            .ok_or(MarkReadError::UnknownMessage)?;
        let result = message::Entity::update_many()
            .col_expr(message::Column::ReadAt, Expr::value(at))
            .filter(message::Column::ConversationId.eq(conversation.to_string()))
            .filter(message::Column::Seq.lte(seq))
            .filter(message::Column::SenderId.ne(reader.as_str()))
            .filter(message::Column::ReadAt.is_null())
            .exec(self.db.write())
            .await
            .map_err(storage)?;
        Ok(result.rows_affected)
    }
}
