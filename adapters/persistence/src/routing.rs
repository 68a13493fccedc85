//! Automatic assignment's database side: every decision that could put an
//! agent above capacity or assign a conversation twice runs in one
//! transaction under the routing lock, one at a time across every node:
//! its first statement writes the one row of `routing_lock`, which holds
//! the row (PostgreSQL) or the database's write lock (SQLite, before the
//! transaction has read anything, so even another process on the same
//! file cannot commit under it) until the commit. Never a check in one
//! statement and an act in another outside it.
//!
//! Conversations are claimed in id order, the order the message writer
//! locks them in, so the two never wait for each other in a cycle.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use qc_application::ports::{Claim, RepositoryError, RouteOutcome, Routed, Transfer};
use qc_domain::{Candidate, ConversationId, PresenceStatus, RoutingRule, UserId, Waiting};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, TransactionTrait};

use crate::Database;
use crate::conversations::storage;
use crate::outbox;
use crate::sql::{exec, statement};
use qc_application::webhooks::events;

/// Waiting conversations one decision looks at (oldest first); the rest
/// wait for the next one, a moment later.
const WAITING_PER_DECISION: u64 = 500;

/// Takes the routing lock for the rest of `txn`: MUST be its first
/// statement. A holder that does not let go within 2 s fails the waiter
/// (PostgreSQL's `lock_timeout`) instead of holding its connection.
async fn lock(txn: &DatabaseTransaction) -> Result<(), RepositoryError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL lock_timeout = '2s'")
            .await
            .map_err(storage)?;
    }
    txn.execute_unprepared("UPDATE routing_lock SET n = n + 1 WHERE id = 1")
        .await
        .map_err(storage)?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

async fn open_of(txn: &DatabaseTransaction, agent: &UserId) -> Result<i64, RepositoryError> {
    Ok(Count::find_by_statement(statement(
        txn,
        "SELECT COUNT(*) AS n FROM conversations WHERE support_id = ? AND status = 'open'",
        vec![agent.as_str().into()],
    ))
    .one(txn)
    .await
    .map_err(storage)?
    .map_or(0, |c| c.n))
}

async fn assigned_now(
    txn: &DatabaseTransaction,
    agent: &UserId,
    now: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    exec(
        txn,
        "UPDATE agents SET last_assigned_at = ? WHERE id = ?",
        vec![now.into(), agent.as_str().into()],
    )
    .await
    .map(|_| ())
}

const CLAIM: &str = "UPDATE conversations SET support_id = ? \
                     WHERE id = ? AND status = 'open' AND support_id IS NULL";

pub(crate) async fn try_assign_within(
    db: &Database,
    id: ConversationId,
    agent: &UserId,
    capacity: u32,
) -> Result<Claim, RepositoryError> {
    let txn = db.write().begin().await.map_err(storage)?;
    lock(&txn).await?;
    let claimed = exec(
        &txn,
        CLAIM,
        vec![agent.as_str().into(), id.to_string().into()],
    )
    .await?;
    if claimed == 0 {
        // Closed or taken: that answer wins over the capacity.
        txn.rollback().await.map_err(storage)?;
        return Ok(Claim::Lost);
    }
    if open_of(&txn, agent).await? > i64::from(capacity) {
        txn.rollback().await.map_err(storage)?;
        return Ok(Claim::AtCapacity);
    }
    let now = Utc::now();
    assigned_now(&txn, agent, now).await?;
    let event = db
        .webhooks()
        .then(|| events::conversation_assigned(id, Some(agent), None, now));
    outbox::commit_with(db, txn, event.as_slice()).await?;
    Ok(Claim::Assigned)
}

#[derive(FromQueryResult)]
struct LastSeq {
    last_seq: i64,
}

pub(crate) async fn try_transfer(
    db: &Database,
    id: ConversationId,
    from: &UserId,
    to: Option<UserId>,
    capacity: Option<u32>,
) -> Result<Transfer, RepositoryError> {
    let txn = db.write().begin().await.map_err(storage)?;
    if capacity.is_some() {
        lock(&txn).await?;
    }
    // One conditional UPDATE: a close, another transfer or a batch of
    // texts racing this one either happened before (and its seq is in
    // last_seq) or waits for it.
    let moved = LastSeq::find_by_statement(statement(
        &txn,
        "UPDATE conversations SET support_id = ? \
         WHERE id = ? AND status = 'open' AND support_id = ? RETURNING last_seq",
        vec![
            to.as_ref().map(|u| u.to_string()).into(),
            id.to_string().into(),
            from.as_str().into(),
        ],
    ))
    .one(&txn)
    .await
    .map_err(storage)?;
    let Some(LastSeq { last_seq }) = moved else {
        txn.rollback().await.map_err(storage)?;
        return Ok(Transfer::Lost);
    };
    if let (Some(capacity), Some(agent)) = (capacity, &to)
        && open_of(&txn, agent).await? > i64::from(capacity)
    {
        txn.rollback().await.map_err(storage)?;
        return Ok(Transfer::AtCapacity);
    }
    // The new agent was just assigned one; an agent who handed one back
    // counts as just assigned too, so routing does not give it straight
    // back to them while someone else has room.
    let now = Utc::now();
    assigned_now(&txn, to.as_ref().unwrap_or(from), now).await?;
    let event = db
        .webhooks()
        .then(|| events::conversation_assigned(id, to.as_ref(), Some(from), now));
    outbox::commit_with(db, txn, event.as_slice()).await?;
    Ok(Transfer::Moved { last_seq })
}

