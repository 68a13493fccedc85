//! A batch on SQLite, in sqlx directly, in two round trips to the driver's
//! thread: `BEGIN IMMEDIATE` with the conversations' read, then the
//! counters' update, the inserts and `COMMIT` together (plus the
//! `client_msg_id` lookup between them when some append carries one).
//!
//! Why: every statement is a hand-off to sqlx's SQLite thread and back,
//! two context switches; at a few thousand texts a second the batches are
//! small and those switches were most of a text's cost. The batch travels
//! as JSON arrays read with `json_each`, so each statement's text is the
//! same for every batch size and is prepared once.
//!
//! SQLite has one writer at a time and this is the only write connection:
//! the rows read after `BEGIN IMMEDIATE` stay as read until the commit.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use qc_domain::{Conversation, Message};
use sea_orm::sqlx::{self, SqliteConnection, SqlitePool};
use serde_json::json;

use super::rules::{
    Decision, DuplicateKey, Locked, client_msg_ids, conversation_ids, decide, duplicate_key,
};
use super::{CommitError, Pending, Reply};
use crate::entities::{conversation, message};

impl From<sqlx::Error> for CommitError {
    fn from(e: sqlx::Error) -> Self {
        let duplicate = e
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation());
        if duplicate {
            Self::Duplicate(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

pub(super) type ConversationRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i64,
);

pub(super) type MessageRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

const BEGIN_AND_LOCK: &str = "BEGIN IMMEDIATE; \
     SELECT id, client_id, support_id, status, subject, created_at, closed_at, last_seq \
     FROM conversations WHERE id IN (SELECT value FROM json_each(?1))";

const DUPLICATES: &str = "SELECT id, conversation_id, seq, sender_id, sender_side, message_type, content, \
     client_msg_id, created_at, read_at FROM messages \
     WHERE conversation_id IN (SELECT value FROM json_each(?1)) \
     AND client_msg_id IN (SELECT value FROM json_each(?2))";

/// The outbox rows of a batch's messages (webhooks on), before its COMMIT:
/// ids and times only (the body is rendered from the message when sent).
const OUTBOX: &str = "INSERT INTO webhook_outbox \
     (id, conversation_id, event_type, message_id, created_ms, due_ms, deadline_ms) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'message.created', \
     json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), \
     json_extract(value, '$[5]') FROM json_each(?3); ";

/// `WRITE_AND_COMMIT` with the outbox's insert before the COMMIT.
static WRITE_OUTBOX_AND_COMMIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let write = WRITE_AND_COMMIT
        .strip_suffix("COMMIT")
        .unwrap_or(WRITE_AND_COMMIT);
    format!("{write}{OUTBOX}COMMIT")
});

const WRITE_AND_COMMIT: &str = "UPDATE conversations SET last_seq = v.seq, \
     unread_by_agent = unread_by_agent + v.by_agent, \
     unread_by_customer = unread_by_customer + v.by_customer \
     FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS seq, \
           json_extract(value, '$[2]') AS by_agent, json_extract(value, '$[3]') AS by_customer \
           FROM json_each(?1)) AS v \
     WHERE conversations.id = v.id; \
     INSERT INTO messages \
     (id, conversation_id, seq, sender_id, sender_side, message_type, content, client_msg_id, \
     created_at) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
     json_extract(value, '$[3]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'), \
     json_extract(value, '$[4]'), \
     json_extract(value, '$[5]'), json_extract(value, '$[6]') FROM json_each(?2); \
     COMMIT";

