//! [`ConversationRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{
    Claim, ConversationFilter, ConversationPage, ConversationRepository, PageRequest,
    RepositoryError, RouteOutcome, Transfer,
};
use qc_domain::{Conversation, ConversationId, ConversationStatus, ConversationView, Side, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    TransactionTrait, UpdateMany, Value,
};

use crate::Database;
use crate::entities::conversation::{Column, Entity};
use crate::outbox;
use qc_application::webhooks::{WebhookRecord, events};

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

    /// Runs a conditional update of one conversation; returns whether it
    /// changed the row. With webhooks on, `event` is written in the same
    /// transaction when it did.
    async fn update_with_event(
        &self,
        update: UpdateMany<Entity>,
        event: impl FnOnce() -> WebhookRecord,
    ) -> Result<bool, RepositoryError> {
        if !self.db.webhooks() {
            let result = update.exec(self.db.write()).await.map_err(storage)?;
            return Ok(result.rows_affected == 1);
        }
        let txn = self.db.write().begin().await.map_err(storage)?;
        let changed = update.exec(&txn).await.map_err(storage)?.rows_affected == 1;
        let events = if changed { vec![event()] } else { Vec::new() };
        outbox::commit_with(&self.db, txn, &events).await?;
        Ok(changed)
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
            c.id().to_string().into(),
            c.client_id().to_string().into(),
            c.status().as_str().into(),
            c.subject().into(),
            c.created_at().into(),
            c.client_id().to_string().into(),
            i64::from(max_open).into(),
        ];
        let event = self.db.webhooks().then(|| events::conversation_created(c));
        let stored = match backend {
            DbBackend::Postgres => {
                let txn = self.db.write().begin().await.map_err(storage)?;
                txn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_advisory_xact_lock(hashtextextended('qc-open:' || $1, 0))",
                    [c.client_id().to_string().into()],
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
                let events = match &event {
                    Some(event) if n == 1 => std::slice::from_ref(event),
                    _ => &[],
                };
                outbox::commit_with(&self.db, txn, events).await?;
                n
            }
            _ => {
                let insert = Statement::from_sql_and_values(backend, CAPPED_INSERT_SQLITE, values);
                match &event {
                    None => self
                        .db
                        .write()
                        .execute_raw(insert)
                        .await
                        .map_err(storage)?
                        .rows_affected(),
                    Some(event) => {
                        let txn = self.db.write().begin().await.map_err(storage)?;
                        let n = txn
                            .execute_raw(insert)
                            .await
                            .map_err(storage)?
                            .rows_affected();
                        if n == 1 {
                            outbox::record(&txn, std::slice::from_ref(event)).await?;
                        }
                        txn.commit().await.map_err(storage)?;
                        n
                    }
                }
            }
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
        let claim = Entity::update_many()
            .col_expr(Column::SupportId, Expr::value(agent.to_string()))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
            .filter(Column::SupportId.is_null());
        self.update_with_event(claim, || {
            events::conversation_assigned(id, Some(agent), None, Utc::now())
        })
        .await
    }

    async fn try_close(
        &self,
        id: ConversationId,
        at: DateTime<Utc>,
        closed_by: &UserId,
    ) -> Result<bool, RepositoryError> {
        let close = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(ConversationStatus::Closed.as_str()),
            )
            .col_expr(Column::ClosedAt, Expr::value(at))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()));
        self.update_with_event(close, || events::conversation_closed(id, closed_by, at))
            .await
    }

    async fn list(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> Result<ConversationPage, RepositoryError> {
        let limit = page.limit as usize;
        let mut items =
            crate::views::list(self.db.read(), filter, page.after, limit as u64 + 1).await?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|v| v.conversation().id())
        } else {
            None
        };
        Ok(ConversationPage { items, next })
    }

    async fn find_view(
        &self,
        id: ConversationId,
        viewer: Side,
    ) -> Result<Option<ConversationView>, RepositoryError> {
        crate::views::find(self.db.read(), id, viewer).await
    }

    async fn try_transfer(
        &self,
        id: ConversationId,
        from: &UserId,
        to: Option<UserId>,
        capacity: Option<u32>,
    ) -> Result<Transfer, RepositoryError> {
        crate::routing::try_transfer(&self.db, id, from, to, capacity).await
    }

    async fn try_assign_within(
        &self,
        id: ConversationId,
        agent: &UserId,
        capacity: u32,
    ) -> Result<Claim, RepositoryError> {
        crate::routing::try_assign_within(&self.db, id, agent, capacity).await
    }

    async fn route(
        &self,
        online: &[UserId],
        capacity: u32,
        rule: std::sync::Arc<dyn qc_domain::RoutingRule>,
    ) -> Result<RouteOutcome, RepositoryError> {
        crate::routing::route(&self.db, online, capacity, rule).await
    }

    async fn customers_served_by(&self, agent: &UserId) -> Result<Vec<UserId>, RepositoryError> {
        let ids: Vec<String> = Entity::find()
            .select_only()
            .column(Column::ClientId)
            .distinct()
            .filter(Column::SupportId.eq(agent.as_str()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
            .into_tuple()
            .all(self.db.read())
            .await
            .map_err(storage)?;
        ids.into_iter()
            .map(|id| UserId::new(id).map_err(storage))
            .collect()
    }

    async fn agents_serving(&self, customer: &UserId) -> Result<Vec<UserId>, RepositoryError> {
        let ids: Vec<Option<String>> = Entity::find()
            .select_only()
            .column(Column::SupportId)
            .distinct()
            .filter(Column::ClientId.eq(customer.as_str()))
            .filter(Column::Status.eq(ConversationStatus::Open.as_str()))
            .filter(Column::SupportId.is_not_null())
            .into_tuple()
            .all(self.db.read())
            .await
            .map_err(storage)?;
        ids.into_iter()
            .flatten()
            .map(|id| UserId::new(id).map_err(storage))
            .collect()
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
