//! Test harness: the real server on 127.0.0.1:0 with its own database (a
//! SQLite file, or a fresh PostgreSQL database when `QC_TEST_POSTGRES_URL` is
//! set), real HTTP and WebSocket clients, and typed helpers.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quickconnect::{Application, Config, Extensions, Settings};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a polled condition ([`wait_until`]) may take before the test
/// fails: a hang guard, not a duration under test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// Between two looks at a polled condition.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Polls `condition` (a server-side state: an HTTP listing, a table, a
/// metric) until it holds; panics naming `what` past [`WAIT_LIMIT`]. The
/// state is the signal: the loop ends when it holds, not when a clock says.
pub async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {WAIT_LIMIT:?}: {what}"
        );
        // The pause between two looks, not a wait for something to happen.
        tokio::time::sleep(POLL_EVERY).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub db_url: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
    /// Held by the first node of a two-node test: see [`two_node_turn`].
    pub(crate) serial: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// Two-node tests run one at a time. Each is two servers, a shared
/// database and Redis, and asserts on cross-node delivery within a few
/// seconds; several at once on two cores (with the rest of the suite)
/// starved the nodes' Redis round trips past what the tests allow.
pub async fn two_node_turn() -> tokio::sync::OwnedMutexGuard<()> {
    static TURN: std::sync::OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
        std::sync::OnceLock::new();
    TURN.get_or_init(Default::default)
        .clone()
        .lock_owned()
        .await
}

/// A user with a valid token.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
}

pub fn mint(role: &str, sub: &str, ttl: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "role": role, "exp": now + ttl, "iat": now }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A fresh database URL for one test.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    if let Ok(admin) = std::env::var("QC_TEST_POSTGRES_URL") {
        let name = format!(
            "qc_it_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let url = qc_persistence::create_postgres_database(&admin, &name)
            .await
            .expect("QC_TEST_POSTGRES_URL is set but PostgreSQL is unusable");
        return (url, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("qc.db").display());
    (url, Some(dir))
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// On a SQLite file whatever `QC_TEST_POSTGRES_URL` says: for tests of the
/// WebSocket layer whose timing must not include other tests' PostgreSQL
/// `CREATE DATABASE` stalls.
pub async fn spawn_on_sqlite(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("qc.db").display());
    spawn_on(url, Some(dir), configure).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, dir) = fresh_database().await;
    spawn_on(url, dir, configure).await
}

pub async fn spawn_on(
    db_url: String,
    dir: Option<tempfile::TempDir>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_with_rules(db_url, dir, configure, Extensions::default()).await
}

