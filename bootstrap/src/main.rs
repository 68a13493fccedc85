//! The `quickconnect` binary: `serve` (default), `migrate`, `token`,
//! `webhooks failed|retry`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use qc_domain::Role;
use quickconnect::dev_secret::Origin;
use quickconnect::settings::parse_role;
use quickconnect::{
    Application, Cli, Command, Config, JwtConfig, Settings, WebhooksCommand, telemetry,
};

/// mimalloc instead of the system allocator: the message path allocates
/// small, short-lived buffers on several threads at once, where glibc's
/// malloc spent a third of the runtime threads' time (profile in
/// docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(&cli)
        .and_then(Config::from_settings)
        .and_then(|config| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?
                .block_on(run(
                    cli.command
                        .clone()
                        .unwrap_or(Command::Serve(cli.serve.clone())),
                    config,
                ))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickconnect: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Token { role, sub, ttl } => {
            let role = parse_role(&role)?;
            let mut config = config;
            // In dev mode, the secret the dev server keeps beside its
            // database (made here if this is the first run).
            let kept = config.keep_dev_secret()?;
            let secret = match (&config.jwt, kept) {
                (JwtConfig::Secret(secret), _) | (JwtConfig::DevSecret(secret), Some(_)) => secret,
                _ => anyhow::bail!(
                    "`token` needs QC_JWT_SECRET (the same one the server uses), or dev mode \
                     on a database file (whose kept secret the dev server uses)"
                ),
            };
            let sub = sub.unwrap_or_else(|| ulid::Ulid::generate().to_string());
            println!("{}", qc_http::auth::mint_hs256(secret, &sub, role, ttl)?);
            Ok(())
        }
        Command::Migrate => {
            let _log = telemetry::init(&config.log, config.log_json);
            let db = qc_persistence::connect(&config.database_url).await?;
            qc_persistence::migrate(&db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Webhooks { action } => webhooks(action, &config).await,
        Command::Serve(_) => serve(config).await,
    }
}

/// `quickconnect webhooks failed|retry`: the dead events in the outbox.
async fn webhooks(action: WebhooksCommand, config: &Config) -> anyhow::Result<()> {
    use qc_application::ports::Outbox;
    let db = qc_persistence::connect(&config.database_url).await?;
    qc_persistence::migrate(&db).await?;
    let outbox = qc_persistence::SeaOrmOutbox::new(db);
    match action {
        WebhooksCommand::Failed { limit, json } => {
            let dead = outbox.dead_events(limit).await?;
            if dead.is_empty() && !json {
                println!("no dead webhook events");
            }
            for e in dead {
                let at = |t: chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                };
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": e.id,
                            "type": e.event_type,
                            "conversation_id": e.conversation_id,
                            "created_at": at(e.created_at),
                            "dead_at": at(e.dead_at),
                            "attempts": e.attempts,
                            "last_error": e.last_error,
                        })
                    );
                } else {
                    println!(
                        "{}  {:<22}  {}  {}  {} attempts  {}",
                        e.id,
                        e.event_type,
                        e.conversation_id,
                        at(e.created_at),
                        e.attempts,
                        e.last_error.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
        WebhooksCommand::Retry { id } => {
            let n = outbox.revive(id.as_deref(), chrono::Utc::now()).await?;
            match (&id, n) {
                (Some(id), 0) => anyhow::bail!("no dead webhook event with id {id}"),
                _ => println!("{n} dead webhook event(s) will be sent again"),
            }
            Ok(())
        }
    }
}

async fn serve(mut config: Config) -> anyhow::Result<()> {
    let _log = telemetry::init(&config.log, config.log_json);
    let kept = config.keep_dev_secret()?;
    let app = Application::build(&config).await?;
    if matches!(config.jwt, JwtConfig::DevSecret(_)) {
        let secret = match &kept {
            Some((path, Origin::Created)) => format!(
                "a random HS256 secret was made and kept in {} (mode 0600) for the next runs",
                path.display()
            ),
            Some((path, Origin::Reused)) => format!(
                "the HS256 secret kept in {} since the first run is used",
                path.display()
            ),
            None => {
                "a random HS256 secret was made for this run (an in-memory database keeps none)"
                    .to_owned()
            }
        };
        tracing::warn!(
            "DEV MODE, NOT FOR PRODUCTION: no QC_JWT_SECRET or QC_JWT_PUBLIC_KEY_FILE is set, so {secret}; \
             development tokens are printed on standard output"
        );
        let auth = app.authenticator();
        let client =
            auth.verifier
                .mint(&ulid::Ulid::generate().to_string(), Role::Client, 24 * 3600)?;
        let support = auth.verifier.mint(
            &ulid::Ulid::generate().to_string(),
            Role::Support,
            24 * 3600,
        )?;
        println!("Development tokens (valid 24 h):");
        println!("  client : {client}");
        println!("  support: {support}");
    }
    if config.allowed_origins.is_none() {
        tracing::warn!(
            "QC_ALLOWED_ORIGINS is not set: browsers on any site may open chat connections \
             with a user's cookie; set it to your frontends' origins"
        );
    }
    tracing::info!(addr = %app.addr(), "Quick Connect Chat listening");
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing chat connections (1001)");
        shutdown.cancel();
    });
    app.run_until_stopped().await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
