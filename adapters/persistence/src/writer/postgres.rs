//! A batch on PostgreSQL, in sqlx directly: the same steps as the generic
//! path, but every statement takes arrays (`= ANY($1)`, `UNNEST`), so its
//! text is the same for every batch size. It is prepared once per
//! connection and binds ten arrays instead of 10 × N parameters; a
//! multi-row `VALUES` list of 2,048 rows (18,432 parameters, new text for
//! every size) was most of the batch's time.
//!
//! `FOR UPDATE` in id order: two nodes' batches that share a conversation
//! queue on its row (seq stays gapless and unique) and never deadlock.

use std::collections::HashMap;

use qc_domain::Message;
use sea_orm::sqlx::{self, PgPool, Postgres, Transaction};

use super::rules::{DuplicateKey, client_msg_ids, conversation_ids, decide};
use super::sqlite::{ConversationRow, MessageRow, locked_rows, message_rows};
use super::{CommitError, Pending, Reply};

const LOCK: &str = "SELECT id, client_id, support_id, status, subject, created_at, closed_at, last_seq \
     FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE";

const DUPLICATES: &str = "SELECT id, conversation_id, seq, sender_id, sender_side, message_type, content, \
     client_msg_id, created_at, read_at FROM messages \
     WHERE conversation_id = ANY($1) AND client_msg_id = ANY($2)";

const BUMP: &str = "UPDATE conversations AS c SET last_seq = v.seq, \
     unread_by_agent = c.unread_by_agent + v.by_agent, \
     unread_by_customer = c.unread_by_customer + v.by_customer \
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
     AS v(id, seq, by_agent, by_customer) WHERE c.id = v.id";

const INSERT: &str = "INSERT INTO messages \
     (id, conversation_id, seq, sender_id, sender_side, message_type, content, client_msg_id, \
     created_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::timestamptz[])";

/// The outbox rows of a batch's messages (webhooks on): ids and times only
/// (the body is rendered from the message when sent).
const OUTBOX: &str = "INSERT INTO webhook_outbox \
     (id, conversation_id, event_type, message_id, created_ms, due_ms, deadline_ms) \
     SELECT id, conversation_id, 'message.created', message_id, created_ms, due_ms, deadline_ms \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) \
     AS v(id, conversation_id, message_id, created_ms, due_ms, deadline_ms)";

pub(super) async fn try_commit(
    pool: &PgPool,
    batch: &[Pending],
    webhooks: bool,
) -> Result<Vec<Reply>, CommitError> {
    let mut txn = pool.begin().await?;
    let rows: Vec<ConversationRow> = sqlx::query_as(LOCK)
        .bind(conversation_ids(batch))
        .fetch_all(&mut *txn)
        .await?;
    let locked = locked_rows(rows)?;
    let seen = duplicates_of(&mut txn, batch).await?;
    let decision = decide(batch, locked, seen);

    if !decision.bumped.is_empty() {
        let b = &decision.bumped;
        sqlx::query(BUMP)
            .bind(b.iter().map(|b| b.id.as_str()).collect::<Vec<_>>())
            .bind(b.iter().map(|b| b.last_seq).collect::<Vec<_>>())
            .bind(b.iter().map(|b| b.unread_by_agent).collect::<Vec<_>>())
            .bind(b.iter().map(|b| b.unread_by_customer).collect::<Vec<_>>())
            .execute(&mut *txn)
            .await?;
        let m = &decision.stored;
        sqlx::query(INSERT)
            .bind(m.iter().map(|m| m.id().to_string()).collect::<Vec<_>>())
            .bind(
                m.iter()
                    .map(|m| m.conversation_id().to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(m.iter().map(|m| m.seq()).collect::<Vec<_>>())
            .bind(m.iter().map(|m| m.sender_id().as_str()).collect::<Vec<_>>())
            .bind(
                m.iter()
                    .map(|m| m.sender_side().as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(m.iter().map(|m| m.kind().as_str()).collect::<Vec<_>>())
            .bind(m.iter().map(|m| m.content()).collect::<Vec<_>>())
            .bind(
                m.iter()
                    .map(|m| m.client_msg_id().as_ref().map(|c| c.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(m.iter().map(|m| m.created_at()).collect::<Vec<_>>())
            .execute(&mut *txn)
            .await?;
        if webhooks {
            outbox(&mut txn, m).await?;
        }
    }
    txn.commit().await?;
    Ok(decision.outcomes)
}

async fn outbox(
    txn: &mut Transaction<'static, Postgres>,
    stored: &[Message],
) -> Result<(), CommitError> {
    let now = crate::outbox::millis(chrono::Utc::now());
    let created: Vec<i64> = stored
        .iter()
        .map(|m| crate::outbox::millis(m.created_at()))
        .collect();
    sqlx::query(OUTBOX)
        .bind(
            stored
                .iter()
                .map(|_| qc_application::webhooks::events::event_id())
                .collect::<Vec<_>>(),
        )
        .bind(
            stored
                .iter()
                .map(|m| m.conversation_id().to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            stored
                .iter()
                .map(|m| m.id().to_string())
                .collect::<Vec<_>>(),
        )
        .bind(&created)
        .bind(vec![now; stored.len()])
        .bind(
            created
                .iter()
                .map(|c| c.saturating_add(crate::outbox::retry_for_ms()))
                .collect::<Vec<_>>(),
        )
        .execute(&mut **txn)
        .await?;
    Ok(())
}

async fn duplicates_of(
    txn: &mut Transaction<'static, Postgres>,
    batch: &[Pending],
) -> Result<HashMap<DuplicateKey, Message>, CommitError> {
    let (conversations, cmids) = client_msg_ids(batch);
    if cmids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<MessageRow> = sqlx::query_as(DUPLICATES)
        .bind(conversations)
        .bind(cmids)
        .fetch_all(&mut **txn)
        .await?;
    message_rows(rows)
}
