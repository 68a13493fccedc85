//! Command-line flags: the `quickconnect` [`Cli`], its subcommands, and the
//! server-only [`ServeFlags`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use qc_domain::Role;

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

/// Parses a role name for the `token` subcommand.
///
/// # Errors
/// For anything but guest, client or support.
pub fn parse_role(raw: &str) -> anyhow::Result<Role> {
    Role::parse(raw).ok_or_else(|| anyhow::anyhow!("--role must be guest, client or support"))
}
