//! Repository tests on a real database: a SQLite file always, and the same
//! suite on PostgreSQL when `QC_TEST_POSTGRES_URL` names a server (CI sets it;
//! each run creates its own database there).

use chrono::{Duration, TimeZone, Utc};
use qc_application::ports::*;
use qc_domain::*;
use ulid::Ulid;

use crate::{
    SeaOrmAgentRepository, SeaOrmConversationRepository, SeaOrmMessageRepository, connect, migrate,
};

struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A new SQLite file, removed with the returned value.
fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        url: format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        _dir: Some(dir),
    }
}

/// A new database on the PostgreSQL of `QC_TEST_POSTGRES_URL`; panics
/// without one (the tests that call it are `#[ignore]`d).
async fn postgres() -> Db {
    let admin = std::env::var("QC_TEST_POSTGRES_URL")
        .expect("QC_TEST_POSTGRES_URL: this test needs PostgreSQL");
    let name = format!("qc_repo_{}", Ulid::generate().to_string().to_lowercase());
    let url = crate::create_postgres_database(&admin, &name)
        .await
        .expect("QC_TEST_POSTGRES_URL is set but PostgreSQL is unusable");
    Db { url, _dir: None }
}

/// Runs the test `$name(db)` twice: on a new SQLite file, and on a new
/// PostgreSQL database (`#[ignore]`d: it needs `QC_TEST_POSTGRES_URL` and
/// `--include-ignored`, which `.ci/run` gives it).
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::$name(crate::tests::sqlite()).await;
            }

            #[tokio::test]
            #[ignore = "needs PostgreSQL: set QC_TEST_POSTGRES_URL (.ci/run does, and runs it with --include-ignored)"]
            async fn on_postgres() {
                super::$name(crate::tests::postgres().await).await;
            }
        }
    };
}

mod outbox;

struct Repos {
    conversations: SeaOrmConversationRepository,
    messages: SeaOrmMessageRepository,
    agents: SeaOrmAgentRepository,
}

async fn repos(db: &Db) -> Repos {
    let conn = connect(&db.url).await.unwrap();
    migrate(&conn).await.unwrap();
    Repos {
        conversations: SeaOrmConversationRepository::new(conn.clone()),
        agents: SeaOrmAgentRepository::new(conn.clone()),
        messages: SeaOrmMessageRepository::new(conn),
    }
}

fn ident(id: &str, role: Role) -> Identity {
    Identity::new(UserId::new(id).unwrap(), role)
}

/// Who closes in these tests (the webhook event names them).
fn agent_id() -> UserId {
    UserId::new("agent-1").unwrap()
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap()
}

async fn new_conversation(r: &Repos, owner: &str, at: chrono::DateTime<Utc>) -> Conversation {
    let c = Conversation::open(
        ConversationId::from_ulid(Ulid::generate()),
        &ident(owner, Role::Client),
        Some("subject".into()),
        at,
    )
    .unwrap();
    assert!(r.conversations.insert(&c, 1000).await.unwrap());
    c
}

/// A text from `sender`: the customer when it is the owner's sub, else an
/// agent.
fn new_message(c: &Conversation, sender: &str, text: &str, cmid: Option<&str>) -> NewMessage {
    let side = if c.client_id().as_str() == sender {
        Side::Customer
    } else {
        Side::Agent
    };
    new_message_from(c, side, sender, text, cmid)
}

fn new_message_from(
    c: &Conversation,
    side: Side,
    sender: &str,
    text: &str,
    cmid: Option<&str>,
) -> NewMessage {
    new_message_of(
        c,
        User::new(side, UserId::new(sender).unwrap()),
        MessageKind::Text,
        text,
        cmid,
    )
}

fn new_message_of(
    c: &Conversation,
    sender: User,
    kind: MessageKind,
    text: &str,
    cmid: Option<&str>,
) -> NewMessage {
    NewMessage::write(
        MessageId::from_ulid(Ulid::generate()),
        c.id(),
        sender,
        kind,
        MessageContent::new(text).unwrap(),
        cmid.and_then(ClientMsgId::new),
        t0() + Duration::milliseconds(123),
    )
    .unwrap()
}

async fn stored(r: &Repos, m: NewMessage) -> Message {
    match r.messages.append(m).await.unwrap() {
        Appended::Stored { message, .. } => message,
        other => panic!("expected stored, got {other:?}"),
    }
}

