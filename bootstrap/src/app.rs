//! Wiring and lifecycle: connect, migrate, build use cases over adapters,
//! bind, serve until told to stop, then close every chat connection with
//! 1001 and let in-flight stores finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::Server;
use qc_application::ports::{
    AgentRepository, Broker, Clock, ConversationRepository, IdGenerator, MessageRepository,
    PresenceStore, SystemClock, Transport, UlidGenerator,
};
use qc_application::use_cases::*;
use qc_application::webhooks::Dispatcher;
use qc_application::{
    ConversationAccess, LocalPresenceStore, Presence, PresencePorts, Router, RouterPorts,
};
use qc_http::api::{AgentsApi, ConversationsApi, HealthApi};
use qc_http::auth::TokenRules;
use qc_http::{
    AllowedOrigins, Authenticator, HttpDeps, Hub, TokenVerifier, WsContext, build_routes,
};
use qc_persistence::{
    SeaOrmAgentRepository, SeaOrmConversationRepository, SeaOrmMessageRepository,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::settings::{BrokerConfig, Config, JwtConfig};
use webhooks::start_webhooks;

mod extensions;
mod listener;
mod webhooks;

pub use extensions::Extensions;

/// The process-wide Prometheus recorder, installed on first use (several
/// `Application`s in one test process share it).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// How old a cached conversation (participants, status) may get before a
/// typing frame reads it again: bounds how long a change this node saw no
/// event of (it held none of the participants) can go unnoticed.
const ACCESS_MAX_AGE: Duration = Duration::from_secs(5);

/// How long a user's last connection may be gone before they are shown
/// offline: a page reload is not announced as offline-then-online.
const PRESENCE_GRACE: Duration = Duration::from_secs(2);

/// How long shutdown waits for chat connections to finish closing.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// A built, bound server.
pub struct Application {
    acceptor: poem::listener::BoxAcceptor,
    addr: SocketAddr,
    routes: poem::endpoint::BoxEndpoint<'static>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    auth: Arc<Authenticator>,
    /// The webhook delivery task: stopped gracefully after the server.
    webhooks: Option<Arc<Dispatcher>>,
}

/// Builds the token verifier the configuration asks for.
///
/// # Errors
/// When the public key is unusable.
pub fn verifier(config: &Config) -> anyhow::Result<TokenVerifier> {
    let rules = TokenRules {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        leeway_secs: config.jwt_leeway_secs,
    };
    Ok(match &config.jwt {
        JwtConfig::Secret(s) | JwtConfig::DevSecret(s) => TokenVerifier::hs256(s, &rules),
        JwtConfig::PublicKey(pem) => {
            TokenVerifier::from_public_key_pem(pem, &rules).context("QC_JWT_PUBLIC_KEY_FILE")?
        }
    })
}

impl Application {
    /// Connects to the database, applies migrations, wires everything and
    /// binds the listener (port 0 picks a free port).
    ///
    /// # Errors
    /// When the database is unreachable, a migration fails or the address is taken.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, Extensions::default()).await
    }

    /// [`Application::build`] with domain rules of one's own (a routing
    /// rule, a message policy): see docs/architecture.md, "Extending the
    /// domain rules".
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with(config: &Config, rules: Extensions) -> anyhow::Result<Self> {
        let db = qc_persistence::connect(&config.database_url).await?;
        qc_persistence::migrate(&db).await?;
        let db = db.with_webhooks(config.webhooks.is_some());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let webhooks = match &config.webhooks {
            Some(hooks) => Some(start_webhooks(&db, hooks, clock.clone()).await?),
            None => None,
        };

        let conversations: Arc<dyn ConversationRepository> =
            Arc::new(SeaOrmConversationRepository::new(db.clone()));
        let agents: Arc<dyn AgentRepository> = Arc::new(SeaOrmAgentRepository::new(db.clone()));
        let messages: Arc<dyn MessageRepository> = Arc::new(SeaOrmMessageRepository::new(db));
        let (transport, presence_store): (Option<Arc<dyn Transport>>, Arc<dyn PresenceStore>) =
            match &config.broker {
                BrokerConfig::Memory => (None, Arc::new(LocalPresenceStore::default())),
                BrokerConfig::Redis { url, prefix } => {
                    let redis = qc_broker_redis::RedisTransport::connect(url, prefix)
                        .await
                        .context("QC_BROKER_URL: cannot use the Redis broker")?;
                    let presence = redis.presence();
                    // The lease first: other nodes must see this one alive
                    // before it announces anyone.
                    presence
                        .renew()
                        .await
                        .context("QC_BROKER_URL: cannot record this node's presence lease")?;
                    (Some(Arc::new(redis)), Arc::new(presence))
                }
            };
        let access = Arc::new(ConversationAccess::new(
            conversations.clone(),
            ACCESS_MAX_AGE,
        ));
        let hub = Hub::new(access.clone(), transport);
        let broker: Arc<dyn Broker> = hub.clone();
        let ids: Arc<dyn IdGenerator> = Arc::new(UlidGenerator);
        let presence = Presence::start(
            PresencePorts {
                store: presence_store.clone(),
                agents: agents.clone(),
                conversations: conversations.clone(),
                broker: broker.clone(),
                clock: clock.clone(),
            },
            PRESENCE_GRACE,
        );

        let auth = Arc::new(Authenticator {
            verifier: verifier(config)?,
            cookie_name: config.jwt_cookie.clone(),
        });
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();

        let send_message = Arc::new(SendMessage {
            messages: messages.clone(),
            broker: broker.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            policy: rules.message_policy,
        });
        let signal_typing = Arc::new(SignalTyping {
            access,
            broker: broker.clone(),
            clock: clock.clone(),
        });
        // Automatic assignment, when asked for: one routing task per node,
        // told of every change that may let a waiting conversation go.
        let router = config.auto_routing.map(|capacity| {
            Router::start(
                RouterPorts {
                    conversations: conversations.clone(),
                    agents: agents.clone(),
                    presence: presence_store.clone(),
                    broker: broker.clone(),
                    clock: clock.clone(),
                },
                rules.routing_rule.clone(),
                capacity,
            )
        });
        let kick: Option<qc_application::presence::Hook> = router.clone().map(|r| {
            let hook: qc_application::presence::Hook = Arc::new(move || r.kick());
            hook
        });
        if let Some(kick) = &kick {
            presence.when_available(kick.clone());
        }
        let ws = Arc::new(WsContext {
            auth: auth.clone(),
            origins: AllowedOrigins::parse(config.allowed_origins.as_deref()),
            send_message,
            signal_typing,
            presence: presence.clone(),
            hub,
            limits: config.limits.clone(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        });
        let api = ConversationsApi {
            auth: auth.clone(),
            open: Arc::new(OpenConversation {
                conversations: conversations.clone(),
                broker: broker.clone(),
                clock: clock.clone(),
                ids,
                max_open: config.max_open_conversations,
            }),
            list: Arc::new(ListConversations {
                conversations: conversations.clone(),
            }),
            get: Arc::new(GetConversation {
                conversations: conversations.clone(),
            }),
            assign: Arc::new(AssignConversation {
                conversations: conversations.clone(),
                broker: broker.clone(),
                clock: clock.clone(),
                capacity: config.auto_routing,
            }),
            transfer: Arc::new(TransferConversation {
                conversations: conversations.clone(),
                messages: messages.clone(),
                agents: agents.clone(),
                broker: broker.clone(),
                clock: clock.clone(),
                capacity: config.auto_routing,
                on_change: kick.clone(),
            }),
            close: Arc::new(CloseConversation {
                conversations: conversations.clone(),
                broker: broker.clone(),
                clock: clock.clone(),
                on_change: kick,
            }),
            history: Arc::new(ReadHistory {
                conversations: conversations.clone(),
                messages: messages.clone(),
            }),
            mark_read: Arc::new(MarkRead {
                conversations: conversations.clone(),
                messages,
                broker: broker.clone(),
                clock,
            }),
            presence: presence.clone(),
            router,
        };
        let agents_api = AgentsApi {
            auth: auth.clone(),
            presence,
        };
        let health = HealthApi {
            database: conversations,
            broker,
        };
        let metrics = metrics_handle();
        qc_http::telemetry::register();
        let dev_tokens: Option<qc_http::web::DevTokens> = match config.jwt {
            JwtConfig::DevSecret(_) => {
                let auth = auth.clone();
                Some(Arc::new(move |role, sub: Option<qc_domain::UserId>| {
                    let user = sub.map_or_else(
                        || ulid::Ulid::generate().to_string(),
                        |s| s.as_str().to_owned(),
                    );
                    Ok((auth.verifier.mint(&user, role, 24 * 3600)?, user))
                }))
            }
            _ => None,
        };
        let routes = poem::EndpointExt::boxed(build_routes(HttpDeps {
            ws,
            conversations: api,
            agents: agents_api,
            health,
            metrics: Arc::new(move || metrics.render()),
            dev_tokens,
            body_limit: config.http_body_limit,
            http_rate: config.http_rate,
        }));

        let (acceptor, addr) = listener::bind(config)?;
        Ok(Self {
            acceptor,
            addr,
            routes,
            shutdown,
            tracker,
            auth,
            webhooks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cancel it to stop the server gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The authenticator in use (mints development tokens in dev mode).
    pub fn authenticator(&self) -> Arc<Authenticator> {
        self.auth.clone()
    }

    /// Serves until the shutdown token is cancelled; then chat connections
    /// get close 1001, in-flight frames finish, and the listener stops.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let tracker = self.tracker.clone();
        let signal = async move {
            shutdown.cancelled().await;
            tracker.close();
            if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!("some chat connections did not close in time");
            }
        };
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.routes, signal, Some(Duration::from_secs(5)))
            .await
            .context("server failed");
        if let Some(webhooks) = self.webhooks {
            // The attempts in flight end within their 10 s timeout and are
            // recorded: a delivered event is not sent again at the next start.
            if tokio::time::timeout(Duration::from_secs(12), webhooks.stop())
                .await
                .is_err()
            {
                tracing::warn!(
                    "webhook attempts still in flight at exit are sent again at the next start"
                );
            }
        }
        served
    }
}
