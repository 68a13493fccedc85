//! [`ConversationRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{
    ConversationFilter, ConversationPage, ConversationRepository, PageRequest, RepositoryError,
};
use qc_domain::{Conversation, ConversationId, ConversationStatus, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait, Value,
};

use crate::Database;
use crate::entities::conversation::{Column, Entity};

/// A new conversation (unassigned, `last_seq` 0), unless its owner already
/// has the cap's number of open ones.
const CAPPED_INSERT_SQLITE: &str = "INSERT INTO conversations \
     (id, client_id, support_id, status, subject, created_at, closed_at, last_seq) \
     SELECT ?, ?, NULL, ?, ?, ?, NULL, 0 \
     WHERE (SELECT COUNT(*) FROM conversations WHERE client_id = ? AND status = 'open') < ?";

const CAPPED_INSERT_PG: &str = "INSERT INTO conversations \
     (id, client_id, support_id, status, subject, created_at, closed_at, last_seq) \
     SELECT $1, $2, NULL, $3, $4, $5, NULL, 0 \
     WHERE (SELECT COUNT(*) FROM conversations WHERE client_id = $6 AND status = 'open') < $7";

pub(crate) fn storage(e: impl Into<anyhow::Error>) -> RepositoryError {
    RepositoryError(e.into())
}

#[derive(Clone)]
pub struct SeaOrmConversationRepository {
    db: Database,
}

impl SeaOrmConversationRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ConversationRepository for SeaOrmConversationRepository {
    async fn insert(&self, c: &Conversation, max_open: u32) -> Result<bool, RepositoryError> {
        // One statement counts the owner's open conversations and inserts
        // only under the cap. SQLite runs it under its single writer; on
        // PostgreSQL two transactions could each count before the other
        // inserts, so a transaction-scoped advisory lock on the owner
        // serializes one owner's opens (other owners do not wait).
        let backend = self.db.write().get_database_backend();
        let values: Vec<Value> = vec![
            c.id.to_string().into(),
            c.client_id.to_string().into(),
            c.status.as_str().into(),
            c.subject.clone().into(),
            c.created_at.into(),
            c.client_id.to_string().into(),
            i64::from(max_open).into(),
        ];
        let stored = match backend {
            DbBackend::Postgres => {
                let txn = self.db.write().begin().await.map_err(storage)?;
                txn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_advisory_xact_lock(hashtextextended('qc-open:' || $1, 0))",
                    [c.client_id.to_string().into()],
                ))
                .await
                .map_err(storage)?;
                let n = txn
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        CAPPED_INSERT_PG,
                        values,
                    ))
                    .await
                    .map_err(storage)?
                    .rows_affected();
                txn.commit().await.map_err(storage)?;
                n
            }
            _ => self
                .db
                .write()
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    CAPPED_INSERT_SQLITE,
                    values,
                ))
                .await
                .map_err(storage)?
                .rows_affected(),
        };
        Ok(stored == 1)
    }

    async fn find(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError> {
        Entity::find_by_id(id.to_string())
            .one(self.db.read())
            .await
            .map_err(storage)?
            .map(Conversation::try_from)
            .transpose()
            .map_err(storage)
    }

    async fn try_assign(
        &self,
        id: ConversationId,
        agent: &UserId,
    ) -> Result<bool, RepositoryError> {
        // One conditional UPDATE: the database decides the race.
        let result = Entity::update_many()
            .col_expr(Column::SupportId, Expr::value(agent.to_string()))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
            .filter(Column::SupportId.is_null())
            .exec(self.db.write())
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn try_close(
        &self,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(ConversationStatus::Closed.as_str()),
            )
            .col_expr(Column::ClosedAt, Expr::value(at))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
            .exec(self.db.write())
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn list(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> Result<ConversationPage, RepositoryError> {
        let (mut query, newest_first) = match filter {
            ConversationFilter::OwnedBy(u) => {
                (Entity::find().filter(Column::ClientId.eq(u.as_str())), true)
            }
            ConversationFilter::AssignedTo(u) => (
                Entity::find().filter(Column::SupportId.eq(u.as_str())),
                true,
            ),
            ConversationFilter::Queue => (
                Entity::find()
                    .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
                    .filter(Column::SupportId.is_null()),
                false,
            ),
        };
        if let Some(after) = page.after {
            // Keyset on (created_at, id): stable under inserts.
            let Some(cursor) = Entity::find_by_id(after.to_string())
                .one(self.db.read())
                .await
                .map_err(storage)?
            else {
                return Ok(ConversationPage {
                    items: vec![],
                    next: None,
                });
            };
            let cond = if newest_first {
                Condition::any()
                    .add(Column::CreatedAt.lt(cursor.created_at))
                    .add(
                        Condition::all()
                            .add(Column::CreatedAt.eq(cursor.created_at))
                            .add(Column::Id.lt(cursor.id.clone())),
                    )
            } else {
                Condition::any()
                    .add(Column::CreatedAt.gt(cursor.created_at))
                    .add(
                        Condition::all()
                            .add(Column::CreatedAt.eq(cursor.created_at))
                            .add(Column::Id.gt(cursor.id.clone())),
                    )
            };
            query = query.filter(cond);
        }
        query = if newest_first {
            query
                .order_by_desc(Column::CreatedAt)
                .order_by_desc(Column::Id)
        } else {
            query
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id)
        };
        let rows = query
            .limit(u64::from(page.limit) + 1)
            .all(self.db.read())
            .await
            .map_err(storage)?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .into_iter()
            .take(page.limit as usize)
            .map(Conversation::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        let next = if more {
            items.last().map(|c| c.id)
        } else {
            None
        };
        Ok(ConversationPage { items, next })
    }

    async fn health(&self) -> Result<(), RepositoryError> {
        self.db
            .read()
            .execute_unprepared("SELECT 1")
            .await
            .map_err(storage)?;
        Ok(())
    }
}
