//! The webhook outbox on sea-orm: [`record`] writes events inside the
//! transaction of their change; [`SeaOrmOutbox`] is the [`Outbox`] port the
//! dispatcher claims and settles them through.
//!
//! A claim leases the earliest live event of each conversation that is due
//! and not leased: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two nodes
//! claiming at once never take the same event, and the lease keeps it
//! theirs until they record the outcome (or die: then it is due again when
//! the lease runs out).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qc_application::ports::{Backlog, DeadEvent, Outbox, OutboxEvent, RepositoryError};
use qc_application::webhooks::{RETRY_FOR, WebhookRecord, events};
use qc_domain::Message;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Value};

use crate::Database;
use crate::conversations::storage;
use crate::entities::message;
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

    /// The messages the claimed `message.created` events render, by id
    /// (one read for the whole claim).
    async fn messages_of(
        &self,
        rows: &[ClaimedRow],
    ) -> Result<HashMap<String, Message>, RepositoryError> {
        let ids: Vec<&str> = rows
            .iter()
            .filter(|r| r.body.is_none())
            .filter_map(|r| r.message_id.as_deref())
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .all(self.db.read())
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| {
                let id = row.id.clone();
                Message::try_from(row).map(|m| (id, m)).map_err(storage)
            })
            .collect()
    }
}

#[derive(FromQueryResult)]
struct ClaimedRow {
    position: i64,
    id: String,
    conversation_id: String,
    event_type: String,
    body: Option<String>,
    message_id: Option<String>,
    attempts: i32,
    created_ms: i64,
    deadline_ms: i64,
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

/// The earliest live event of each conversation that is due and not
/// leased, oldest first. The heads are found by a loose index scan of the
/// `(conversation_id, position)` partial index, one seek per conversation
/// with live events, never by reading the events queued behind them: a
/// receiver that is down leaves a backlog the claim does not pay for.
/// `{lock}` is `FOR UPDATE OF e SKIP LOCKED` on PostgreSQL.
fn heads_sql(lock: &str) -> String {
    format!(
        "WITH RECURSIVE c(cid) AS ( \
         SELECT MIN(conversation_id) FROM webhook_outbox WHERE dead_ms IS NULL \
         UNION ALL \
         SELECT (SELECT MIN(o.conversation_id) FROM webhook_outbox o \
                 WHERE o.dead_ms IS NULL AND o.conversation_id > c.cid) \
         FROM c WHERE c.cid IS NOT NULL) \
         SELECT e.position FROM c JOIN webhook_outbox e ON e.position = \
         (SELECT MIN(p.position) FROM webhook_outbox p WHERE p.conversation_id = c.cid \
          AND p.dead_ms IS NULL) \
         WHERE e.due_ms <= ? AND (e.lease_ms IS NULL OR e.lease_ms <= ?) \
         ORDER BY e.position LIMIT ? {lock}"
    )
}

const RETURNING: &str = "RETURNING position, id, conversation_id, event_type, body, message_id, \
     attempts, created_ms, deadline_ms";

#[derive(FromQueryResult)]
struct Position {
    position: i64,
}

#[async_trait]
impl Outbox for SeaOrmOutbox {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, RepositoryError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let window = vec![now_ms.into(), now_ms.into(), i64::from(limit).into()];
        let db = self.db.write();
        let mut rows = if self.db.is_postgres() {
            // One statement: of nodes claiming at once, each head goes to
            // one (a locked row is skipped, a leased one is not due).
            let mut values = vec![until.into()];
            values.extend(window);
            ClaimedRow::find_by_statement(statement(
                db,
                &format!(
                    "UPDATE webhook_outbox SET lease_ms = ? WHERE position IN ({}) {RETURNING}",
                    heads_sql("FOR UPDATE OF e SKIP LOCKED")
                ),
                values,
            ))
            .all(db)
            .await
            .map_err(storage)?
        } else {
            // SQLite: the heads are read beside the writer (a read
            // connection, WAL), and only the lease is written, re-checked,
            // on the write connection: the message writer never waits for
            // the search. One node per file, so nobody claims in between.
            let read = self.db.read();
            let heads = Position::find_by_statement(statement(read, &heads_sql(""), window))
                .all(read)
                .await
                .map_err(storage)?;
            if heads.is_empty() {
                return Ok(Vec::new());
            }
            let marks = vec!["?"; heads.len()].join(", ");
            let mut values: Vec<Value> = vec![until.into(), now_ms.into(), now_ms.into()];
            values.extend(heads.iter().map(|h| h.position.into()));
            ClaimedRow::find_by_statement(statement(
                db,
                &format!(
                    "UPDATE webhook_outbox SET lease_ms = ? WHERE dead_ms IS NULL AND due_ms <= ? \
                     AND (lease_ms IS NULL OR lease_ms <= ?) AND position IN ({marks}) {RETURNING}"
                ),
                values,
            ))
            .all(db)
            .await
            .map_err(storage)?
        };
        rows.sort_by_key(|r| r.position);
        let messages = self.messages_of(&rows).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let body = match (r.body, &r.message_id) {
                    (Some(body), _) => body,
                    (None, Some(message)) => match messages.get(message) {
                        Some(m) => events::message_created_body(&r.id, m),
                        None => {
                            // Written in the message's own transaction, so
                            // this cannot be; kept leased, it is tried
                            // again when the lease runs out.
                            tracing::error!(event = %r.id, %message, "a webhook event's message is missing");
                            return None;
                        }
                    },
                    (None, None) => {
                        tracing::error!(event = %r.id, "a webhook event has no body");
                        return None;
                    }
                };
                Some(OutboxEvent {
                    position: r.position,
                    id: r.id,
                    conversation_id: r.conversation_id,
                    event_type: r.event_type,
                    body,
                    attempts: u32::try_from(r.attempts).unwrap_or(0),
                    created_at: from_millis(r.created_ms),
                    deadline: from_millis(r.deadline_ms),
                })
            })
            .collect())
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
