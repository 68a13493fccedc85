//! Group commit: one writer per database gathers every append waiting at
//! that moment (from every connection) and commits them in one transaction.
//!
//! Why: a text used to cost its own four-statement transaction, and each
//! statement is a hand-off between the runtime and the database driver
//! (a thread wake-up on SQLite, a network round trip on PostgreSQL). The
//! database was nearly idle; the hand-offs were the cost. A batch pays a
//! fixed five statements however many messages it carries:
//!
//! 1. `SELECT … FROM conversations WHERE id IN (…)` (`FOR UPDATE`, in id
//!    order, on PostgreSQL; SQLite's single write connection already
//!    serializes writers), which decides open / participant for every
//!    message under the lock the commit releases;
//! 2. the `client_msg_id` duplicates among them (only when one carries it);
//! 3. one `UPDATE conversations SET last_seq = CASE id … END`;
//! 4. one multi-row `INSERT INTO messages`;
//! 5. `COMMIT`, after which every sender is acked.
//!
//! Batches grow with load and cost nothing at low load: the writer takes
//! whatever is queued when it wakes, so a lone message is committed at once
//! (no timer), and while one batch commits the next one gathers.
//! Nothing is acked before its commit, so a crash after an ack loses
//! nothing; a failed batch fails as a whole (rolled back, every sender gets
//! `Storage`, nothing half-stored).

use std::collections::HashMap;
use std::time::Instant;

use qc_application::ports::{AppendError, Appended, PublishTurn, RepositoryError};
use qc_domain::{
    Conversation, ConversationError, ConversationId, Message, MessageKind, NewMessage,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::storage;
use crate::entities::{conversation, message};

/// Most appends in one transaction. Bounds the statement size (9 bound
/// values a row: far under SQLite's 32,766 and PostgreSQL's 65,535) and the
/// time one batch holds the write lock.
pub(crate) const MAX_BATCH: usize = 512;

/// Conversations whose last turn the writer remembers. Past this the map
/// is cleared: a text whose predecessor's turn was forgotten publishes
/// without waiting (its predecessor was stored long enough ago).
const TURNS_KEPT: usize = 65_536;

/// Appends queued for the writer beyond which senders wait to enqueue
/// (backpressure on the connections, not unbounded memory).
const QUEUE: usize = 8192;

type Reply = Result<Appended, AppendError>;

struct Pending {
    new: NewMessage,
    reply: oneshot::Sender<Reply>,
}

/// The handle connections append through. Cloning shares the one writer.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer task on `db` (the write connection).
    pub(crate) fn spawn(db: DatabaseConnection) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        Self { tx }
    }

    /// Queues `new` and waits for its commit.
    pub(crate) async fn append(&self, new: NewMessage) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { new, reply })
            .await
            .map_err(|_| AppendError::Storage(stopped()))?;
        answer.await.map_err(|_| AppendError::Storage(stopped()))?
    }
}

fn stopped() -> RepositoryError {
    storage(anyhow::anyhow!("the message writer has stopped"))
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Per conversation, the release of the last text this writer stored:
    // the next one stored waits for it before publishing.
    let mut turns: HashMap<ConversationId, (i64, oneshot::Receiver<()>)> = HashMap::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = Instant::now();
        let size = batch.len();
        let mut outcomes = commit_batch(&db, &batch).await;
        if turns.len() > TURNS_KEPT {
            turns.clear();
        }
        for outcome in &mut outcomes {
            if let Ok(Appended::Stored { message, turn, .. }) = outcome {
                let (done, released) = oneshot::channel();
                let after = match turns.remove(&message.conversation_id) {
                    Some((seq, previous)) if seq + 1 == message.seq => Some(previous),
                    _ => None,
                };
                turns.insert(message.conversation_id, (message.seq, released));
                *turn = PublishTurn::new(after, done);
            }
        }
        metrics::histogram!("qc_store_batch_size").record(size as f64);
        metrics::histogram!("qc_store_batch_seconds").record(started.elapsed().as_secs_f64());
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            // The sender may have gone (connection closed): the message is
            // stored all the same and shows in history.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// Commits one batch, retrying once when another writer (another node on
/// PostgreSQL) stored one of its `client_msg_id`s between our duplicate
/// check and our insert: the retry's check then sees it.
async fn commit_batch(db: &DatabaseConnection, batch: &[Pending]) -> Vec<Reply> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_commit(db, batch).await {
            Ok(outcomes) => return outcomes,
            Err(e)
                if attempt == 1
                    && matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
            {
                tracing::debug!("concurrent client_msg_id in a batch; retrying it once");
            }
            Err(e) => {
                tracing::error!(error = %e, batch = batch.len(), "a batch of messages was not stored");
                let reason = format!("{e}");
                return batch
                    .iter()
                    .map(|_| {
                        Err(AppendError::Storage(storage(anyhow::anyhow!(
                            "storing failed: {reason}"
                        ))))
                    })
                    .collect();
            }
        }
    }
}

/// A conversation as locked for this batch, and its counter so far.
struct Locked {
    conversation: Conversation,
    last_seq: i64,
    first_seq: i64,
}

