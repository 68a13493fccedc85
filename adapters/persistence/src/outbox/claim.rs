//! Claiming outbox events: the conversation heads that are due are found
//! and leased (one statement on PostgreSQL, a read then a re-checked lease
//! on SQLite), and each claimed row is rendered into an [`OutboxEvent`].

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qc_application::ports::{OutboxEvent, RepositoryError};
use qc_application::webhooks::events;
use qc_domain::Message;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, Value};

use super::{SeaOrmOutbox, from_millis, millis};
use crate::conversations::storage;
use crate::entities::message;
use crate::sql::statement;

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

impl SeaOrmOutbox {
    /// Leases up to `limit` due conversation heads for `lease` from `now`
    /// and renders them, oldest first: this port's `Outbox::claim`.
    pub(super) async fn claim_heads(
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
