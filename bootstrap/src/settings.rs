//! Configuration: defaults, then `quickconnect.toml` (or `--config PATH`),
//! then `QC_*` environment variables, then command-line flags. Validated once
//! at start into a [`Config`], with messages that say what to fix.

mod config;
mod flags;
mod origins;
mod raw;

pub use config::{BrokerConfig, Config, JwtConfig, TlsFiles, WebhookConfig};
pub use flags::{Cli, Command, ServeFlags, WebhooksCommand, parse_role};
pub use raw::{DEFAULT_AGENT_CAPACITY, Settings};

#[cfg(test)]
// figment's Jail API returns its (large) error type by value.
#[allow(clippy::result_large_err)]
mod tests;
