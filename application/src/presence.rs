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

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::{DashMap, DashSet};
use qc_domain::{ChatEvent, PresenceStatus, Side, User, UserId};
use tokio::sync::mpsc;

use crate::ports::{
    AgentRecord, AgentRepository, Broker, BrokerError, Clock, ConversationRepository, Envelope,
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
        } else if user.side == Side::Customer {
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

/// Works out a user's status and who hears of it, and publishes.
struct Announcer {
    ports: PresencePorts,
    available: Arc<OnceLock<Hook>>,
}

impl Announcer {
    /// Whether some live node holds `user`.
    async fn is_connected(&self, user: &User) -> Result<bool, PresenceError> {
        Ok(self
            .ports
            .store
            .connected(std::slice::from_ref(user))
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// Tells `to` the presence of `user` now. Best effort: logged when it
    /// cannot be read.
    async fn tell(&self, to: User, user: User) {
        match self.status_of(&user, None).await {
            Ok(status) => {
                let event = ChatEvent::Presence {
                    user,
                    status,
                    at: self.ports.clock.now(),
                };
                crate::use_cases::publish_best_effort(
                    &self.ports.broker,
                    Envelope::new(vec![to], event),
                )
                .await;
            }
            Err(e) => tracing::warn!(error = %e, "a presence not told"),
        }
    }

    /// `connected`: when already known; else asked of the store.
    async fn status_of(
        &self,
        user: &User,
        connected: Option<bool>,
    ) -> Result<PresenceStatus, PresenceError> {
        let connected = match connected {
            Some(c) => c,
            None => self.is_connected(user).await?,
        };
        if !connected {
            return Ok(PresenceStatus::Offline);
        }
        let away = match user.side {
            Side::Agent => self
                .ports
                .agents
                .find(&user.id)
                .await?
                .is_some_and(|a| a.away),
            Side::Customer => false,
        };
        Ok(PresenceStatus::of(true, away))
    }

    /// An agent's change: every agent, and the customers the agent serves.
    /// A customer's: the agents serving them.
    async fn announce(&self, user: &User, status: PresenceStatus) {
        let recipients = match user.side {
            Side::Agent => self
                .ports
                .conversations
                .customers_served_by(&user.id)
                .await
                .map(|c| c.into_iter().map(User::customer).collect::<Vec<_>>()),
            Side::Customer => self
                .ports
                .conversations
                .agents_serving(&user.id)
                .await
                .map(|a| a.into_iter().map(User::agent).collect::<Vec<_>>()),
        };
        let recipients = match recipients {
            Ok(r) => r,
            Err(e) => {
                // Every agent still hears of an agent's change (that needs
                // no lookup); the customers it serves learn it on their next
                // connection.
                tracing::warn!(error = %e, "presence change not told to the conversations' other side");
                if user.side == Side::Customer {
                    return;
                }
                Vec::new()
            }
        };
        let event = ChatEvent::Presence {
            user: user.clone(),
            status,
            at: self.ports.clock.now(),
        };
        let envelope = match user.side {
            Side::Agent => Envelope::with_all_agents(recipients, event),
            Side::Customer => Envelope::new(recipients, event),
        };
        crate::use_cases::publish_best_effort(&self.ports.broker, envelope).await;
    }

    async fn came_online(&self, user: &User) {
        match self.status_of(user, Some(true)).await {
            Ok(status) => {
                self.announce(user, status).await;
                if status == PresenceStatus::Online
                    && let Some(hook) = self.available.get()
                {
                    hook();
                }
            }
            Err(e) => tracing::warn!(error = %e, "presence change not announced"),
        }
    }

    /// A customer's connection arrived here: the agents serving them are
    /// read once, told (when the customer just came `online`), and their
    /// presence is sent to the customer's connections (what a new one
    /// missed). On the presence task, not on the connection's path: a
    /// storm of connections queues here instead of crowding the database.
    async fn customer_arrived(&self, customer: &User, online: bool) {
        let agents = match self.ports.conversations.agents_serving(&customer.id).await {
            Ok(agents) => agents,
            Err(e) => {
                tracing::warn!(error = %e, "a customer's agents could not be read for presence");
                return;
            }
        };
        if agents.is_empty() {
            return;
        }
        if online {
            let event = ChatEvent::Presence {
                user: customer.clone(),
                status: PresenceStatus::Online,
                at: self.ports.clock.now(),
            };
            let to = agents.iter().cloned().map(User::agent).collect();
            crate::use_cases::publish_best_effort(&self.ports.broker, Envelope::new(to, event))
                .await;
        }
        for agent in agents {
            self.tell(customer.clone(), User::agent(agent)).await;
        }
    }
}

/// The node's presence task: arrivals and departures in order, the lease,
/// the reaping of dead nodes, and the retries of what the store could not
/// record (it was unreachable).
async fn run(
    announcer: Announcer,
    local: Arc<DashMap<User, Local>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut book = Book {
        store: announcer.ports.store.clone(),
        announcer,
        local,
        present: HashSet::new(),
        arrive_again: HashSet::new(),
        depart_again: HashSet::new(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Arrive(user)) => book.arrive(user).await,
                Some(Command::Depart(user, generation)) => {
                    let gone = book
                        .local
                        .remove_if(&user, |_, l| l.connections == 0 && l.generation == generation)
                        .is_some();
                    if gone {
                        book.depart(user).await;
                    }
                }
                Some(Command::Rearrive) => book.rearrive().await,
                Some(Command::Snapshot(user)) => book.announcer.customer_arrived(&user, false).await,
            },
            _ = tick.tick() => book.retry().await,
        }
    }
}

/// The node's lease, on a task of its own so that no database wait or
/// backlog of arrivals delays a renewal past the lease (other nodes would
/// take this node's users for offline); and the reaping of dead nodes.
async fn lease(announcer: Announcer, commands: mpsc::UnboundedSender<Command>) {
    let store = announcer.ports.store.clone();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tick.tick().await;
        if commands.is_closed() {
            return;
        }
        ticks = ticks.wrapping_add(1);
        if ticks % RENEW_EVERY == 1 {
            match store.renew().await {
                Ok(true) => {
                    let _ = commands.send(Command::Rearrive);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "presence lease not renewed"),
            }
        }
        match store.reap().await {
            Ok(offline) => {
                for user in offline {
                    announcer.announce(&user, PresenceStatus::Offline).await;
                }
            }
            Err(e) => tracing::debug!(error = %e, "dead nodes not reaped this time"),
        }
    }
}