/// A conversation of `owner` claimed by `agent-1`.
async fn claimed_conversation(r: &Repos, owner: &str, at: chrono::DateTime<Utc>) -> Conversation {
    let mut c = new_conversation(r, owner, at).await;
    let agent = UserId::new("agent-1").unwrap();
    assert!(r.conversations.try_assign(c.id(), &agent).await.unwrap());
    c.assign(&Identity::new(agent, Role::Support)).unwrap();
    c
}

on_both!(history_survives_reopening_the_database);
async fn history_survives_reopening_the_database(db: Db) {
    let (cid, ids) = {
        let r = repos(&db).await;
        let c = new_conversation(&r, "client-1", t0()).await;
        let a = stored(&r, new_message(&c, "client-1", "before restart", None)).await;
        (c.id(), vec![a.id()])
    };
    let r = repos(&db).await; // migrations again: a no-op
    let b = stored(
        &r,
        new_message(
            &r.conversations.find(cid).await.unwrap().unwrap(),
            "client-1",
            "after",
            None,
        ),
    )
    .await;
    assert_eq!(b.seq(), 2, "the counter survived");
    let page = r
        .messages
        .history(
            cid,
            HistoryQuery {
                cursor: HistoryCursor::Latest,
                viewer: Side::Agent,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items[0].id(), ids[0]);
    assert_eq!(page.items[0].content(), "before restart");
}

on_both!(the_desk_migration_backfills_unread_counters_and_agents);
/// A database from before the desk (migration 3) gets its unread counters
/// and its agents from the rows it has.
async fn the_desk_migration_backfills_unread_counters_and_agents(db: Db) {
    use qc_migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    let conn = connect(&db.url).await.unwrap();
    Migrator::up(conn.write(), Some(3)).await.unwrap();
    let c = ConversationId::from_ulid(Ulid::generate());
    let ts = "2025-11-18 10:30:00+00:00";
    let sql = [
        format!(
            "INSERT INTO conversations (id, client_id, support_id, status, subject, created_at, \
                 closed_at, last_seq) VALUES ('{c}', 'client-1', 'agent-1', 'open', NULL, '{ts}', NULL, 4)"
        ),
        format!(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, sender_side, message_type, \
                 content, client_msg_id, created_at, read_at) VALUES \
                 ('{}', '{c}', 1, 'client-1', 'customer', 'text', 'a', NULL, '{ts}', NULL), \
                 ('{}', '{c}', 2, 'client-1', 'customer', 'text', 'b', NULL, '{ts}', '{ts}'), \
                 ('{}', '{c}', 3, 'client-1', 'customer', 'text', 'c', NULL, '{ts}', NULL), \
                 ('{}', '{c}', 4, 'agent-1', 'agent', 'text', 'd', NULL, '{ts}', NULL)",
            Ulid::generate(),
            Ulid::generate(),
            Ulid::generate(),
            Ulid::generate()
        ),
    ];
    for statement in sql {
        conn.write().execute_unprepared(&statement).await.unwrap();
    }
    migrate(&conn).await.unwrap();
    let r = repos(&db).await;
    let agent = r
        .conversations
        .find_view(c, Side::Agent)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(agent.unread_count(), 2, "the customer's two unread texts");
    assert_eq!(agent.last_message().map(|m| m.seq()), Some(4));
    let customer = r
        .conversations
        .find_view(c, Side::Customer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(customer.unread_count(), 1);
    let agents = r.agents.list().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].id.as_str(), "agent-1");
    assert_eq!(agents[0].open_conversations, 1);
}

/// The repository ports' contract (`qc_application::testing`) on a new
/// SQLite file per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_the_repository_contract() {
    let mut files = Vec::new();
    qc_application::testing::repository_contract(|| {
        let db = sqlite();
        let url = db.url.clone();
        files.push(db);
        async move { contract_repositories(&url).await }
    })
    .await;
}

/// The same contract on a new PostgreSQL database per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QC_TEST_POSTGRES_URL (.ci/run does, and runs it with --include-ignored)"]
async fn postgres_keeps_the_repository_contract() {
    qc_application::testing::repository_contract(|| async {
        contract_repositories(&postgres().await.url).await
    })
    .await;
}

async fn contract_repositories(url: &str) -> qc_application::testing::Repositories {
    let db = connect(url).await.unwrap();
    migrate(&db).await.unwrap();
    qc_application::testing::Repositories::new(
        SeaOrmConversationRepository::new(db.clone()),
        SeaOrmMessageRepository::new(db.clone()),
        SeaOrmAgentRepository::new(db),
    )
}
