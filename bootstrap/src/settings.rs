//! Configuration: defaults, then `quickconnect.toml` (or `--config PATH`),
//! then `QC_*` environment variables, then command-line flags. Validated once
//! at start into a [`Config`], with messages that say what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use qc_domain::Role;
use qc_http::WsLimits;
use serde::{Deserialize, Serialize};

/// Raw settings, as read. Keys are the `QC_*` variables in lower case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `None`: `0.0.0.0:2530`, or `127.0.0.1:2530` in dev mode (no
    /// secret or key set), so a development server is not reachable from
    /// the network unless asked for.
    pub bind: Option<String>,
    pub database_url: String,
    pub broker_url: String,
    /// Redis channel prefix: nodes with the same prefix form one cluster.
    pub broker_prefix: String,
    pub jwt_secret: Option<String>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_cookie: String,
    /// Clock leeway for `exp` / `nbf`, seconds (at most 60).
    pub jwt_leeway_secs: u64,
    pub allowed_origins: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub log: String,
    pub log_format: String,
    pub ws_rate_per_sec: u32,
    pub ws_rate_burst: u32,
    pub ws_ping_secs: u64,
    /// Close a connection from which nothing arrived for this long.
    pub ws_idle_secs: u64,
    pub ws_queue_frames: usize,
    pub ws_queue_bytes: usize,
    /// Most WebSocket connections one user may hold on one node.
    pub ws_max_per_user: usize,
    /// Largest HTTP request body, in bytes.
    pub http_body_limit: usize,
    /// The per-user frame bucket (all of a user's connections on a node);
    /// 0 turns it off.
    pub user_rate_per_sec: u32,
    pub user_rate_burst: u32,
    /// Most TCP connections held at once; `None`: the open-file limit
    /// minus 256.
    pub max_connections: Option<usize>,
    /// A request head (the WebSocket upgrade included) must arrive within
    /// this many seconds of its first byte (or of the connection's start).
    pub http_header_timeout_secs: u64,
    /// An HTTP keep-alive connection with no request in flight is closed
    /// after this many seconds.
    pub http_idle_secs: u64,
    /// The per-user bucket for HTTP API requests; 0 turns it off.
    pub http_rate_per_sec: u32,
    pub http_rate_burst: u32,
    /// Most open conversations one customer may own.
    pub max_open_conversations: u32,
    /// `manual` (agents claim from the queue) or `auto` (the queue assigns
    /// itself, CONTRACT §5).
    pub routing: String,
    /// In `auto` routing, most open conversations assigned to one agent.
    pub agent_capacity: u32,
    /// Where webhook events are POSTed (CONTRACT §6); with the secret.
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the `QC-Signature` header.
    pub webhook_secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: None,
            database_url: "sqlite://quickconnect.db?mode=rwc".into(),
            broker_url: "memory://".into(),
            broker_prefix: "quickconnect".into(),
            jwt_secret: None,
            jwt_public_key_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_cookie: "access_token".into(),
            jwt_leeway_secs: 30,
            allowed_origins: None,
            tls_cert_file: None,
            tls_key_file: None,
            log: "info".into(),
            log_format: "text".into(),
            ws_rate_per_sec: 20,
            ws_rate_burst: 40,
            ws_ping_secs: 25,
            ws_idle_secs: 60,
            ws_queue_frames: 512,
            ws_queue_bytes: 1_048_576,
            ws_max_per_user: 32,
            http_body_limit: 16_384,
            user_rate_per_sec: 40,
            user_rate_burst: 80,
            max_connections: None,
            http_header_timeout_secs: 10,
            http_idle_secs: 30,
            http_rate_per_sec: 10,
            http_rate_burst: 30,
            max_open_conversations: 5,
            routing: "manual".into(),
            agent_capacity: 5,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "quickconnect",
    version,
    about = "Quick Connect Chat: real-time customer-support chat over WebSockets"
)]
pub struct Cli {
    /// TOML settings file (default: ./quickconnect.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The server's own flags, for `quickconnect --bind …` (no subcommand).
    #[command(flatten)]
    pub serve: ServeFlags,
    /// sqlite://… or postgres://… (QC_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Tracing filter (QC_LOG).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags only the server takes (`serve`, or no subcommand): the other
/// subcommands neither list nor accept them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeFlags {
    /// Listen address (QC_BIND).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// memory:// or redis://host:port (QC_BROKER_URL).
    #[arg(long, value_name = "URL")]
    pub broker_url: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeFlags),
    /// Apply database migrations and exit.
    Migrate,
    /// Mint a signed token (with QC_JWT_SECRET, or dev mode's kept secret).
    Token {
        /// guest, client or support.
        #[arg(long)]
        role: String,
        /// The user id (`sub`); a fresh ULID when omitted.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Webhook events given up after 24 h of retries: list or resend them.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksCommand,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum WebhooksCommand {
    /// List the dead events, oldest first.
    Failed {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send dead events again (each gets another 24 h of retries).
    Retry {
        /// Only this event (its `id`); every dead event when omitted.
        #[arg(long, value_name = "EVENT_ID")]
        id: Option<String>,
    },
}

#[derive(Serialize)]
struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    broker_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<String>,
}