/// What this node has told the store, and what it still owes it.
struct Book {
    store: Arc<dyn PresenceStore>,
    announcer: Announcer,
    local: Arc<DashMap<User, Local>>,
    /// Users the store knows this node holds.
    present: HashSet<User>,
    /// Arrivals the store did not record yet.
    arrive_again: HashSet<User>,
    /// Departures the store did not record yet.
    depart_again: HashSet<User>,
}

impl Book {
    fn held_here(&self, user: &User) -> bool {
        self.local.get(user).is_some_and(|l| l.connections > 0)
    }

    /// The user's presence changed (`online`) or a customer's new
    /// connection needs the agents' presence.
    async fn arrived(&self, user: &User, online: bool) {
        match user.side {
            Side::Customer => self.announcer.customer_arrived(user, online).await,
            Side::Agent if online => self.announcer.came_online(user).await,
            Side::Agent => {}
        }
    }

    async fn arrive(&mut self, user: User) {
        if self.depart_again.remove(&user) || self.present.contains(&user) {
            // Back before the store heard of the departure (it still has
            // the user as held here, which is true again), or back within
            // the grace: no change, but a new connection.
            self.present.insert(user.clone());
            self.arrived(&user, false).await;
            return;
        }
        match self.store.arrive(&user).await {
            Ok(online) => {
                self.arrive_again.remove(&user);
                self.present.insert(user.clone());
                self.arrived(&user, online).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "presence arrival not recorded; retrying every second");
                self.arrive_again.insert(user);
            }
        }
    }

    async fn depart(&mut self, user: User) {
        // An arrival that failed may still have been recorded (a timeout
        // after the script ran): undo it all the same (departing is
        // idempotent).
        let uncertain = self.arrive_again.remove(&user);
        if !self.present.remove(&user) && !uncertain {
            return;
        }
        match self.store.depart(&user).await {
            Ok(true) => {
                self.depart_again.remove(&user);
                self.announcer
                    .announce(&user, PresenceStatus::Offline)
                    .await;
            }
            Ok(false) => {
                self.depart_again.remove(&user);
            }
            Err(e) => {
                tracing::warn!(error = %e, "presence departure not recorded; retrying every second");
                self.depart_again.insert(user);
            }
        }
    }

    async fn rearrive(&mut self) {
        tracing::warn!(
            users = self.present.len(),
            "this node's presence lease had run out; announcing its users again"
        );
        let users: Vec<User> = self.present.iter().cloned().collect();
        for user in users {
            match self.store.arrive(&user).await {
                Ok(true) => self.arrived(&user, true).await,
                Ok(false) => {}
                Err(_) => {
                    self.present.remove(&user);
                    self.arrive_again.insert(user);
                }
            }
        }
    }

    /// What the store missed while it was unreachable, as things are now:
    /// an arrival of a user since gone is dropped, a departure of a user
    /// since back is dropped.
    async fn retry(&mut self) {
        let arrivals: Vec<User> = self.arrive_again.drain().collect();
        for user in arrivals {
            if self.held_here(&user) {
                self.arrive(user).await;
            }
        }
        let departures: Vec<User> = self.depart_again.drain().collect();
        for user in departures {
            if self.held_here(&user) {
                self.present.insert(user);
            } else {
                self.present.insert(user.clone());
                self.depart(user).await;
            }
        }
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
