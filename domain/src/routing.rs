//! Automatic assignment (`QC_ROUTING=auto`): which waiting conversation goes
//! to which agent. A pure rule, so it can be tested exhaustively and
//! replaced (skills, languages, VIP first) without touching an adapter:
//! implement [`RoutingRule`] and hand it to the application at bootstrap.
//!
//! The default, [`FewestOpenFirst`], is the contract's (§5): a conversation
//! goes to an agent who is online (not away, not offline) and holds fewer
//! than the capacity, the one holding the fewest, ties to the one whose
//! last assignment is oldest (never assigned counts as oldest), then by id
//! so that every node decides alike. Conversations are served oldest
//! first; what nobody can take keeps waiting.

use chrono::{DateTime, Utc};

use crate::event::PresenceStatus;
use crate::ids::{ConversationId, UserId};

/// A conversation waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    id: ConversationId,
    created_at: DateTime<Utc>,
    customer: UserId,
    subject: Option<String>,
}

impl Waiting {
    pub const fn new(
        id: ConversationId,
        created_at: DateTime<Utc>,
        customer: UserId,
        subject: Option<String>,
    ) -> Self {
        Self {
            id,
            created_at,
            customer,
            subject,
        }
    }

    pub const fn id(&self) -> ConversationId {
        self.id
    }

    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Its owner (a rule may serve some customers first).
    pub const fn customer(&self) -> &UserId {
        &self.customer
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

/// An agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    id: UserId,
    status: PresenceStatus,
    open: u32,
    last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    pub const fn new(
        id: UserId,
        status: PresenceStatus,
        open: u32,
        last_assigned_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            id,
            status,
            open,
            last_assigned_at,
        }
    }

    pub const fn id(&self) -> &UserId {
        &self.id
    }

    pub const fn status(&self) -> PresenceStatus {
        self.status
    }

    /// Open conversations assigned to them now.
    pub const fn open(&self) -> u32 {
        self.open
    }

    /// When they were last assigned one (by routing or by hand).
    pub const fn last_assigned_at(&self) -> Option<DateTime<Utc>> {
        self.last_assigned_at
    }

    /// The agent once `taken` more conversations were assigned to them at
    /// `now` (none: unchanged).
    #[must_use]
    pub fn after_taking(&self, taken: u32, now: DateTime<Utc>) -> Self {
        if taken == 0 {
            return self.clone();
        }
        Self {
            open: self.open + taken,
            last_assigned_at: Some(now),
            ..self.clone()
        }
    }
}

/// One decision: `conversation` goes to `agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    conversation: ConversationId,
    agent: UserId,
}

impl Assignment {
    pub const fn new(conversation: ConversationId, agent: UserId) -> Self {
        Self {
            conversation,
            agent,
        }
    }

    pub const fn conversation(&self) -> ConversationId {
        self.conversation
    }

    pub const fn agent(&self) -> &UserId {
        &self.agent
    }
}

/// Decides assignments for the waiting conversations.
///
/// Implementations MUST: assign only to agents who are online and stay
/// strictly under `capacity` counting what this plan adds; assign each
/// conversation at most once; and leave waiting only conversations no
/// qualifying agent could take. Everything else (order, tie-breaks) is the
/// rule's to choose.
pub trait RoutingRule: Send + Sync {
    /// `waiting` oldest first; `now` is when the plan is applied (the new
    /// "last assigned" of every agent it picks).
    fn plan(
        &self,
        waiting: &[Waiting],
        agents: &[Candidate],
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Vec<Assignment>;
}

/// The contract's rule (§5).
#[derive(Debug, Clone, Copy, Default)]
pub struct FewestOpenFirst;

impl FewestOpenFirst {
    /// Whether `agent` may take one more now.
    pub fn qualifies(agent: &Candidate, capacity: u32) -> bool {
        agent.status == PresenceStatus::Online && agent.open < capacity
    }
}

impl RoutingRule for FewestOpenFirst {
    fn plan(
        &self,
        waiting: &[Waiting],
        agents: &[Candidate],
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Vec<Assignment> {
        let mut pool: Vec<Candidate> = agents
            .iter()
            .filter(|a| Self::qualifies(a, capacity))
            .cloned()
            .collect();
        let mut queue: Vec<&Waiting> = waiting.iter().collect();
        queue.sort_by_key(|w| (w.created_at, w.id));
        let mut out = Vec::new();
        for conversation in queue {
            // Fewest open, then the oldest last assignment (None first),
            // then the id: a total order, the same on every node.
            let Some(agent) = pool
                .iter_mut()
                .filter(|a| a.open < capacity)
                .min_by(|a, b| {
                    (a.open, a.last_assigned_at, &a.id).cmp(&(b.open, b.last_assigned_at, &b.id))
                })
            else {
                break;
            };
            agent.open += 1;
            agent.last_assigned_at = Some(now);
            out.push(Assignment {
                conversation: conversation.id,
                agent: agent.id.clone(),
            });
        }
        out
    }
}

/// An example of a rule of one's own (docs/architecture.md): the
/// customers in `vips` are served before everyone else, however long the
/// others have waited; who serves them is still `then`'s choice.
pub struct VipFirst<R> {
    vips: std::collections::HashSet<UserId>,
    then: R,
}

impl<R> VipFirst<R> {
    pub fn new(vips: impl IntoIterator<Item = UserId>, then: R) -> Self {
        Self {
            vips: vips.into_iter().collect(),
            then,
        }
    }
}

impl<R: RoutingRule> RoutingRule for VipFirst<R> {
    fn plan(
        &self,
        waiting: &[Waiting],
        agents: &[Candidate],
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Vec<Assignment> {
        let (vip, rest): (Vec<Waiting>, Vec<Waiting>) = waiting
            .iter()
            .cloned()
            .partition(|w| self.vips.contains(&w.customer));
        let mut plan = self.then.plan(&vip, agents, capacity, now);
        // The agents as the VIPs leave them, for everyone else.
        let after: Vec<Candidate> = agents
            .iter()
            .map(|a| {
                let taken = plan.iter().filter(|p| p.agent == a.id).count() as u32;
                a.after_taking(taken, now)
            })
            .collect();
        plan.extend(self.then.plan(&rest, &after, capacity, now));
        plan
    }
}

#[cfg(test)]
mod tests;
