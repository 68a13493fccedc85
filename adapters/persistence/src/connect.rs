//! Opening the database and applying migrations.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use qc_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection};
use tokio::sync::{Notify, oneshot};

/// The open database: a pool for reads and a pool for writes.
///
/// On a SQLite file the write pool has exactly one connection. SQLite lets
/// one writer in at a time, and writers that find the lock taken retry on a
/// sleep schedule (1, 2, 5 … 100 ms), which puts tens of milliseconds on the
/// slowest messages. One write connection makes concurrent writers queue
/// in-process instead, in FIFO order, without sleeping; reads use the other
/// pool, beside the writer (WAL). In-memory SQLite and PostgreSQL use one
/// pool for both.
#[derive(Clone, Debug)]
pub struct Database {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// A SQLite file's checkpointer runs while any clone lives.
    _checkpointer: Option<Arc<oneshot::Sender<()>>>,
    /// Whether changes write their webhook events to the outbox.
    webhooks: bool,
    /// Told after a commit that wrote events (the dispatcher's wake-up).
    stored_events: Arc<Notify>,
}

impl Database {
    pub(crate) fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    pub(crate) fn write(&self) -> &DatabaseConnection {
        &self.write
    }

    /// From now on, every change this handle's repositories make also
    /// writes its webhook event to the outbox, in the same transaction.
    /// Set it before building the repositories (the message writer reads
    /// it when it starts).
    #[must_use]
    pub fn with_webhooks(mut self, on: bool) -> Self {
        self.webhooks = on;
        self
    }

    pub(crate) fn webhooks(&self) -> bool {
        self.webhooks
    }

    /// Notified after each commit on this handle that wrote webhook events.
    pub fn stored_events(&self) -> Arc<Notify> {
        self.stored_events.clone()
    }

    /// A commit wrote webhook events.
    pub(crate) fn events_stored(&self) {
        self.stored_events.notify_one();
    }

    /// Whether this is a PostgreSQL database (several nodes may share it).
    pub fn is_postgres(&self) -> bool {
        self.write.get_database_backend() == sea_orm::DbBackend::Postgres
    }

    /// Runs raw SQL on the write pool (tooling and tests).
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn execute_sql(&self, sql: &str) -> anyhow::Result<()> {
        self.write.execute_unprepared(sql).await?;
        Ok(())
    }
}

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
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            let db = open(url, 1).await?;
            return Ok(Database {
                read: db.clone(),
                write: db,
                _checkpointer: None,
                webhooks: false,
                stored_events: Arc::default(),
            });
        }
        let write = open_with(url, 1, Role::Writer).await?;
        let read = open(url, 8).await?;
        let checkpointer = Some(spawn_checkpointer(read.clone()));
        Ok(Database {
            read,
            write,
            _checkpointer: checkpointer,
            webhooks: false,
            stored_events: Arc::default(),
        })
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let db = open(url, 16).await?;
        Ok(Database {
            read: db.clone(),
            write: db,
            _checkpointer: None,
            webhooks: false,
            stored_events: Arc::default(),
        })
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite://… or postgres://…)");
    }
}

/// How long a statement waits for a pooled connection. When the database
/// goes away every new connection attempt fails; this bounds how long a
/// sender waits for its `unavailable` (CONTRACT: within 2 s).
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Which side of a SQLite file a pool is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The one write connection: it never checkpoints itself.
    Writer,
    Any,
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Moves SQLite's checkpoints off the write path. By default the
/// committing connection checkpoints every 1,000 WAL pages, and that
/// checkpoint fsyncs the database file inside a commit: every few hundred
/// commits one sender waited for the disk (p99 17 ms at 5,000 texts/s here,
/// 7 ms on tmpfs). With automatic checkpoints off on the writer, a read
/// connection runs a PASSIVE checkpoint ten times a second: it takes no
/// write lock, so commits go on while it syncs, and the WAL stays small, so
/// each sync is short (every 500 ms, the larger syncs still stalled commits
/// behind them: p99 10-126 ms; every 100 ms: 6.3-6.7 ms, same load).
///
/// Runs until the returned handle's last clone is dropped (the database
/// closes with it), then stops.
fn spawn_checkpointer(db: DatabaseConnection) -> Arc<oneshot::Sender<()>> {
    let (alive, mut stop) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
            }
        }
    });
    Arc::new(alive)
}

async fn open(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    open_with(url, max_connections, Role::Any).await
}

async fn open_with(
    url: &str,
    max_connections: u32,
    role: Role,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A ping before every acquire is a round trip per batch (to the
        // SQLite thread, or to PostgreSQL); a dead connection fails its
        // statement instead, the batch is answered `unavailable`, and the
        // pool replaces it.
        .test_before_acquire(false)
        .max_connections(max_connections)
        .min_connections(1);
    if url.starts_with("sqlite:") {
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if role == Role::Writer {
                o.pragma("wal_autocheckpoint", "0")
            } else {
                o
            }
        });
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
    Migrator::up(&db.write, None)
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
