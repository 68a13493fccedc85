//! [`AgentRepository`] on sea-orm: the `agents` table, with each agent's
//! open conversations counted in the same query.

use async_trait::async_trait;
use qc_application::ports::{AgentRecord, AgentRepository, RepositoryError};
use qc_domain::UserId;
use sea_orm::{ConnectionTrait, FromQueryResult, TransactionTrait, Value};

use crate::Database;
use crate::conversations::storage;
use crate::sql::{exec, statement};

const SEEN: &str = "INSERT INTO agents (id, away, first_seen_at) VALUES (?, ?, ?) \
                    ON CONFLICT (id) DO NOTHING";

const LIST: &str = "SELECT a.id, a.away, \
     (SELECT COUNT(*) FROM conversations c WHERE c.support_id = a.id AND c.status = 'open') \
     AS open_conversations FROM agents a";

#[derive(FromQueryResult)]
struct Row {
    id: String,
    away: bool,
    open_conversations: i64,
}

impl Row {
    fn into_record(self) -> Result<AgentRecord, RepositoryError> {
        Ok(AgentRecord {
            id: UserId::new(self.id).map_err(storage)?,
            away: self.away,
            open_conversations: u64::try_from(self.open_conversations).unwrap_or(0),
        })
    }
}

#[derive(Clone)]
pub struct SeaOrmAgentRepository {
    db: Database,
}

impl SeaOrmAgentRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn query(
        &self,
        db: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<AgentRecord>, RepositoryError> {
        Row::find_by_statement(statement(db, sql, values))
            .all(db)
            .await
            .map_err(storage)?
            .into_iter()
            .map(Row::into_record)
            .collect()
    }
}

fn seen_values(agent: &UserId) -> Vec<Value> {
    vec![
        agent.as_str().into(),
        false.into(),
        chrono::Utc::now().into(),
    ]
}

#[async_trait]
impl AgentRepository for SeaOrmAgentRepository {
    async fn seen(&self, agent: &UserId) -> Result<(), RepositoryError> {
        exec(self.db.write(), SEEN, seen_values(agent)).await?;
        Ok(())
    }

    async fn find(&self, agent: &UserId) -> Result<Option<AgentRecord>, RepositoryError> {
        let sql = format!("{LIST} WHERE a.id = ?");
        Ok(self
            .query(self.db.read(), &sql, vec![agent.as_str().into()])
            .await?
            .into_iter()
            .next())
    }

    async fn set_away(&self, agent: &UserId, away: bool) -> Result<bool, RepositoryError> {
        let txn = self.db.write().begin().await.map_err(storage)?;
        exec(&txn, SEEN, seen_values(agent)).await?;
        let sql = format!("{LIST} WHERE a.id = ?");
        let before = self
            .query(&txn, &sql, vec![agent.as_str().into()])
            .await?
            .first()
            .is_some_and(|a| a.away);
        exec(
            &txn,
            "UPDATE agents SET away = ? WHERE id = ?",
            vec![away.into(), agent.as_str().into()],
        )
        .await?;
        txn.commit().await.map_err(storage)?;
        Ok(before)
    }

    async fn list(&self) -> Result<Vec<AgentRecord>, RepositoryError> {
        let sql = format!("{LIST} ORDER BY a.id");
        self.query(self.db.read(), &sql, vec![]).await
    }
}
