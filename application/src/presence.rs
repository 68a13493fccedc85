//! Presence: `online` / `away` / `offline` per user, from their connections
//! on every node, announced once per change (not once per connection).
//!
//! This node counts its own connections per user; only the first one here
//! and the last one gone reach the [`PresenceStore`], which says whether
//! that changed the user's presence anywhere. The last connection's
//! departure waits a short grace first, so a page reload is not announced
//! as offline-then-online. One task per node applies arrivals and
//! departures in the order they happened and renews the node's lease; what
//! a node that died held is reaped by another one and announced offline.
//!
//! An agent's `away` is kept by the [`AgentRepository`] (it survives
//! reconnects) and shows only while the agent is connected.

mod announcer;
mod book;
mod lease;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::{DashMap, DashSet};
#[cfg(test)]
use qc_domain::ChatEvent;
use qc_domain::{PresenceStatus, Side, User, UserId};
use tokio::sync::mpsc;

use self::announcer::Announcer;
use self::book::run;
use self::lease::lease;
use crate::ports::{
    AgentRecord, AgentRepository, Broker, BrokerError, Clock, ConversationRepository,
    PresenceStore, RepositoryError,
};

/// How often the task reaps dead nodes' users; the lease is renewed every
/// [`RENEW_EVERY`] ticks.
pub const TICK: Duration = Duration::from_secs(1);
const RENEW_EVERY: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<RepositoryError> for PresenceError {
    fn from(e: RepositoryError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<BrokerError> for PresenceError {
    fn from(e: BrokerError) -> Self {
        Self::Unavailable(e.into())
    }
}

/// An agent as `GET /agents` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEntry {
    pub id: UserId,
    pub status: PresenceStatus,
    pub open_conversations: u64,
}

/// What presence needs from the world.
#[derive(Clone)]
pub struct PresencePorts {
    pub store: Arc<dyn PresenceStore>,
    pub agents: Arc<dyn AgentRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
}

struct Local {
    connections: usize,
    /// Bumped by every first connection and every last departure: a
    /// departure scheduled before a reconnect finds it changed and does
    /// nothing.
    generation: u64,
}

enum Command {
    Arrive(User),
    /// Another connection of a customer already here: it missed the
    /// presence of the agents serving them.
    Snapshot(User),
    Depart(User, u64),
    /// The node's lease had run out: tell the store again of every user
    /// this node holds.
    Rearrive,
}

/// Generations come from one counter: an entry removed and made again
/// never reuses one, so a stale departure cannot match a new connection.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub struct Presence {
    ports: PresencePorts,
    /// This node's connections per user.
    local: Arc<DashMap<User, Local>>,
    /// Agents this node recorded as seen (one write per agent per node).
    seen: DashSet<UserId>,
    commands: mpsc::UnboundedSender<Command>,
    grace: Duration,
    /// Told when an agent becomes available (online, or back from away).
    available: Arc<OnceLock<Hook>>,
}

/// What is told when an agent becomes available (automatic routing).
pub type Hook = Arc<dyn Fn() + Send + Sync>;

impl Presence {
    fn announcer(&self) -> Announcer {
        Announcer {
            ports: self.ports.clone(),
            available: self.available.clone(),
        }
    }

    /// `hook` is called whenever an agent becomes available to take
    /// conversations: online, or back from away (set once; automatic
    /// routing decides then).
    pub fn when_available(&self, hook: Hook) {
        let _ = self.available.set(hook);
    }

    /// Starts the node's presence task. `grace` is how long a user's last
    /// connection may be gone before they are offline.
    pub fn start(ports: PresencePorts, grace: Duration) -> Arc<Self> {
        let (commands, rx) = mpsc::unbounded_channel();
        let local = Arc::new(DashMap::new());
        let presence = Arc::new(Self {
            ports: ports.clone(),
            local: local.clone(),
            seen: DashSet::new(),
            commands,
            grace,
            available: Arc::new(OnceLock::new()),
        });
        tokio::spawn(lease(presence.announcer(), presence.commands.clone()));
        tokio::spawn(run(presence.announcer(), local, rx));
        presence
    }