async fn try_commit(db: &DatabaseConnection, batch: &[Pending]) -> Result<Vec<Reply>, DbErr> {
    let txn = db.begin().await?;
    let mut ids: Vec<String> = batch
        .iter()
        .map(|p| p.new.conversation_id.to_string())
        .collect();
    ids.sort_unstable();
    ids.dedup();

    let mut select = conversation::Entity::find().filter(conversation::Column::Id.is_in(ids));
    if txn.get_database_backend() == DbBackend::Postgres {
        // Row locks in one order everywhere: two nodes' batches never deadlock.
        select = select
            .order_by_asc(conversation::Column::Id)
            .lock_exclusive();
    }
    let mut locked: HashMap<String, Locked> = HashMap::new();
    for row in select.all(&txn).await? {
        let last_seq = row.last_seq;
        let id = row.id.clone();
        let conversation = Conversation::try_from(row).map_err(|e| DbErr::Custom(e.to_string()))?;
        locked.insert(
            id,
            Locked {
                conversation,
                last_seq,
                first_seq: last_seq,
            },
        );
    }

    let mut seen = duplicates_of(&txn, batch).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut rows = Vec::new();
    for pending in batch {
        let new = &pending.new;
        let cid = new.conversation_id.to_string();
        let Some(conv) = locked.get_mut(&cid) else {
            outcomes.push(Err(AppendError::ConversationMissing));
            continue;
        };
        match conv.conversation.ensure_can_send(&new.sender_id) {
            Ok(()) => {}
            Err(ConversationError::Closed) => {
                outcomes.push(Err(AppendError::ConversationClosed));
                continue;
            }
            Err(_) => {
                outcomes.push(Err(AppendError::NotParticipant));
                continue;
            }
        }
        let key = new.client_msg_id.as_ref().map(|c| {
            (
                cid.clone(),
                new.sender_id.to_string(),
                c.as_str().to_owned(),
            )
        });
        if let Some(existing) = key.as_ref().and_then(|k| seen.get(k)) {
            outcomes.push(Ok(Appended::Duplicate(existing.clone())));
            continue;
        }
        conv.last_seq += 1;
        let message = Message::stored(new.clone(), conv.last_seq);
        rows.push(message::ActiveModel {
            id: Set(message.id.to_string()),
            conversation_id: Set(cid),
            seq: Set(message.seq),
            sender_id: Set(message.sender_id.to_string()),
            message_type: Set(MessageKind::Text.as_str().to_owned()),
            content: Set(message.content.clone()),
            client_msg_id: Set(message
                .client_msg_id
                .as_ref()
                .map(|c| c.as_str().to_owned())),
            created_at: Set(message.created_at),
            read_at: Set(None),
        });
        if let Some(key) = key {
            seen.insert(key, message.clone());
        }
        outcomes.push(Ok(Appended::Stored {
            participants: conv.conversation.participants(),
            message,
            turn: PublishTurn::default(),
        }));
    }

    if !rows.is_empty() {
        let bumped: Vec<(&String, i64)> = locked
            .iter()
            .filter(|(_, l)| l.last_seq != l.first_seq)
            .map(|(id, l)| (id, l.last_seq))
            .collect();
        let mut case = Expr::case(
            conversation::Column::Id.eq(bumped[0].0.as_str()),
            Expr::val(bumped[0].1),
        );
        for (id, seq) in &bumped[1..] {
            case = case.case(conversation::Column::Id.eq(id.as_str()), Expr::val(*seq));
        }
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastSeq,
                case.finally(Expr::col(conversation::Column::LastSeq))
                    .into(),
            )
            .filter(conversation::Column::Id.is_in(bumped.iter().map(|(id, _)| id.as_str())))
            .exec(&txn)
            .await?;
        message::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(outcomes)
}

type DuplicateKey = (String, String, String);

/// The stored messages that share a `(conversation, sender, client_msg_id)`
/// with an append of the batch. One statement, and only when some append
/// carries a `client_msg_id`.
async fn duplicates_of(
    txn: &impl ConnectionTrait,
    batch: &[Pending],
) -> Result<HashMap<DuplicateKey, Message>, DbErr> {
    let mut conversations = Vec::new();
    let mut cmids = Vec::new();
    for p in batch {
        if let Some(c) = &p.new.client_msg_id {
            conversations.push(p.new.conversation_id.to_string());
            cmids.push(c.as_str().to_owned());
        }
    }
    let mut found = HashMap::new();
    if cmids.is_empty() {
        return Ok(found);
    }
    conversations.sort_unstable();
    conversations.dedup();
    cmids.sort_unstable();
    cmids.dedup();
    let rows = message::Entity::find()
        .filter(message::Column::ConversationId.is_in(conversations))
        .filter(message::Column::ClientMsgId.is_in(cmids))
        .all(txn)
        .await?;
    for row in rows {
        let key = (
            row.conversation_id.clone(),
            row.sender_id.clone(),
            row.client_msg_id.clone().unwrap_or_default(),
        );
        let message = Message::try_from(row).map_err(|e| DbErr::Custom(e.to_string()))?;
        found.insert(key, message);
    }
    Ok(found)
}