impl Settings {
    /// Reads the layers in order of precedence.
    ///
    /// # Errors
    /// When a named config file is missing or any layer is malformed.
    pub fn load(cli: &Cli) -> anyhow::Result<Self> {
        Self::figment(cli)?.extract().map_err(explain)
    }

    fn figment(cli: &Cli) -> anyhow::Result<Figment> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match &cli.config {
            Some(path) => {
                ensure!(
                    path.is_file(),
                    "config file {} does not exist",
                    path.display()
                );
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("quickconnect.toml")),
        }
        let file = cli
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("quickconnect.toml"));
        refuse_unknown_keys(&file)?;
        // Every QC_ variable is a string: a numeric-looking secret stays a string.
        fig = fig.merge(Env::prefixed("QC_").filter(|k| !k.as_str().starts_with("test_")));
        let serve = match &cli.command {
            Some(Command::Serve(flags)) => flags.clone(),
            _ => ServeFlags::default(),
        };
        let flags = FlagOverrides {
            bind: serve.bind.clone().or_else(|| cli.serve.bind.clone()),
            database_url: cli.database_url.clone(),
            broker_url: serve
                .broker_url
                .clone()
                .or_else(|| cli.serve.broker_url.clone()),
            log: cli.log.clone(),
        };
        Ok(fig.merge(Serialized::defaults(flags)))
    }
}

/// A setting misspelled in the file would silently keep its default: the
/// start stops instead, naming it.
fn refuse_unknown_keys(file: &std::path::Path) -> anyhow::Result<()> {
    let keys: std::collections::BTreeMap<String, figment::value::Value> =
        Figment::from(Toml::file(file)).extract().map_err(explain)?;
    let known = serde_json::to_value(Settings::default())?;
    let unknown: Vec<&String> = keys
        .keys()
        .filter(|k| known.get(k.as_str()).is_none())
        .collect();
    ensure!(
        unknown.is_empty(),
        "{}: unknown setting(s) {}; the keys are the QC_* variables in lower case without QC_ \
         (docs/configuration.md)",
        file.display(),
        unknown
            .iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// figment's errors in the settings' own names: `QC_WS_RATE_PER_SEC: …`,
/// never the bare key.
fn explain(e: figment::Error) -> anyhow::Error {
    let problems: Vec<String> = e
        .into_iter()
        .map(|e| {
            let key = e.path.join("_");
            let from = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (in {s})"))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{from}", e.kind)
            } else {
                format!("QC_{}{from}: {}", key.to_ascii_uppercase(), e.kind)
            }
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", problems.join("; "))
}

/// Each entry of `QC_ALLOWED_ORIGINS` must be an origin as browsers send
/// it, `scheme://host[:port]`: `example.com` would never match one.
fn check_origins(list: &str) -> anyhow::Result<()> {
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        ensure!(
            is_origin(entry.trim_end_matches('/')),
            "QC_ALLOWED_ORIGINS: {entry:?} is not an origin like https://app.example.com or http://localhost:3000"
        );
    }
    Ok(())
}

/// `http(s)://host[:port]`, the host a name, an IPv4 address or a
/// bracketed IPv6 one, and nothing after.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return false;
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, after)) if !addr.is_empty() && addr.contains(':') => (addr, after),
            _ => return false,
        },
        None => match rest.find(':') {
            Some(colon) => (&rest[..colon], &rest[colon..]),
            None => (rest, ""),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.parse::<u16>().is_ok());
    host_ok && port_ok
}

