//! The hub under the [`Broker`] port's contract
//! (`qc_application::testing::broker_contract`): [`HubNodes`] builds one
//! hub per node (over the transports given, or one in memory) and opens
//! connections on them the way a WebSocket does, reading what each
//! receives from its outbox.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use qc_application::ConversationAccess;
use qc_application::ports::conversation_repository::MockConversationRepository;
use qc_application::ports::{Broker, Transport};
use qc_application::testing::broker_contract::{BrokerHarness, Connection, PATIENCE};
use qc_domain::{ConversationId, User};

use crate::frames::Frame;
use crate::hub::{Hub, Registration};
use crate::ws::{Outbox, Receiver};

/// The hubs of the nodes under test.
pub struct HubNodes {
    hubs: Vec<Arc<Hub>>,
}

impl HubNodes {
    /// One node, no transport: the broker of a single server.
    pub fn memory() -> Self {
        Self {
            hubs: vec![hub(None)],
        }
    }

    /// One node per transport (each a node's own connection to the
    /// shared bus).
    pub fn over(transports: Vec<Arc<dyn Transport>>) -> Self {
        Self {
            hubs: transports.into_iter().map(|t| hub(Some(t))).collect(),
        }
    }
}

/// A hub whose cache is never asked (the contract publishes typing
/// events, which the hub delivers as addressed).
fn hub(transport: Option<Arc<dyn Transport>>) -> Arc<Hub> {
    let access = Arc::new(ConversationAccess::new(
        Arc::new(MockConversationRepository::new()),
        Duration::from_secs(5),
    ));
    Hub::new(access, transport)
}

#[async_trait]
impl BrokerHarness for HubNodes {
    fn nodes(&self) -> usize {
        self.hubs.len()
    }

    fn broker(&self, node: usize) -> Arc<dyn Broker> {
        self.hubs[node].clone()
    }

    async fn connect(&self, node: usize, user: &User) -> Box<dyn Connection> {
        let (outbox, frames) = Outbox::new(1024, 1 << 20);
        let registration = self.hubs[node].register(user, outbox).await;
        Box::new(HubConnection {
            frames,
            _registration: registration,
            pending: Vec::new(),
        })
    }
}

struct HubConnection {
    frames: Receiver,
    _registration: Registration,
    pending: Vec<Frame>,
}

#[async_trait]
impl Connection for HubConnection {
    async fn next(&mut self) -> Option<ConversationId> {
        if self.pending.is_empty() {
            tokio::time::timeout(PATIENCE, self.frames.recv_many(&mut self.pending, 64))
                .await
                .ok()?;
            self.pending.reverse();
        }
        let frame = self.pending.pop()?;
        let v: serde_json::Value = serde_json::from_str(frame.as_str()).ok()?;
        v["payload"]["conversation_id"].as_str()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_hub_keeps_the_broker_contract() {
        qc_application::testing::broker_contract(&super::HubNodes::memory()).await;
    }
}