#[derive(FromQueryResult)]
struct WaitingRow {
    id: String,
    client_id: String,
    subject: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct CandidateRow {
    id: String,
    last_assigned_at: Option<DateTime<Utc>>,
    open: i64,
}

pub(crate) async fn route(
    db: &Database,
    online: &[UserId],
    capacity: u32,
    rule: Arc<dyn RoutingRule>,
) -> Result<RouteOutcome, RepositoryError> {
    let txn = db.write().begin().await.map_err(storage)?;
    lock(&txn).await?;
    let waiting = WaitingRow::find_by_statement(statement(
        &txn,
        "SELECT id, client_id, subject, created_at FROM conversations \
         WHERE status = 'open' AND support_id IS NULL ORDER BY created_at, id LIMIT ?",
        vec![i64::try_from(WAITING_PER_DECISION).unwrap_or(500).into()],
    ))
    .all(&txn)
    .await
    .map_err(storage)?;
    let mut owners = std::collections::HashMap::new();
    let waiting: Vec<Waiting> = waiting
        .into_iter()
        .map(|w| {
            let id: ConversationId = w.id.parse().map_err(storage)?;
            let customer = UserId::new(w.client_id).map_err(storage)?;
            owners.insert(id, customer.clone());
            Ok(Waiting::new(id, w.created_at, customer, w.subject))
        })
        .collect::<Result<_, RepositoryError>>()?;
    if waiting.is_empty() || online.is_empty() {
        let outcome = queue_after(&txn, &waiting, &[]).await?;
        txn.commit().await.map_err(storage)?;
        return Ok(outcome);
    }
    let marks = vec!["?"; online.len()].join(", ");
    let candidates = CandidateRow::find_by_statement(statement(
        &txn,
        &format!(
            "SELECT a.id, a.last_assigned_at, \
             (SELECT COUNT(*) FROM conversations c WHERE c.support_id = a.id AND c.status = 'open') \
             AS open FROM agents a WHERE a.away = false AND a.id IN ({marks})"
        ),
        online.iter().map(|u| u.as_str().into()).collect(),
    ))
    .all(&txn)
    .await
    .map_err(storage)?;
    let candidates: Vec<Candidate> = candidates
        .into_iter()
        .map(|c| {
            Ok(Candidate::new(
                UserId::new(c.id).map_err(storage)?,
                PresenceStatus::Online,
                u32::try_from(c.open).unwrap_or(u32::MAX),
                c.last_assigned_at,
            ))
        })
        .collect::<Result<_, RepositoryError>>()?;
    let now = Utc::now();
    let mut plan = rule.plan(&waiting, &candidates, capacity, now);
    // A rule of one's own is checked, not trusted: only candidates, never
    // above capacity, each conversation once (what breaks it is skipped).
    let mut room: std::collections::HashMap<UserId, u32> = candidates
        .iter()
        .map(|c| (c.id().clone(), capacity.saturating_sub(c.open())))
        .collect();
    let mut seen = std::collections::HashSet::new();
    plan.retain(|a| {
        let fits = room.get_mut(a.agent()).is_some_and(|r| {
            if *r == 0 {
                return false;
            }
            *r -= 1;
            true
        });
        fits && seen.insert(a.conversation())
    });
    plan.sort_by_key(|a| a.conversation().to_string());
    let mut routed = Vec::with_capacity(plan.len());
    for assignment in plan {
        let claimed = exec(
            &txn,
            CLAIM,
            vec![
                assignment.agent().as_str().into(),
                assignment.conversation().to_string().into(),
            ],
        )
        .await?;
        if claimed == 1 {
            assigned_now(&txn, assignment.agent(), now).await?;
            if let Some(customer) = owners.remove(&assignment.conversation()) {
                routed.push(Routed {
                    conversation: assignment.conversation(),
                    agent: assignment.agent().clone(),
                    customer,
                });
            }
        }
    }
    let mut outcome = queue_after(&txn, &waiting, &routed).await?;
    let events: Vec<_> = if db.webhooks() {
        routed
            .iter()
            .map(|r| events::conversation_assigned(r.conversation, Some(&r.agent), None, now))
            .collect()
    } else {
        Vec::new()
    };
    outbox::commit_with(db, txn, &events).await?;
    outcome.routed = routed;
    Ok(outcome)
}

/// The queue once `routed` left it: counted when the decision saw only
/// part of it.
async fn queue_after(
    txn: &DatabaseTransaction,
    waiting: &[Waiting],
    routed: &[Routed],
) -> Result<RouteOutcome, RepositoryError> {
    let left: Vec<&Waiting> = waiting
        .iter()
        .filter(|w| !routed.iter().any(|r| r.conversation == w.id()))
        .collect();
    let waiting_now = if waiting.len() as u64 >= WAITING_PER_DECISION {
        let all = Count::find_by_statement(statement(
            txn,
            "SELECT COUNT(*) AS n FROM conversations WHERE status = 'open' AND support_id IS NULL",
            vec![],
        ))
        .one(txn)
        .await
        .map_err(storage)?
        .map_or(0, |c| c.n);
        u64::try_from(all).unwrap_or(0)
    } else {
        left.len() as u64
    };
    Ok(RouteOutcome {
        routed: Vec::new(),
        waiting: waiting_now,
        oldest_waiting: left.first().map(|w| w.created_at()),
    })
}
