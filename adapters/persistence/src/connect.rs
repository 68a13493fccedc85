//! Opening the database and applying migrations.

use std::time::Duration;

use anyhow::Context;
use qc_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection};

/// An open connection pool.
pub type Database = DatabaseConnection;

/// Connects to `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite gets WAL (readers never block the writer), `synchronous=NORMAL`
/// (durable across process crashes; WAL's documented trade-off on power
/// loss), a busy timeout so concurrent writers queue instead of failing, and
/// several pooled connections so history reads run beside writes. An
/// in-memory SQLite database is per connection, so it gets exactly one.
///
/// # Errors
/// When the URL is not a supported database or it cannot be reached.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        options.max_connections(16).min_connections(1);
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite://… or postgres://…)");
    }
    let db = sea_orm::Database::connect(options)
        .await
        .with_context(|| format!("failed to connect to the database at {}", redact(url)))?;
    db.execute_unprepared("SELECT 1")
        .await
        .context("database did not answer")?;
    Ok(db)
}

/// Applies every pending migration.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &Database) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("failed to apply migrations")
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Creates a fresh, empty PostgreSQL database named `name` through
/// `admin_url` and returns its URL. For tests and tooling that need a
/// database of their own so runs never collide.
///
/// # Errors
/// When the server is unreachable or refuses.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name must be [A-Za-z0-9_]"
    );
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .with_context(|| format!("PostgreSQL unreachable at {}", redact(admin_url)))?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .context("CREATE DATABASE failed")?;
    admin.close().await.ok();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}
