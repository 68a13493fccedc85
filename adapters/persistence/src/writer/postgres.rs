//! A batch on PostgreSQL, in sqlx directly: the same steps as the generic
//! path, but every statement takes arrays (`= ANY($1)`, `UNNEST`), so its
//! text is the same for every batch size. It is prepared once per
//! connection and binds nine arrays instead of 9 × N parameters; a
//! multi-row `VALUES` list of 2,048 rows (18,432 parameters, new text for
//! every size) was most of the batch's time.
//!
//! `FOR UPDATE` in id order: two nodes' batches that share a conversation
//! queue on its row (seq stays gapless and unique) and never deadlock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use qc_domain::{Conversation, Message};
use sea_orm::sqlx::{self, PgPool, Postgres, Transaction};

use super::{
    CommitError, DuplicateKey, Locked, Pending, Reply, TEXT, client_msg_ids, conversation_ids,
    decide, duplicate_key,
};
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

type ConversationRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i64,
);

type MessageRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

const LOCK: &str = "SELECT id, client_id, support_id, status, subject, created_at, closed_at, last_seq \
     FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE";

const DUPLICATES: &str = "SELECT id, conversation_id, seq, sender_id, message_type, content, \
     client_msg_id, created_at, read_at FROM messages \
     WHERE conversation_id = ANY($1) AND client_msg_id = ANY($2)";

const BUMP: &str = "UPDATE conversations AS c SET last_seq = v.seq \
     FROM UNNEST($1::text[], $2::bigint[]) AS v(id, seq) WHERE c.id = v.id";

const INSERT: &str = "INSERT INTO messages \
     (id, conversation_id, seq, sender_id, message_type, content, client_msg_id, created_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::timestamptz[])";

pub(super) async fn try_commit(
    pool: &PgPool,
    batch: &[Pending],
) -> Result<Vec<Reply>, CommitError> {
    let mut txn = pool.begin().await?;
    let rows: Vec<ConversationRow> = sqlx::query_as(LOCK)
        .bind(conversation_ids(batch))
        .fetch_all(&mut *txn)
        .await?;
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
        };
        let conversation =
            Conversation::try_from(model).map_err(|e| CommitError::Failed(e.to_string()))?;
        locked.insert(
            id,
            Locked {
                conversation,
                last_seq,
                first_seq: last_seq,
            },
        );
    }
    let seen = duplicates_of(&mut txn, batch).await?;
    let decision = decide(batch, locked, seen);

    if !decision.bumped.is_empty() {
        let (ids, seqs): (Vec<&str>, Vec<i64>) = decision
            .bumped
            .iter()
            .map(|(id, seq)| (id.as_str(), *seq))
            .unzip();
        sqlx::query(BUMP)
            .bind(ids)
            .bind(seqs)
            .execute(&mut *txn)
            .await?;
        let m = &decision.stored;
        sqlx::query(INSERT)
            .bind(m.iter().map(|m| m.id.to_string()).collect::<Vec<_>>())
            .bind(
                m.iter()
                    .map(|m| m.conversation_id.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(m.iter().map(|m| m.seq).collect::<Vec<_>>())
            .bind(m.iter().map(|m| m.sender_id.as_str()).collect::<Vec<_>>())
            .bind(vec![TEXT; m.len()])
            .bind(m.iter().map(|m| m.content.as_str()).collect::<Vec<_>>())
            .bind(
                m.iter()
                    .map(|m| m.client_msg_id.as_ref().map(|c| c.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(m.iter().map(|m| m.created_at).collect::<Vec<_>>())
            .execute(&mut *txn)
            .await?;
    }
    txn.commit().await?;
    Ok(decision.outcomes)
}

async fn duplicates_of(
    txn: &mut Transaction<'static, Postgres>,
    batch: &[Pending],
) -> Result<HashMap<DuplicateKey, Message>, CommitError> {
    let (conversations, cmids) = client_msg_ids(batch);
    let mut found = HashMap::new();
    if cmids.is_empty() {
        return Ok(found);
    }
    let rows: Vec<MessageRow> = sqlx::query_as(DUPLICATES)
        .bind(conversations)
        .bind(cmids)
        .fetch_all(&mut **txn)
        .await?;
    for (
        id,
        conversation_id,
        seq,
        sender_id,
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