/// How tokens are verified.
#[derive(Debug, Clone)]
pub enum JwtConfig {
    /// HS256 with a configured shared secret.
    Secret(Vec<u8>),
    /// RS256/ES256 from a PEM public key.
    PublicKey(Vec<u8>),
    /// Development: a random secret, kept across runs once
    /// [`Config::keep_dev_secret`] has read or written its file.
    DevSecret(Vec<u8>),
}

/// Which broker connects the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerConfig {
    /// One node, in process.
    Memory,
    /// Many nodes over Redis pub/sub on the per-user channels `<prefix>:u:…`.
    Redis { url: String, prefix: String },
}

/// Where and how webhook events are sent.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
}

/// Never the secret in a log line or a panic message.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"***")
            .finish()
    }
}

/// The certificate chain and key to serve wss:// and https:// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub tls: Option<TlsFiles>,
    pub bind: SocketAddr,
    pub database_url: String,
    pub broker: BrokerConfig,
    pub jwt: JwtConfig,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_cookie: String,
    pub jwt_leeway_secs: u64,
    pub allowed_origins: Option<String>,
    pub http_body_limit: usize,
    pub max_connections: usize,
    pub http_header_timeout: Duration,
    pub http_idle: Duration,
    /// `(per second, burst)`; `None` when off.
    pub http_rate: Option<(u32, u32)>,
    pub max_open_conversations: u32,
    /// `Some(capacity)` in `auto` routing, `None` in `manual`.
    pub auto_routing: Option<u32>,
    /// Webhooks, when both their URL and secret are set.
    pub webhooks: Option<WebhookConfig>,
    pub log: String,
    pub log_json: bool,
    pub limits: WsLimits,
}

