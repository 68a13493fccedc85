//! The webhook outbox on sea-orm: [`record`] writes events inside the
//! transaction of their change; [`SeaOrmOutbox`] is the [`Outbox`] port the
//! dispatcher claims and settles them through.
//!
//! A claim leases the earliest live event of each conversation that is due
//! and not leased: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two nodes
//! claiming at once never take the same event, and the lease keeps it
//! theirs until they record the outcome (or die: then it is due again when
//! the lease runs out).

mod claim;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{Backlog, DeadEvent, Outbox, OutboxEvent, RepositoryError};
use qc_application::webhooks::{RETRY_FOR, WebhookRecord};
use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use crate::Database;
use crate::conversations::storage;
use crate::sql::{exec, statement};

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn retry_for_ms() -> i64 {
    i64::try_from(RETRY_FOR.as_millis()).unwrap_or(i64::MAX)
}

/// Writes `records` to the outbox on `conn` (the change's transaction):
/// due at once, retried for 24 h from their creation.
///
/// # Errors
/// When the insert fails (the caller's transaction then fails whole).
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    records: &[WebhookRecord],
) -> Result<(), RepositoryError> {
    if records.is_empty() {
        return Ok(());
    }
    let now = millis(Utc::now());
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; records.len()].join(", ");
    let mut values: Vec<Value> = Vec::with_capacity(records.len() * 7);
    for r in records {
        let created = millis(r.created_at);
        values.extend([
            r.id.clone().into(),
            r.conversation_id.clone().into(),
            r.event_type.into(),
            r.body.clone().into(),
            created.into(),
            now.into(),
            created.saturating_add(retry_for_ms()).into(),
        ]);
    }
    exec(
        conn,
        &format!(
            "INSERT INTO webhook_outbox \
             (id, conversation_id, event_type, body, created_ms, due_ms, deadline_ms) VALUES {rows}"
        ),
        values,
    )
    .await
    .map(|_| ())
}

/// Writes `events` to the outbox in `txn`, commits it, and then tells the
/// dispatcher (when there were any).
///
/// # Errors
/// When the insert or the commit fails (nothing is committed).
pub(crate) async fn commit_with(
    db: &Database,
    txn: sea_orm::DatabaseTransaction,
    events: &[WebhookRecord],
) -> Result<(), RepositoryError> {
    record(&txn, events).await?;
    txn.commit().await.map_err(storage)?;
    if !events.is_empty() {
        db.events_stored();
    }
    Ok(())
}

#[derive(Clone)]
pub struct SeaOrmOutbox {
    db: Database,
}

impl SeaOrmOutbox {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(FromQueryResult)]
struct DeadRow {
    id: String,
    conversation_id: String,
    event_type: String,
    created_ms: i64,
    dead_ms: i64,
    attempts: i32,
    last_error: Option<String>,
}

#[derive(FromQueryResult)]
struct CountRow {
    pending: i64,
    dead: i64,
}

#[async_trait]
impl Outbox for SeaOrmOutbox {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, RepositoryError> {
        self.claim_heads(now, lease, limit).await
    }

    async fn delivered(&self, positions: &[i64]) -> Result<(), RepositoryError> {
        if positions.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; positions.len()].join(", ");
        exec(
            self.db.write(),
            &format!("DELETE FROM webhook_outbox WHERE position IN ({marks})"),
            positions.iter().map(|p| (*p).into()).collect(),
        )
        .await
        .map(|_| ())
    }

    async fn retry_at(
        &self,
        position: i64,
        due: DateTime<Utc>,
        error: &str,
    ) -> Result<(), RepositoryError> {
        exec(
            self.db.write(),
            "UPDATE webhook_outbox SET attempts = attempts + 1, due_ms = ?, lease_ms = NULL, \
             last_error = ? WHERE position = ?",
            vec![millis(due).into(), error.into(), position.into()],
        )
        .await
        .map(|_| ())
    }

    async fn give_up(
        &self,
        position: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), RepositoryError> {
        exec(
            self.db.write(),
            "UPDATE webhook_outbox SET attempts = attempts + 1, dead_ms = ?, lease_ms = NULL, \
             last_error = ? WHERE position = ?",
            vec![millis(at).into(), error.into(), position.into()],
        )
        .await
        .map(|_| ())
    }

    async fn dead_events(&self, limit: u32) -> Result<Vec<DeadEvent>, RepositoryError> {
        let db = self.db.read();
        let rows = DeadRow::find_by_statement(statement(
            db,
            "SELECT id, conversation_id, event_type, created_ms, dead_ms, attempts, last_error \
             FROM webhook_outbox WHERE dead_ms IS NOT NULL ORDER BY position LIMIT ?",
            vec![i64::from(limit).into()],
        ))
        .all(db)
        .await
        .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|r| DeadEvent {
                id: r.id,
                conversation_id: r.conversation_id,
                event_type: r.event_type,
                created_at: from_millis(r.created_ms),
                dead_at: from_millis(r.dead_ms),
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                last_error: r.last_error,
            })
            .collect())
    }

    async fn revive<'a>(
        &self,
        id: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<u64, RepositoryError> {
        let now_ms = millis(now);
        let mut values: Vec<Value> =
            vec![now_ms.into(), now_ms.saturating_add(retry_for_ms()).into()];
        let only = match id {
            Some(id) => {
                values.push(id.into());
                " AND id = ?"
            }
            None => "",
        };
        exec(
            self.db.write(),
            &format!(
                "UPDATE webhook_outbox SET dead_ms = NULL, attempts = 0, lease_ms = NULL, \
                 due_ms = ?, deadline_ms = ? WHERE dead_ms IS NOT NULL{only}"
            ),
            values,
        )
        .await
    }

    async fn release_leases(&self) -> Result<u64, RepositoryError> {
        exec(
            self.db.write(),
            "UPDATE webhook_outbox SET lease_ms = NULL WHERE lease_ms IS NOT NULL",
            vec![],
        )
        .await
    }

    async fn backlog(&self) -> Result<Backlog, RepositoryError> {
        let db = self.db.read();
        let row = CountRow::find_by_statement(statement(
            db,
            "SELECT COALESCE(SUM(CASE WHEN dead_ms IS NULL THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN dead_ms IS NULL THEN 0 ELSE 1 END), 0) AS dead \
             FROM webhook_outbox",
            vec![],
        ))
        .one(db)
        .await
        .map_err(storage)?;
        Ok(row.map_or_else(Backlog::default, |r| Backlog {
            pending: u64::try_from(r.pending).unwrap_or(0),
            dead: u64::try_from(r.dead).unwrap_or(0),
        }))
    }
}
