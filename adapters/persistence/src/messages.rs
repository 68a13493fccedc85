//! [`MessageRepository`] on sea-orm. Appends go through the group-commit
//! [`Writer`](crate::writer); history and read receipts are plain queries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{
    AppendError, Appended, HistoryCursor, HistoryError, HistoryPage, HistoryQuery, MarkReadError,
    MessageRepository, PublishTurn, RepositoryError,
};
use qc_domain::{ConversationId, Message, MessageId, MessageKind, NewMessage, Side, User};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};

use crate::Database;
use crate::conversations::storage;
use crate::entities::{conversation, message};
use crate::outbox;
use crate::writer::Writer;
use qc_application::webhooks::events;

#[derive(Clone)]
pub struct SeaOrmMessageRepository {
    db: Database,
    /// Appends go through the database's one group-commit writer.
    writer: Writer,
}

impl SeaOrmMessageRepository {
    /// Starts the database's writer task: call once per database (clones
    /// share it) inside a Tokio runtime.
    pub fn new(db: Database) -> Self {
        let writer = Writer::spawn(&db);
        Self { db, writer }
    }

    /// The `seq` of message `id` in `conversation`, if it is one of its
    /// messages that a user on `viewer`'s side may see.
    async fn seq_of(
        &self,
        conversation: ConversationId,
        id: MessageId,
        viewer: Side,
    ) -> Result<Option<i64>, RepositoryError> {
        visible(
            message::Entity::find_by_id(id.to_string())
                .filter(message::Column::ConversationId.eq(conversation.to_string())),
            viewer,
        )
        .select_only()
        .column(message::Column::Seq)
        .into_tuple::<i64>()
        .one(self.db.read())
        .await
        .map_err(storage)
    }
}

/// Only what `viewer` may see: customers never get notes.
fn visible(query: Select<message::Entity>, viewer: Side) -> Select<message::Entity> {
    match viewer {
        Side::Customer => query.filter(message::Column::MessageType.eq(MessageKind::Text.as_str())),
        Side::Agent => query,
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
        self.writer.append(new).await
    }

    async fn settled(&self, conversation: ConversationId) -> PublishTurn {
        self.writer.settled(conversation).await
    }

    async fn history(
        &self,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> Result<HistoryPage, HistoryError> {
        let limit = query.limit as usize;
        let base = visible(
            message::Entity::find()
                .filter(message::Column::ConversationId.eq(conversation.to_string())),
            query.viewer,
        );
        let cursor_seq = |id| async move {
            self.seq_of(conversation, id, query.viewer)
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
            (true, true) => items.last().map(|m| m.id()),
            (true, false) => items.first().map(|m| m.id()),
        };
        Ok(HistoryPage { items, next })
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        reader: &User,
        up_to: MessageId,
        at: DateTime<Utc>,
    ) -> Result<u64, MarkReadError> {
        // A read receipt names a text, whoever reads: a note's id would
        // reach the customer in the messages_read event.
        let seq = self
            .seq_of(conversation, up_to, Side::Customer)
            .await?
            .ok_or(MarkReadError::UnknownMessage)?;
        // The marks and the reader's unread counter change together: the
        // counter loses exactly what this receipt marked (the writer only
        // ever adds to it, so the two commute).
        let txn = self.db.write().begin().await.map_err(storage)?;
        let marked = message::Entity::update_many()
            .col_expr(message::Column::ReadAt, Expr::value(at))
            .filter(message::Column::ConversationId.eq(conversation.to_string()))
            .filter(message::Column::Seq.lte(seq))
            // The other side's messages: a customer reads the agents', an
            // agent the customer's (whatever their subs).
            .filter(message::Column::SenderSide.ne(reader.side().as_str()))
            .filter(message::Column::ReadAt.is_null())
            .filter(message::Column::MessageType.eq(MessageKind::Text.as_str()))
            .exec(&txn)
            .await
            .map_err(storage)?
            .rows_affected;
        if marked > 0 {
            let counter = match reader.side() {
                Side::Customer => conversation::Column::UnreadByCustomer,
                Side::Agent => conversation::Column::UnreadByAgent,
            };
            conversation::Entity::update_many()
                .col_expr(
                    counter,
                    Expr::col(counter).sub(i64::try_from(marked).unwrap_or(i64::MAX)),
                )
                .filter(conversation::Column::Id.eq(conversation.to_string()))
                .exec(&txn)
                .await
                .map_err(storage)?;
        }
        // Only when something was marked: the counter's update then locked
        // the conversation's row, so the event takes its place in the
        // conversation's order.
        let events = if marked > 0 && self.db.webhooks() {
            vec![events::messages_read(conversation, reader.id(), up_to, at)]
        } else {
            Vec::new()
        };
        outbox::commit_with(&self.db, txn, &events).await?;
        Ok(marked)
    }
}
