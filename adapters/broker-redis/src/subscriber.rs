//! The subscribing half of the Redis transport: one task that keeps the
//! set of watched user channels subscribed (across reconnects) and hands
//! what arrives to the hub.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use qc_application::ports::RemoteEvents;
use redis::aio::{PubSub, PubSubSink};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::REDIS_TIMEOUT;
use crate::wire;

/// Most watch/unwatch commands applied in one SUBSCRIBE/UNSUBSCRIBE pair.
const COMMAND_BATCH: usize = 1024;

pub(crate) enum Command {
    /// Subscribe to the channel; the sender learns when it is in effect.
    Watch(String, oneshot::Sender<()>),
    Unwatch(String),
}

pub(crate) struct Subscriber {
    pub client: redis::Client,
    /// `"<node>|"`: payloads that start with it are this node's own.
    pub node_tag: String,
    /// `"<prefix>:u:"`: a channel name is this followed by the user id.
    pub user_channel_prefix: String,
    /// `"<prefix>:agents"`: subscribed always; its envelopes are for every
    /// agent and for their listed recipients, not narrowed.
    pub agents_channel: String,
    pub inbound: Arc<OnceLock<Arc<dyn RemoteEvents>>>,
    pub stop: CancellationToken,
}

pub(crate) async fn connect(client: &redis::Client) -> redis::RedisResult<PubSub> {
    tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
}

/// Why a connection's loop ended.
enum End {
    Stopped,
    Lost,
}

impl Subscriber {
    pub(crate) async fn run(self, first: PubSub, mut commands: mpsc::UnboundedReceiver<Command>) {
        // The agents' channel is watched for as long as the node runs.
        let mut watched: HashSet<String> = HashSet::from([self.agents_channel.clone()]);
        let mut next = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            let pubsub = match next.take() {
                Some(p) => p,
                None => match connect(&self.client).await {
                    Ok(p) => {
                        tracing::info!(channels = watched.len(), "Redis subscription restored");
                        backoff = Duration::from_millis(100);
                        p
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Redis subscription failed; retrying");
                        let retry = tokio::time::sleep(backoff);
                        tokio::pin!(retry);
                        // Meanwhile the hub's watch/unwatch still arrive: fold
                        // them into the set resubscribed on reconnect, so the
                        // queue does not grow with connection churn.
                        loop {
                            tokio::select! {
                                () = self.stop.cancelled() => return,
                                () = &mut retry => break,
                                command = commands.recv() => match command {
                                    Some(c) => offline(&mut watched, c),
                                    None => return,
                                },
                            }
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
            };
            match self.serve(pubsub, &mut watched, &mut commands).await {
                End::Stopped => return,
                End::Lost => tracing::warn!(
                    "Redis subscription lost; other nodes' events are missed until it is back"
                ),
            }
        }
    }

    async fn serve(
        &self,
        pubsub: PubSub,
        watched: &mut HashSet<String>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> End {
        let (mut sink, mut stream) = pubsub.split();
        if !watched.is_empty() {
            let all: Vec<&String> = watched.iter().collect();
            if !matches!(
                tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(all)).await,
                Ok(Ok(()))
            ) {
                return End::Lost;
            }
        }
        let mut pending = Vec::with_capacity(COMMAND_BATCH);
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return End::Stopped,
                n = commands.recv_many(&mut pending, COMMAND_BATCH) => {
                    if n == 0 {
                        return End::Stopped;
                    }
                    if apply(&mut sink, watched, &mut pending).await.is_err() {
                        return End::Lost;
                    }
                }
                msg = stream.next() => match msg {
                    Some(msg) => self.receive(msg.get_channel_name(), msg.get_payload_bytes()),
                    None => return End::Lost,
                },
            }
        }
    }

    fn receive(&self, channel: &str, payload: &[u8]) {
        metrics::counter!("qc_transport_received_total").increment(1);
        if payload.starts_with(self.node_tag.as_bytes()) {
            // Our own: the hub delivered it locally before publishing.
            metrics::counter!("qc_transport_own_skipped_total").increment(1);
            return;
        }
        let Some(body) = payload
            .iter()
            .position(|b| *b == b'|')
            .map(|i| &payload[i + 1..])
        else {
            tracing::warn!("dropped a broker payload without a node tag");
            return;
        };
        let to_agents = channel == self.agents_channel;
        let user = channel
            .strip_prefix(&self.user_channel_prefix)
            .and_then(wire::parse_user_key);
        if user.is_none() && !to_agents {
            return;
        }
        metrics::counter!("qc_transport_decoded_total").increment(1);
        let mut envelope = match wire::decode(body) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "dropped a malformed broker envelope");
                return;
            }
        };
        // A user channel's copy is for that user only: another recipient
        // held here gets its own copy on its own channel.
        if let Some(user) = user {
            envelope.recipients = vec![user];
            envelope.all_agents = false;
        }
        if let Some(to) = self.inbound.get() {
            to.deliver(Arc::new(envelope));
        }
    }
}

/// Records a command while Redis is unreachable: the watch is acknowledged
/// at once (no event can arrive either way), the set is what the
/// reconnect subscribes.
fn offline(watched: &mut HashSet<String>, command: Command) {
    match command {
        Command::Watch(channel, ack) => {
            watched.insert(channel);
            let _ = ack.send(());
        }
        Command::Unwatch(channel) => {
            watched.remove(&channel);
        }
    }
}

/// Applies a batch of watch/unwatch commands in order, as one SUBSCRIBE and
/// one UNSUBSCRIBE, then acknowledges the watches. A Redis that does not
/// answer within the timeout counts as lost (the caller reconnects and
/// resubscribes `watched`).
async fn apply(
    sink: &mut PubSubSink,
    watched: &mut HashSet<String>,
    pending: &mut Vec<Command>,
) -> redis::RedisResult<()> {
    let mut subscribe = Vec::new();
    let mut unsubscribe = Vec::new();
    let mut acks = Vec::new();
    for command in pending.drain(..) {
        match command {
            Command::Watch(channel, ack) => {
                acks.push(ack);
                unsubscribe.retain(|c| c != &channel);
                if watched.insert(channel.clone()) {
                    subscribe.push(channel);
                }
            }
            Command::Unwatch(channel) => {
                subscribe.retain(|c| c != &channel);
                if watched.remove(&channel) {
                    unsubscribe.push(channel);
                }
            }
        }
    }
    let timed_out = || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    if !subscribe.is_empty() {
        tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(&subscribe))
            .await
            .map_err(|_| timed_out())??;
    }
    if !unsubscribe.is_empty() {
        tokio::time::timeout(REDIS_TIMEOUT, sink.unsubscribe(&unsubscribe))
            .await
            .map_err(|_| timed_out())??;
    }
    for ack in acks {
        let _ = ack.send(());
    }
    Ok(())
}
