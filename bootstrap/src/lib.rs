//! Quick Connect Chat's composition root: settings, wiring of adapters to use
//! cases, and the server lifecycle. The `quickconnect` binary is a thin CLI
//! over this; the black-box tests start the same [`Application`].

pub mod app;
pub mod dev_secret;
pub mod settings;
pub mod telemetry;

pub use app::{Application, Extensions};
pub use settings::{
    BrokerConfig, Cli, Command, Config, JwtConfig, ServeFlags, Settings, WebhookConfig,
    WebhooksCommand,
};