pub(super) async fn try_commit(
    pool: &SqlitePool,
    batch: &[Pending],
    webhooks: bool,
) -> Result<Vec<Reply>, CommitError> {
    let mut conn = pool.acquire().await?;
    let result = steps(&mut conn, batch, webhooks).await;
    if result.is_err() {
        // Whatever ran since BEGIN is undone; with no transaction open this
        // fails harmlessly.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    result
}

async fn steps(
    conn: &mut SqliteConnection,
    batch: &[Pending],
    webhooks: bool,
) -> Result<Vec<Reply>, CommitError> {
    let rows: Vec<ConversationRow> = sqlx::query_as(BEGIN_AND_LOCK)
        .bind(json!(conversation_ids(batch)).to_string())
        .fetch_all(&mut *conn)
        .await?;
    let locked = locked_rows(rows)?;
    let seen = duplicates_of(conn, batch).await?;
    let Decision {
        outcomes,
        stored,
        bumped,
    } = decide(batch, locked, seen);
    if stored.is_empty() {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        return Ok(outcomes);
    }
    let bumped: Vec<_> = bumped
        .iter()
        .map(|b| json!([b.id, b.last_seq, b.unread_by_agent, b.unread_by_customer]))
        .collect();
    let rows: Vec<_> = stored
        .iter()
        .map(|m| {
            json!([
                m.id().to_string(),
                m.conversation_id().to_string(),
                m.seq(),
                m.sender_id().as_str(),
                m.content(),
                m.client_msg_id().as_ref().map(|c| c.as_str()),
                // The text sqlx itself writes for a DateTime<Utc>.
                m.created_at().to_rfc3339_opts(SecondsFormat::AutoSi, false),
                m.sender_side().as_str(),
                m.kind().as_str(),
            ])
        })
        .collect();
    let bumped = serde_json::Value::Array(bumped).to_string();
    let rows = serde_json::Value::Array(rows).to_string();
    if webhooks {
        let now = crate::outbox::millis(chrono::Utc::now());
        let events: Vec<_> = stored
            .iter()
            .map(|m| {
                let created = crate::outbox::millis(m.created_at());
                json!([
                    qc_application::webhooks::events::event_id(),
                    m.conversation_id().to_string(),
                    m.id().to_string(),
                    created,
                    now,
                    created.saturating_add(crate::outbox::retry_for_ms()),
                ])
            })
            .collect();
        sqlx::query(WRITE_OUTBOX_AND_COMMIT.as_str())
            .bind(bumped)
            .bind(rows)
            .bind(serde_json::Value::Array(events).to_string())
            .execute(&mut *conn)
            .await?;
    } else {
        sqlx::query(WRITE_AND_COMMIT)
            .bind(bumped)
            .bind(rows)
            .execute(&mut *conn)
            .await?;
    }
    Ok(outcomes)
}

pub(super) fn locked_rows(
    rows: Vec<ConversationRow>,
) -> Result<HashMap<String, Locked>, CommitError> {
    let mut locked = HashMap::with_capacity(rows.len());
    for (id, client_id, support_id, status, subject, created_at, closed_at, last_seq) in rows {
        let model = conversation::Model {
            id: id.clone(),
            client_id,
            support_id,
            status,
            subject,
            created_at,
            closed_at,
            last_seq,
            // Not read for a batch: only added to.
            unread_by_customer: 0,
            unread_by_agent: 0,
        };
        let conversation =
            Conversation::try_from(model).map_err(|e| CommitError::Failed(e.to_string()))?;
        locked.insert(
            id,
            Locked {
                conversation,
                last_seq,
                first_seq: last_seq,
                from_customer: 0,
                from_agents: 0,
            },
        );
    }
    Ok(locked)
}

pub(super) fn message_rows(
    rows: Vec<MessageRow>,
) -> Result<HashMap<DuplicateKey, Message>, CommitError> {
    let mut found = HashMap::with_capacity(rows.len());
    for (
        id,
        conversation_id,
        seq,
        sender_id,
        sender_side,
        message_type,
        content,
        client_msg_id,
        created_at,
        read_at,
    ) in rows
    {
        let row = message::Model {
            id,
            conversation_id,
            seq,
            sender_id,
            sender_side,
            message_type,
            content,
            client_msg_id,
            created_at,
            read_at,
        };
        let key = duplicate_key(&row);
        let message = Message::try_from(row).map_err(|e| CommitError::Failed(e.to_string()))?;
        found.insert(key, message);
    }
    Ok(found)
}

async fn duplicates_of(
    conn: &mut SqliteConnection,
    batch: &[Pending],
) -> Result<HashMap<DuplicateKey, Message>, CommitError> {
    let (conversations, cmids) = client_msg_ids(batch);
    if cmids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<MessageRow> = sqlx::query_as(DUPLICATES)
        .bind(json!(conversations).to_string())
        .bind(json!(cmids).to_string())
        .fetch_all(&mut *conn)
        .await?;
    message_rows(rows)
}