    /// A connection of `user` opened on this node.
    pub fn connected(&self, user: &User) {
        let mut local = self.local.entry(user.clone()).or_insert(Local {
            connections: 0,
            generation: 0,
        });
        local.connections += 1;
        if local.connections == 1 {
            local.generation = next_generation();
            let _ = self.commands.send(Command::Arrive(user.clone()));
        } else if user.side() == Side::Customer {
            let _ = self.commands.send(Command::Snapshot(user.clone()));
        }
    }

    /// A connection of `user` closed on this node.
    pub fn disconnected(&self, user: &User) {
        let Some(mut local) = self.local.get_mut(user) else {
            return;
        };
        local.connections = local.connections.saturating_sub(1);
        if local.connections > 0 {
            return;
        }
        local.generation = next_generation();
        let generation = local.generation;
        drop(local);
        let commands = self.commands.clone();
        let user = user.clone();
        let grace = self.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = commands.send(Command::Depart(user, generation));
        });
    }

    /// Records `agent` as known to the desk (once per node).
    ///
    /// # Errors
    /// When storing failed (the next call tries again).
    pub async fn agent_seen(&self, agent: &UserId) -> Result<(), PresenceError> {
        if self.seen.contains(agent) {
            return Ok(());
        }
        self.ports.agents.seen(agent).await?;
        self.seen.insert(agent.clone());
        Ok(())
    }

    /// Every agent ever seen, with live presence and open conversations.
    ///
    /// # Errors
    /// When the database or the presence store cannot be read.
    pub async fn agents(&self) -> Result<Vec<AgentEntry>, PresenceError> {
        let records = self.ports.agents.list().await?;
        let users: Vec<User> = records.iter().map(|r| User::agent(r.id.clone())).collect();
        let connected = self.ports.store.connected(&users).await?;
        Ok(records
            .into_iter()
            .zip(connected)
            .map(|(r, c)| entry(r, c))
            .collect())
    }

    /// Sets `agent`'s away flag (`PUT /agents/me/status`), announcing the
    /// change when the agent is connected and the flag changed.
    ///
    /// # Errors
    /// When the database or the presence store is unreachable.
    pub async fn set_away(&self, agent: &UserId, away: bool) -> Result<AgentEntry, PresenceError> {
        let before = self.ports.agents.set_away(agent, away).await?;
        self.seen.insert(agent.clone());
        let user = User::agent(agent.clone());
        let connected = self.announcer().is_connected(&user).await?;
        if before != away && connected {
            self.announcer()
                .announce(&user, PresenceStatus::of(true, away))
                .await;
            if !away && let Some(hook) = self.available.get() {
                hook();
            }
        }
        let record = self.ports.agents.find(agent).await?.unwrap_or(AgentRecord {
            id: agent.clone(),
            away,
            open_conversations: 0,
        });
        Ok(entry(record, connected))
    }

    /// Tells `to` the presence of `agent` (a customer whose conversation
    /// `agent` just took). Best effort: logged when it fails.
    pub async fn tell(&self, to: User, agent: &UserId) {
        self.announcer().tell(to, User::agent(agent.clone())).await;
    }

    /// Users this node holds a connection of now (for tests and metrics).
    pub fn local_users(&self) -> usize {
        self.local.iter().filter(|l| l.connections > 0).count()
    }
}

fn entry(record: AgentRecord, connected: bool) -> AgentEntry {
    AgentEntry {
        status: PresenceStatus::of(connected, record.away),
        id: record.id,
        open_conversations: record.open_conversations,
    }
}

/// One node's presence with no other node: its own connections are the
/// whole truth.
#[derive(Default)]
pub struct LocalPresenceStore {
    held: std::sync::Mutex<HashSet<User>>,
}

#[async_trait::async_trait]
impl PresenceStore for LocalPresenceStore {
    async fn arrive(&self, user: &User) -> Result<bool, BrokerError> {
        Ok(self.held.lock().expect("poisoned").insert(user.clone()))
    }

    async fn depart(&self, user: &User) -> Result<bool, BrokerError> {
        Ok(self.held.lock().expect("poisoned").remove(user))
    }

    async fn connected(&self, users: &[User]) -> Result<Vec<bool>, BrokerError> {
        let held = self.held.lock().expect("poisoned");
        Ok(users.iter().map(|u| held.contains(u)).collect())
    }

    async fn renew(&self) -> Result<bool, BrokerError> {
        Ok(false)
    }

    async fn reap(&self) -> Result<Vec<User>, BrokerError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests;
