//! The validated [`Config`]: every setting checked once at start, with
//! messages that say what to fix, and the values derived from them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use qc_http::WsLimits;

use super::Settings;
use super::origins::check_origins;

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
            "manual" => {
                ensure!(
                    s.agent_capacity.is_none(),
                    "QC_AGENT_CAPACITY is set but QC_ROUTING is manual: the capacity applies \
                     only to automatic routing (set QC_ROUTING=auto, or unset QC_AGENT_CAPACITY)"
                );
                None
            }
            "auto" => {
                let capacity = s
                    .agent_capacity
                    .unwrap_or(super::raw::DEFAULT_AGENT_CAPACITY);
                ensure!(capacity >= 1, "QC_AGENT_CAPACITY must be at least 1");
                Some(capacity)
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
