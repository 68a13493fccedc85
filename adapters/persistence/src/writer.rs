//! Group commit: one writer per database gathers every append waiting at
//! that moment (from every connection) and commits them in one transaction.
//!
//! Why: a text used to cost its own four-statement transaction, and each
//! statement is a hand-off between the runtime and the database driver
//! (a thread wake-up on SQLite, a network round trip on PostgreSQL). The
//! database was nearly idle; the hand-offs were the cost. A batch pays a
//! fixed five statements (six with webhooks) however many messages it carries:
//!
//! 1. the batch's conversations, read under lock (`FOR UPDATE`, in id
//!    order, on PostgreSQL; SQLite's single write connection already
//!    serializes writers): open / participant is decided for every message
//!    against the rows as they are at that moment, under the lock the
//!    commit releases ([`decide`](rules::decide), the same rules on every
//!    database);
//! 2. the `client_msg_id` duplicates among them (only when one carries it);
//! 3. one `UPDATE conversations` of every counter that grew;
//! 4. one `INSERT INTO messages` of every row;
//! 5. with webhooks on, one `INSERT INTO webhook_outbox` of every row's
//!    `message.created` event (the message and its event commit together);
//! 6. `COMMIT`, after which every sender is acked.
//!
//! The statements differ by database ([`sqlite`] with JSON arrays, two
//! round trips; [`postgres`] with SQL arrays), both in sqlx directly; the
//! steps and the rules do not.
//!
//! Batches grow with load and cost nothing at low load: the writer takes
//! whatever is queued when it wakes, so a lone message is committed at once
//! (no timer), and while one batch commits the next one gathers. One batch
//! at a time, also on PostgreSQL: two overlapping transactions could take a
//! conversation's row lock in the other order and give a sender's later
//! text the lower seq.
//! Nothing is acked before its commit, so a crash after an ack loses
//! nothing; a failed batch fails as a whole (rolled back, every sender gets
//! `Storage`, nothing half-stored).

use std::collections::HashMap;
use std::time::Instant;

use qc_application::ports::{AppendError, Appended, PublishTurn, RepositoryError};
use qc_domain::{ConversationId, NewMessage};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::storage;

mod postgres;
mod rules;
mod sqlite;

/// Most appends in one transaction. Bounds the statement size (9 bound
/// values a row: far under SQLite's 32,766 and PostgreSQL's 65,535) and the
/// time one batch holds the write lock.
pub(crate) const MAX_BATCH: usize = 2048;

/// Conversations whose last turn the writer remembers. Past this the turns
/// already released are forgotten (a conversation's next text then has
/// nothing to wait for, rightly).
const TURNS_KEPT: usize = 65_536;

/// Longest a batch may take before its senders are answered `unavailable`
/// (CONTRACT: within 2 s when the database is gone). A full batch takes a
/// few hundred milliseconds at most here.
const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1800);

/// Appends queued for the writer beyond which senders wait to enqueue
/// (backpressure on the connections, not unbounded memory).
const QUEUE: usize = 8192;

pub(crate) type Reply = Result<Appended, AppendError>;

pub(crate) struct Pending {
    pub new: NewMessage,
    reply: oneshot::Sender<Reply>,
}

/// The handle connections append through. Cloning shares the one writer.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Pending>,
    /// Asks for a turn after a conversation's stored texts (see
    /// [`Writer::settled`]).
    fences: mpsc::UnboundedSender<(ConversationId, oneshot::Sender<PublishTurn>)>,
}

