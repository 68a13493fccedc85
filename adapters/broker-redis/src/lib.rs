//! Redis pub/sub broker (`QC_BROKER_URL=redis://host:port`): every node
//! publishes the events it produces to one channel, and delivers what the
//! other nodes publish to its own connections.
//!
//! - Local first: an event is delivered to this node's connections before it
//!   goes to Redis, so a node keeps serving its own users (the sender's ack
//!   included) while Redis is down. Other nodes then miss it and recover
//!   through history, as the contract allows.
//! - Each envelope carries its node id; a node skips its own.
//! - Texts pass through a per-conversation [`sequencer::Sequencer`], so every
//!   node delivers them in `seq` order even when two nodes publish
//!   concurrently.
//! - The subscription reconnects with backoff when Redis goes away.

mod sequencer;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures_util::StreamExt;
use qc_application::ports::{Broker, BrokerError, Envelope, EventSink, Subscription};
use qc_broker_memory::InMemoryBroker;
use qc_domain::{ChatEvent, UserId};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio_util::sync::{CancellationToken, DropGuard};

use sequencer::Sequencer;

/// How long a text waits for an earlier one still in flight from another node.
const REORDER_HOLD: Duration = Duration::from_millis(250);
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisBroker {
    local: InMemoryBroker,
    sequencer: Arc<Sequencer>,
    publisher: ConnectionManager,
    channel: String,
    node: String,
    /// Stops the subscriber task when the broker is dropped.
    _subscriber: DropGuard,
}

impl RedisBroker {
    /// Connects, subscribes to `<prefix>:events`, and starts the subscriber.
    /// Fails fast (a few seconds) when Redis is unreachable.
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
        let channel = format!("{prefix}:events");
        let first = subscribe(&client, &channel)
            .await
            .context("cannot subscribe to Redis")?;

        let local = InMemoryBroker::new();
        let deliver_to = local.clone();
        let sequencer = Sequencer::new(
            REORDER_HOLD,
            Arc::new(move |e: &Arc<Envelope>| deliver_to.deliver_local(e)),
        );
        let node = ulid::Ulid::generate().to_string();
        let stop = CancellationToken::new();
        tokio::spawn(subscriber(
            client,
            channel.clone(),
            node.clone(),
            local.clone(),
            sequencer.clone(),
            first,
            stop.clone(),
        ));
        tracing::info!(%node, %channel, "Redis broker connected");
        Ok(Self {
            local,
            sequencer,
            publisher,
            channel,
            node,
            _subscriber: stop.drop_guard(),
        })
    }
}

/// Delivers on this node: texts in seq order, the rest at once.
fn dispatch(local: &InMemoryBroker, sequencer: &Arc<Sequencer>, envelope: Arc<Envelope>) {
    match &envelope.event {
        ChatEvent::MessageStored { message, .. } => {
            let (cid, seq) = (message.conversation_id, message.seq);
            sequencer.offer(cid, seq, envelope);
        }
        _ => local.deliver_local(&envelope),
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| {
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
        })??;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

async fn subscriber(
    client: redis::Client,
    channel: String,
    node: String,
    local: InMemoryBroker,
    sequencer: Arc<Sequencer>,
    first: redis::aio::PubSub,
    stop: CancellationToken,
) {
    let mut next = Some(first);
    let mut backoff = Duration::from_millis(100);
    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    loop {
        let pubsub = match next.take() {
            Some(p) => p,
            None => match subscribe(&client, &channel).await {
                Ok(p) => {
                    tracing::info!("Redis subscription restored");
                    backoff = Duration::from_millis(100);
                    p
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Redis subscription failed; retrying");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        let mut messages = pubsub.into_on_message();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = sweep.tick() => sequencer.sweep(Duration::from_secs(600)),
                msg = messages.next() => match msg {
                    Some(msg) => match wire::decode(msg.get_payload_bytes()) {
                        Ok((from, envelope)) if from != node => dispatch(&local, &sequencer, Arc::new(envelope)),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "dropped a malformed broker envelope"),
                    },
                    None => break,
                },
            }
        }
        tracing::warn!("Redis subscription lost; other nodes' events are missed until it is back");
    }
}

#[async_trait]
impl Broker for RedisBroker {
    /// Delivers locally, then publishes for the other nodes. A Redis failure
    /// is logged, not returned: this node's connections (the sender's
    /// included) already have the event, and the other nodes' clients catch
    /// up through history.
    async fn publish(&self, envelope: Arc<Envelope>) -> Result<(), BrokerError> {
        let payload = wire::encode(&self.node, &envelope);
        dispatch(&self.local, &self.sequencer, envelope);
        let mut conn = self.publisher.clone();
        match tokio::time::timeout(
            REDIS_TIMEOUT,
            conn.publish::<_, _, i64>(&self.channel, payload),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis publish failed; other nodes miss this event")
            }
            Err(_) => tracing::warn!("Redis publish timed out; other nodes miss this event"),
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        user: &UserId,
        sink: Arc<dyn EventSink>,
    ) -> Result<Subscription, BrokerError> {
        self.local.subscribe(user, sink).await
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