/// A server on `db_url` running domain rules of its own
/// (`Application::build_with`).
pub async fn spawn_with_rules(
    db_url: String,
    dir: Option<tempfile::TempDir>,
    configure: impl FnOnce(&mut Settings),
    rules: Extensions,
) -> TestApp {
    let mut s = Settings {
        bind: Some("127.0.0.1:0".into()),
        database_url: db_url.clone(),
        jwt_secret: Some(SECRET.into()),
        ..Settings::default()
    };
    configure(&mut s);
    let config = Config::from_settings(s).expect("valid test settings");
    let app = Application::build_with(&config, rules)
        .await
        .expect("app builds");
    let addr = app.addr();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(async move {
        app.run_until_stopped().await.expect("server runs");
    });
    TestApp {
        addr,
        http: reqwest::Client::new(),
        db_url,
        shutdown,
        server,
        _dir: dir,
        serial: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub fn user(&self, role: &str) -> User {
        user_with_sub(role, &ulid::Ulid::generate().to_string())
    }

    /// One series of `GET /metrics` as exported (`name{label="value"}`),
    /// 0 while it is not exported yet. The recorder is the test process's,
    /// shared by every server in it: a test may only count on a counter
    /// having grown by at least what it caused.
    pub async fn metric(&self, series: &str) -> f64 {
        let body = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    /// `GET /healthz`'s status.
    pub async fn healthz(&self) -> u16 {
        self.http
            .get(self.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Stops the server gracefully and waits for it; keeps the database.
    pub async fn stop(self) -> (String, Option<tempfile::TempDir>) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .expect("server stops")
            .unwrap();
        (self.db_url, self._dir)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Opens a conversation as `client`; returns its JSON.
    pub async fn open_conversation(&self, client: &User) -> Value {
        let r = self
            .post(
                "/conversations",
                &client.token,
                json!({ "subject": "order" }),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    pub async fn assign(&self, agent: &User, conversation_id: &str) -> reqwest::Response {
        self.post(
            &format!("/conversations/{conversation_id}/assign"),
            &agent.token,
            json!({}),
        )
        .await
    }

    pub async fn close(&self, who: &User, conversation_id: &str) -> reqwest::Response {
        self.post(
            &format!("/conversations/{conversation_id}/close"),
            &who.token,
            json!({}),
        )
        .await
    }

    /// All messages of a conversation, oldest first, following cursors.
    pub async fn all_messages(&self, who: &User, conversation_id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = format!("/conversations/{conversation_id}/messages?limit=200");
        loop {
            let r = self.get(&path, &who.token).await;
            assert_eq!(r.status(), 200);
            let page: Value = r.json().await.unwrap();
            let mut items = page["items"].as_array().unwrap().clone();
            items.extend(out);
            out = items;
            match page["next_cursor"].as_str() {
                Some(c) => {
                    path = format!("/conversations/{conversation_id}/messages?limit=200&before={c}")
                }
                None => return out,
            }
        }
    }

    /// A client and an agent in one assigned conversation, both connected.
    pub async fn chat_pair(&self) -> Pair {
        let client = self.user("client");
        let agent = self.user("support");
        let conv = self.open_conversation(&client).await;
        let cid = conv["id"].as_str().unwrap().to_owned();
        assert_eq!(self.assign(&agent, &cid).await.status(), 200);
        let client_ws = self.connect("/chats/clients", &client.token).await;
        let agent_ws = self.connect("/chats/supports", &agent.token).await;
        Pair {
            client,
            agent,
            cid,
            client_ws,
            agent_ws,
        }
    }

    /// Connects with the token in the Authorization header.
    pub async fn connect(&self, path: &str, token: &str) -> Ws {
        let mut req = self.ws_url(path).into_client_request().unwrap();
        req.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        self.connect_request(req).await.expect("upgrade succeeds")
    }

    pub async fn connect_request(
        &self,
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let (inner, _resp) = tokio_tungstenite::connect_async(req).await?;
        Ok(Ws {
            inner,
            presence: false,
        })
    }

    /// The HTTP status of a refused upgrade (panics if it was accepted).
    pub async fn upgrade_status(
        &self,
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> u16 {
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("upgrade unexpectedly accepted"),
        }
    }
}

pub struct Pair {
    pub client: User,
    pub agent: User,
    pub cid: String,
    pub client_ws: Ws,
    pub agent_ws: Ws,
}

pub struct Ws {
    pub inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Whether `system/presence` frames are returned. Off by default: a
    /// test about something else must not depend on when a participant's
    /// presence changed; the presence tests switch it on.
    presence: bool,
}

impl Ws {
    pub fn from_stream(inner: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self {
            inner,
            presence: false,
        }
    }

    /// From now on, `recv*` returns presence frames too.
    pub fn with_presence(mut self) -> Self {
        self.presence = true;
        self
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        self.inner.send(Message::text(s)).await.expect("send");
    }

    /// The next JSON text frame within `d`, skipping control frames; `None`
    /// on timeout. Panics if the connection closes.
    pub async fn recv_within(&mut self, d: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let next = tokio::time::timeout_at(deadline, self.inner.next())
                .await
                .ok()?;
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("server sends JSON");
                    if !self.presence && v["sub_type"] == "presence" {
                        continue;
                    }
                    return Some(v);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        self.recv_within(RECV_TIMEOUT)
            .await
            .expect("a frame within 5 s")
    }

    /// Every frame the server sends this connection up to its answer to a
    /// barrier: a frame it refuses on the spot (an unknown type), tagged so
    /// that its refusal is recognised. The connection's reader acts on the
    /// frames it read before the barrier first (a text's store excepted: it
    /// may still be running), and the refusal goes through the same outbound
    /// queue as everything else for this connection. So on one node the
    /// frames returned are all that was queued for this connection by then:
    /// what an HTTP call that has been answered published, what another
    /// connection's frame whose answer or echo has been seen published, and
    /// this connection's own refusals. Takes a token of the connection's
    /// frame bucket (a rate-limited barrier is never answered).
    pub async fn until_barrier(&mut self) -> Vec<Value> {
        let tag = format!("barrier-{}", ulid::Ulid::generate());
        self.send(json!({ "type": "barrier", "conversation_id": tag }))
            .await;
        let mut before = Vec::new();
        loop {
            let f = self.recv().await;
            if f["sub_type"] == "error" && f["payload"]["conversation_id"] == tag.as_str() {
                assert_eq!(f["payload"]["code"], "invalid_message", "{f}");
                return before;
            }
            before.push(f);
        }
    }

    /// Asserts that nothing was queued for this connection: the answer to a
    /// barrier ([`Ws::until_barrier`]) is its next frame. Not a wait for
    /// time to pass: whatever the server had sent would come first.
    pub async fn expect_nothing_queued(&mut self) {
        let before = self.until_barrier().await;
        assert!(before.is_empty(), "expected no frame, got {before:?}");
    }

    /// Sends a WebSocket ping and returns the text frames that arrived
    /// before its pong. The server's reader answers a ping once it has read
    /// every frame sent before it and acted on all but texts (typing signals
    /// published, refusals queued; a text's store may still be running),
    /// and a ping passes the rate limits, which a barrier does not. The pong
    /// does not go through the outbound queue: frames queued before it may
    /// still come after it.
    pub async fn ping(&mut self) -> Vec<Value> {
        let tag = ulid::Ulid::generate().to_string();
        self.inner
            .send(Message::Ping(tag.clone().into_bytes().into()))
            .await
            .expect("send");
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        let mut before = Vec::new();
        loop {
            let next = tokio::time::timeout_at(deadline, self.inner.next())
                .await
                .expect("a pong within 5 s");
            match next {
                Some(Ok(Message::Pong(p))) if p == tag.as_bytes() => return before,
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("server sends JSON");
                    if self.presence || v["sub_type"] != "presence" {
                        before.push(v);
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a pong, got {other:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code (None when the
    /// TCP connection ended without a close frame).
    pub async fn recv_close_within(&mut self, d: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => panic!("connection not closed within {d:?}"),
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return None,
            }
        }
    }

    pub async fn recv_close(&mut self) -> Option<u16> {
        self.recv_close_within(RECV_TIMEOUT).await
    }
}

pub fn text(cid: &str, content: &str) -> Value {
    json!({ "type": "text", "conversation_id": cid, "content": content })
}

pub fn typing(cid: &str, sub_type: &str) -> Value {
    json!({ "type": "system", "sub_type": sub_type, "conversation_id": cid })
}

/// A user of `role` whose token carries `sub` (valid for an hour).
pub fn user_with_sub(role: &str, sub: &str) -> User {
    User {
        id: sub.to_owned(),
        token: mint(role, sub, 3600),
    }
}

/// The ids of a listing page's items, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts an error frame with `code`.
pub fn assert_error(frame: &Value, code: &str) {
    assert_eq!(frame["type"], "system", "{frame}");
    assert_eq!(frame["sub_type"], "error", "{frame}");
    assert_eq!(frame["payload"]["code"], code, "{frame}");
    assert!(
        frame["payload"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

/// RFC 3339 UTC with a `Z`.
pub fn assert_timestamp(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp must be a string: {v}"));
    assert!(s.ends_with('Z'), "{s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|_| panic!("not RFC 3339: {s}"));
}
