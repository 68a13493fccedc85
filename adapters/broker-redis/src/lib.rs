//! Redis pub/sub transport between nodes (`QC_BROKER_URL=redis://host:port`).
//!
//! - Per-user channels: `<prefix>:u:c:<sub>` for a customer, `<prefix>:u:a:<sub>`
//!   for an agent (a user is the pair (side, sub)). A node subscribes to the
//!   channels of the users it holds a connection of (the hub tells it when
//!   the first connection opens and the last one closes), so it receives
//!   only the events of its own users: adding nodes does not multiply every
//!   node's work. An event is published once per recipient channel, encoded
//!   once.
//! - One channel for every agent, `<prefix>:agents`, that every node
//!   subscribes to: the desk's events (a conversation entering or leaving
//!   the queue, an agent's presence) reach every agent connection on every
//!   node. Such an envelope goes out once, on that channel only (its other
//!   recipients are delivered from it by the nodes that hold them), so no
//!   one gets it twice.
//! - Local first: the hub delivers to this node's connections before the
//!   event reaches the transport, so a node keeps serving its own users (the
//!   sender's ack included) while Redis is down. Other nodes then miss it
//!   and recover through history, as the contract allows.
//! - Nothing waits for Redis on the message path: `publish` queues for a
//!   publisher task that pipelines every queued PUBLISH in one round trip,
//!   so no per-conversation lock is held across the network.
//! - Each payload starts with its node's tag (`<node>|<json>`): a node
//!   skips its own envelopes without decoding them.
//! - Each user channel's copy reaches the hub narrowed to that user; the
//!   hub puts texts in `seq` order per (conversation, recipient).
//! - The subscription reconnects with backoff and resubscribes every
//!   watched channel when Redis comes back.

mod presence;
mod subscriber;
mod wire;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use qc_application::ports::{BrokerError, Envelope, RemoteEvents, Transport, Watched};
use qc_domain::User;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

pub use presence::{LEASE, RedisPresence};
use subscriber::{Command, Subscriber};

const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Events queued for the publisher beyond which `publish` refuses (Redis
/// is not keeping up or is down): memory stays bounded.
const PUBLISH_QUEUE: usize = 65_536;
/// Most events one pipelined round trip carries.
const PUBLISH_BATCH: usize = 512;

/// One event on its way out: its payload and the channels it goes to.
struct Outgoing {
    channels: Vec<String>,
    payload: Arc<str>,
}

pub struct RedisTransport {
    publisher: ConnectionManager,
    outgoing: mpsc::Sender<Outgoing>,
    commands: mpsc::UnboundedSender<Command>,
    inbound: Arc<OnceLock<Arc<dyn RemoteEvents>>>,
    prefix: String,
    node: String,
    /// Stops the subscriber and publisher tasks when dropped.
    _tasks: DropGuard,
}

impl RedisTransport {
    /// Connects (publisher and subscriber) and starts both tasks. Fails
    /// fast (a few seconds) when Redis is unreachable.
    ///
    /// # Errors
    /// When the URL is invalid or Redis does not answer.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("invalid QC_BROKER_URL")?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let publisher = tokio::time::timeout(
            REDIS_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .context("Redis did not answer in time")?
        .context("cannot connect to Redis")?;
        let first = subscriber::connect(&client)
            .await
            .context("cannot subscribe to Redis")?;

        let node = ulid::Ulid::generate().to_string();
        let stop = CancellationToken::new();
        let inbound: Arc<OnceLock<Arc<dyn RemoteEvents>>> = Arc::new(OnceLock::new());
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let subscriber = Subscriber {
            client,
            node_tag: format!("{node}|"),
            user_channel_prefix: channel_prefix(prefix),
            agents_channel: agents_channel(prefix),
            inbound: inbound.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(subscriber.run(first, commands_rx));
        let (outgoing, outgoing_rx) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publish_loop(publisher.clone(), outgoing_rx, stop.clone()));
        tracing::info!(%node, prefix, "Redis transport connected");
        Ok(Self {
            publisher,
            outgoing,
            commands,
            inbound,
            prefix: prefix.to_owned(),
            node,
            _tasks: stop.drop_guard(),
        })
    }

    /// This node's presence book in the same Redis (its lease included).
    pub fn presence(&self) -> RedisPresence {
        RedisPresence::new(self.publisher.clone(), &self.prefix, &self.node)
    }

    fn channel(&self, user: &User) -> String {
        format!("{}{}", channel_prefix(&self.prefix), wire::user_key(user))
    }
}

fn channel_prefix(prefix: &str) -> String {
    format!("{prefix}:u:")
}

fn agents_channel(prefix: &str) -> String {
    format!("{prefix}:agents")
}

/// Sends what is queued, every PUBLISH of a wake-up in one pipeline.
async fn publish_loop(
    mut conn: ConnectionManager,
    mut rx: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        let n = tokio::select! {
            () = stop.cancelled() => return,
            n = rx.recv_many(&mut batch, PUBLISH_BATCH) => n,
        };
        if n == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        let mut publishes = 0u64;
        for out in batch.drain(..) {
            for channel in &out.channels {
                pipe.cmd("PUBLISH")
                    .arg(channel)
                    .arg(out.payload.as_bytes())
                    .ignore();
                publishes += 1;
            }
        }
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => metrics::counter!("qc_transport_published_total").increment(publishes),
            Ok(Err(e)) => {
                metrics::counter!("qc_transport_publish_failed_total").increment(publishes);
                tracing::warn!(error = %e, events = n, "Redis publish failed; other nodes miss these events");
            }
            Err(_) => {
                metrics::counter!("qc_transport_publish_failed_total").increment(publishes);
                tracing::warn!(
                    events = n,
                    "Redis publish timed out; other nodes miss these events"
                );
            }
        }
    }
}

#[async_trait]
impl Transport for RedisTransport {
    fn attach(&self, inbound: Arc<dyn RemoteEvents>) {
        if self.inbound.set(inbound).is_err() {
            tracing::warn!("the Redis transport was attached twice; keeping the first hub");
        }
    }

    fn publish(&self, envelope: &Arc<Envelope>) -> Result<(), BrokerError> {
        if !envelope.is_addressed() {
            return Ok(());
        }
        let payload: Arc<str> = format!("{}|{}", self.node, wire::encode(envelope)).into();
        let channels = if envelope.all_agents {
            vec![agents_channel(&self.prefix)]
        } else {
            envelope
                .recipients
                .iter()
                .map(|u| self.channel(u))
                .collect()
        };
        self.outgoing
            .try_send(Outgoing { channels, payload })
            .map_err(|e| BrokerError(anyhow::anyhow!("Redis publish queue: {e}")))
    }

    fn watch(&self, user: &User) -> Watched {
        let (ack, acked) = oneshot::channel();
        let _ = self.commands.send(Command::Watch(self.channel(user), ack));
        Box::pin(async move {
            // Bounded: a Redis outage must not hold a new connection up.
            let _ = tokio::time::timeout(REDIS_TIMEOUT, acked).await;
        })
    }

    fn unwatch(&self, user: &User) {
        let _ = self.commands.send(Command::Unwatch(self.channel(user)));
    }

    async fn health(&self) -> Result<(), BrokerError> {
        let mut conn = self.publisher.clone();
        match tokio::time::timeout(
            REDIS_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(BrokerError(
                anyhow::Error::new(e).context("Redis PING failed"),
            )),
            Err(_) => Err(BrokerError(anyhow::anyhow!("Redis PING timed out"))),
        }
    }
}

#[cfg(test)]
mod tests;
