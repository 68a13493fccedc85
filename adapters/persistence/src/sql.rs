//! Hand-written SQL for both databases: the statements are written with `?`
//! placeholders once, and numbered for PostgreSQL here.

use qc_application::ports::RepositoryError;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::conversations::storage;

/// `?` placeholders as the backend wants them (`$1`, `$2`… on PostgreSQL).
pub(crate) fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `sql` with `values`, for `db`'s backend.
pub(crate) fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    Statement::from_sql_and_values(backend, placeholders(backend, sql), values)
}

/// Runs `sql`; returns the rows it changed.
pub(crate) async fn exec(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, RepositoryError> {
    Ok(db
        .execute_raw(statement(db, sql, values))
        .await
        .map_err(storage)?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(
            placeholders(DbBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(placeholders(DbBackend::Sqlite, "a = ?"), "a = ?");
    }
}
