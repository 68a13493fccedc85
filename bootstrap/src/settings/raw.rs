//! Raw settings: the file / environment / flag layers read by figment into
//! [`Settings`], with figment's errors rewritten in the `QC_*` names.

use std::path::PathBuf;

use anyhow::ensure;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use super::{Cli, Command, ServeFlags};

/// `QC_AGENT_CAPACITY` when `QC_ROUTING=auto` and it is unset.
pub const DEFAULT_AGENT_CAPACITY: u32 = 5;

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
    /// In `auto` routing, most open conversations assigned to one agent
    /// ([`DEFAULT_AGENT_CAPACITY`] when unset); refused with `manual`.
    pub agent_capacity: Option<u32>,
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
            agent_capacity: None,
            webhook_url: None,
            webhook_secret: None,
        }
    }
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