impl Writer {
    /// Starts the writer task on `db`'s write connection; with webhooks
    /// on, each batch also writes its messages' events to the outbox.
    pub(crate) fn spawn(db: &crate::Database) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (fences, fences_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db.clone(), rx, fences_rx));
        Self { tx, fences }
    }

    /// A publish turn after the last text of `conversation` this writer
    /// stored. Asked after a change committed (a transfer): every batch
    /// committed before it has handed out its turns already, since the
    /// writer answers between batches.
    pub(crate) async fn settled(&self, conversation: ConversationId) -> PublishTurn {
        let (reply, answer) = oneshot::channel();
        if self.fences.send((conversation, reply)).is_err() {
            return PublishTurn::default();
        }
        answer.await.unwrap_or_default()
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

type Fence = (ConversationId, oneshot::Sender<PublishTurn>);

async fn run(
    db: crate::Database,
    mut rx: mpsc::Receiver<Pending>,
    mut fences: mpsc::UnboundedReceiver<Fence>,
) {
    // Per conversation, the release of the last text this writer stored:
    // the next one stored waits for it before publishing.
    let mut turns: HashMap<ConversationId, (i64, oneshot::Receiver<()>)> = HashMap::new();
    let mut batch = Vec::new();
    loop {
        let n = tokio::select! {
            biased;
            Some(fence) = fences.recv() => {
                fence_turn(fence, &mut turns);
                continue;
            }
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
        };
        if n == 0 {
            break;
        }
        let started = Instant::now();
        let webhooks = db.webhooks();
        let committed =
            tokio::time::timeout(BATCH_TIMEOUT, commit_batch(db.write(), &batch, webhooks)).await;
        let outcomes = match committed {
            Ok(outcomes) => {
                if webhooks
                    && outcomes
                        .iter()
                        .any(|o| matches!(o, Ok(Appended::Stored { .. })))
                {
                    db.events_stored();
                }
                outcomes
            }
            Err(_) => {
                // A database that stopped answering without closing the
                // connection: the senders hear `unavailable` instead of
                // waiting for TCP to give up. (Dropping the transaction rolls
                // it back; if the commit itself was under way, a retry with
                // the same client_msg_id finds the stored text.)
                tracing::error!(batch = batch.len(), "a batch of messages timed out");
                batch
                    .iter()
                    .map(|_| {
                        Err(AppendError::Storage(storage(anyhow::anyhow!(
                            "the database did not answer within {BATCH_TIMEOUT:?}"
                        ))))
                    })
                    .collect()
            }
        };
        finish(std::mem::take(&mut batch), outcomes, started, &mut turns);
    }
}

/// A turn chained after the conversation's last stored text, taking its
/// place: the text stored next waits for this one in turn.
fn fence_turn(
    (conversation, reply): Fence,
    turns: &mut HashMap<ConversationId, (i64, oneshot::Receiver<()>)>,
) {
    let turn = match turns.remove(&conversation) {
        Some((seq, previous)) => {
            let (done, released) = oneshot::channel();
            turns.insert(conversation, (seq, released));
            PublishTurn::new(Some(previous), done)
        }
        // Nothing stored here lately: nothing to wait for.
        None => PublishTurn::default(),
    };
    let _ = reply.send(turn);
}

/// Hands out publish turns (in commit order) and answers the senders.
fn finish(
    batch: Vec<Pending>,
    mut outcomes: Vec<Reply>,
    started: Instant,
    turns: &mut HashMap<ConversationId, (i64, oneshot::Receiver<()>)>,
) {
    if turns.len() > TURNS_KEPT {
        // Forget only the turns already released (their text was published
        // or its sender gave up); a text still publishing keeps its place.
        turns.retain(|_, (_, released)| {
            matches!(
                released.try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            )
        });
    }
    for outcome in &mut outcomes {
        if let Ok(Appended::Stored { message, turn, .. }) = outcome {
            let (done, released) = oneshot::channel();
            let after = match turns.remove(&message.conversation_id()) {
                Some((seq, previous)) if seq + 1 == message.seq() => Some(previous),
                _ => None,
            };
            turns.insert(message.conversation_id(), (message.seq(), released));
            *turn = PublishTurn::new(after, done);
        }
    }
    metrics::histogram!("qc_store_batch_size").record(batch.len() as f64);
    metrics::histogram!("qc_store_batch_seconds").record(started.elapsed().as_secs_f64());
    for (pending, outcome) in batch.into_iter().zip(outcomes) {
        // The sender may have gone (connection closed): the message is
        // stored all the same and shows in history.
        let _ = pending.reply.send(outcome);
    }
}

/// Commits one batch, retrying once when another writer (another node on
/// PostgreSQL) stored one of its `client_msg_id`s between our duplicate
/// check and our insert: the retry's check then sees it.
async fn commit_batch(db: &DatabaseConnection, batch: &[Pending], webhooks: bool) -> Vec<Reply> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match db.get_database_backend() {
            DbBackend::Postgres => {
                postgres::try_commit(db.get_postgres_connection_pool(), batch, webhooks).await
            }
            _ => sqlite::try_commit(db.get_sqlite_connection_pool(), batch, webhooks).await,
        };
        match result {
            Ok(outcomes) => return outcomes,
            Err(CommitError::Duplicate(e)) if attempt == 1 => {
                tracing::debug!(error = %e, "concurrent client_msg_id in a batch; retrying it once");
            }
            Err(CommitError::Duplicate(e) | CommitError::Failed(e)) => {
                tracing::error!(error = %e, batch = batch.len(), "a batch of messages was not stored");
                return batch
                    .iter()
                    .map(|_| {
                        Err(AppendError::Storage(storage(anyhow::anyhow!(
                            "storing failed: {e}"
                        ))))
                    })
                    .collect();
            }
        }
    }
}

/// Why a batch was not committed (it was rolled back whole).
pub(crate) enum CommitError {
    /// A `client_msg_id` stored meanwhile by another writer: worth one retry.
    Duplicate(String),
    Failed(String),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Duplicate(e) | Self::Failed(e) => f.write_str(e),
        }
    }
}