impl Config {
    /// # Errors
    /// With a message naming the setting and what is wrong with it.
    pub fn from_settings(s: Settings) -> anyhow::Result<Self> {
        let db = s.database_url.trim().to_owned();
        ensure!(
            db.starts_with("sqlite:")
                || db.starts_with("postgres://")
                || db.starts_with("postgresql://"),
            "QC_DATABASE_URL must start with sqlite:// or postgres://"
        );
        let broker = match s.broker_url.trim() {
            "memory://" | "memory" => BrokerConfig::Memory,
            other if other.starts_with("redis://") || other.starts_with("rediss://") => {
                ensure!(
                    !s.broker_prefix.trim().is_empty()
                        && !s.broker_prefix.contains(char::is_whitespace),
                    "QC_BROKER_PREFIX must be a non-empty word"
                );
                BrokerConfig::Redis {
                    url: other.to_owned(),
                    prefix: s.broker_prefix.trim().to_owned(),
                }
            }
            other => bail!(
                "QC_BROKER_URL: {other:?} is not supported (use memory:// or redis://host:port)"
            ),
        };
        let jwt = match (&s.jwt_secret, &s.jwt_public_key_file) {
            (Some(_), Some(_)) => {
                bail!(
                    "set either QC_JWT_SECRET or QC_JWT_PUBLIC_KEY_FILE, not both (one pinned algorithm)"
                )
            }
            (Some(secret), None) => {
                ensure!(
                    secret.len() >= 32,
                    "QC_JWT_SECRET must be at least 32 bytes (256 bits) for HS256"
                );
                JwtConfig::Secret(secret.as_bytes().to_vec())
            }
            (None, Some(path)) => JwtConfig::PublicKey(std::fs::read(path).with_context(|| {
                format!("QC_JWT_PUBLIC_KEY_FILE: cannot read {}", path.display())
            })?),
            (None, None) => JwtConfig::DevSecret(rand::random::<[u8; 32]>().to_vec()),
        };
        let bind: SocketAddr = match &s.bind {
            Some(b) => b
                .parse()
                .with_context(|| format!("QC_BIND: {b:?} is not an address like 0.0.0.0:2530"))?,
            None if matches!(jwt, JwtConfig::DevSecret(_)) => ([127, 0, 0, 1], 2530).into(),
            None => ([0, 0, 0, 0], 2530).into(),
        };
        ensure!(
            s.jwt_leeway_secs <= 60,
            "QC_JWT_LEEWAY_SECS must be at most 60"
        );
        ensure!(
            !s.jwt_cookie.trim().is_empty(),
            "QC_JWT_COOKIE must not be empty"
        );
        let tls = match (&s.tls_cert_file, &s.tls_key_file) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                bail!("set both QC_TLS_CERT_FILE and QC_TLS_KEY_FILE, or neither")
            }
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
        };
        let log_json = match s.log_format.as_str() {
            "json" => true,
            "text" | "" => false,
            other => bail!("QC_LOG_FORMAT must be text or json, not {other:?}"),
        };
        ensure!(s.ws_ping_secs >= 1, "QC_WS_PING_SECS must be at least 1");
        ensure!(
            s.ws_idle_secs > s.ws_ping_secs,
            "QC_WS_IDLE_SECS ({}) must be longer than QC_WS_PING_SECS ({})",
            s.ws_idle_secs,
            s.ws_ping_secs
        );
        ensure!(
            s.ws_queue_frames >= 1,
            "QC_WS_QUEUE_FRAMES must be at least 1"
        );
        ensure!(
            s.ws_queue_bytes >= 1024,
            "QC_WS_QUEUE_BYTES must be at least 1024"
        );
        ensure!(
            s.ws_max_per_user >= 1,
            "QC_WS_MAX_PER_USER must be at least 1"
        );
        ensure!(
            s.user_rate_per_sec == 0 || s.user_rate_burst >= 1,
            "QC_USER_RATE_BURST must be at least 1 when the user rate limit is on"
        );
        ensure!(
            s.http_body_limit >= 1024,
            "QC_HTTP_BODY_LIMIT must be at least 1024"
        );
        ensure!(
            s.http_header_timeout_secs >= 1,
            "QC_HTTP_HEADER_TIMEOUT_SECS must be at least 1"
        );
        ensure!(
            s.http_idle_secs >= 1,
            "QC_HTTP_IDLE_SECS must be at least 1"
        );
        ensure!(
            s.http_rate_per_sec == 0 || s.http_rate_burst >= 1,
            "QC_HTTP_RATE_BURST must be at least 1 when the HTTP rate limit is on"
        );
        ensure!(
            s.max_open_conversations >= 1,
            "QC_MAX_OPEN_CONVERSATIONS must be at least 1"
        );
        let auto_routing = match s.routing.trim() {
            "manual" => None,
            "auto" => {
                ensure!(
                    s.agent_capacity >= 1,
                    "QC_AGENT_CAPACITY must be at least 1"
                );
                Some(s.agent_capacity)
            }
            other => anyhow::bail!("QC_ROUTING must be manual or auto, not {other:?}"),
        };
        ensure!(
            s.ws_rate_per_sec == 0 || s.ws_rate_burst >= 1,
            "QC_WS_RATE_BURST must be at least 1 when rate limiting is on"
        );
        let webhooks = webhooks(s.webhook_url.as_deref(), s.webhook_secret.as_deref())?;
        if let Some(origins) = &s.allowed_origins {
            check_origins(origins)?;
        }
        Ok(Self {
            tls,
            bind,
            database_url: db,
            broker,
            jwt,
            jwt_issuer: s.jwt_issuer.filter(|v| !v.is_empty()),
            jwt_audience: s.jwt_audience.filter(|v| !v.is_empty()),
            jwt_cookie: s.jwt_cookie,
            jwt_leeway_secs: s.jwt_leeway_secs,
            allowed_origins: s.allowed_origins.filter(|v| !v.trim().is_empty()),
            http_body_limit: s.http_body_limit,
            max_connections: match s.max_connections {
                Some(n) => {
                    ensure!(n >= 1, "QC_MAX_CONNECTIONS must be at least 1");
                    n
                }
                None => open_file_limit().saturating_sub(256).max(64),
            },
            http_header_timeout: Duration::from_secs(s.http_header_timeout_secs),
            http_idle: Duration::from_secs(s.http_idle_secs),
            http_rate: (s.http_rate_per_sec > 0)
                .then_some((s.http_rate_per_sec, s.http_rate_burst)),
            max_open_conversations: s.max_open_conversations,
            auto_routing,
            webhooks,
            log: s.log,
            log_json,
            limits: WsLimits {
                rate_per_sec: s.ws_rate_per_sec,
                rate_burst: s.ws_rate_burst,
                ping_every: Duration::from_secs(s.ws_ping_secs),
                idle_timeout: Duration::from_secs(s.ws_idle_secs),
                queue_frames: s.ws_queue_frames,
                queue_bytes: s.ws_queue_bytes,
                max_per_user: s.ws_max_per_user,
                user_rate_per_sec: s.user_rate_per_sec,
                user_rate_burst: s.user_rate_burst,
                close_grace: Duration::from_secs(10),
            },
        })
    }
}

/// Webhooks are on when both settings are given; one without the other is
/// a mistake worth stopping for (events would silently not be sent).
fn webhooks(url: Option<&str>, secret: Option<&str>) -> anyhow::Result<Option<WebhookConfig>> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let secret = secret.filter(|s| !s.is_empty());
    match (url, secret) {
        (None, None) => Ok(None),
        (Some(_), None) => {
            bail!("QC_WEBHOOK_URL is set without QC_WEBHOOK_SECRET: set both, or neither")
        }
        (None, Some(_)) => {
            bail!("QC_WEBHOOK_SECRET is set without QC_WEBHOOK_URL: set both, or neither")
        }
        (Some(url), Some(secret)) => {
            qc_webhooks::check_url(url)?;
            ensure!(
                secret.len() >= qc_webhooks::MIN_SECRET_BYTES,
                "QC_WEBHOOK_SECRET must be at least {} bytes",
                qc_webhooks::MIN_SECRET_BYTES
            );
            Ok(Some(WebhookConfig {
                url: url.to_owned(),
                secret: secret.to_owned(),
            }))
        }
    }
}

impl Config {
    /// In dev mode, swaps this run's random secret for the one kept beside
    /// the database (made there on the first run): development tokens then
    /// survive restarts. Returns the file and whether it was made now;
    /// `None` outside dev mode, and for an in-memory database.
    ///
    /// # Errors
    /// When the file cannot be read or written, or holds something else.
    pub fn keep_dev_secret(
        &mut self,
    ) -> anyhow::Result<Option<(PathBuf, crate::dev_secret::Origin)>> {
        if !matches!(self.jwt, JwtConfig::DevSecret(_)) {
            return Ok(None);
        }
        let Some(path) = crate::dev_secret::path_for(&self.database_url) else {
            return Ok(None);
        };
        let (secret, origin) = crate::dev_secret::load_or_create(&path)?;
        self.jwt = JwtConfig::DevSecret(secret);
        Ok(Some((path, origin)))
    }
}

/// The process's soft open-file limit (`/proc/self/limits`), or 1024 when
/// it cannot be read.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// Parses a role name for the `token` subcommand.
///
/// # Errors
/// For anything but guest, client or support.
pub fn parse_role(raw: &str) -> anyhow::Result<Role> {
    Role::parse(raw).ok_or_else(|| anyhow::anyhow!("--role must be guest, client or support"))
}

#[cfg(test)]
// figment's Jail API returns its (large) error type by value.
#[allow(clippy::result_large_err)]
mod tests;
