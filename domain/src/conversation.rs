//! A conversation: one client (its owner) and at most one assigned support
//! agent. The rules of who may see, send into, claim and close it live here.

use chrono::{DateTime, Utc};

use crate::event::ChatEvent;
use crate::ids::{ConversationId, UserId};
use crate::role::{Identity, Role, Side, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Why an action on a conversation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    /// The caller may not see this conversation. Deliberately the same answer
    /// as "does not exist", so existence does not leak.
    #[error("conversation not found")]
    NotFound,
    #[error("conversation is closed")]
    Closed,
    #[error("conversation is assigned to another agent")]
    AlreadyAssigned,
    #[error("only {0} may do this")]
    Forbidden(&'static str),
}

/// What claiming a conversation would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOutcome {
    /// It was unassigned: the agent becomes its support agent.
    Assigned,
    /// The agent already holds it: nothing changes.
    AlreadyMine,
}

/// What a transfer would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The conversation changes hands (to another agent, or to the queue).
    Moves,
    /// Transferring to oneself: nothing changes.
    Unchanged,
}

/// Maximum subject length, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    id: ConversationId,
    client_id: UserId,
    support_id: Option<UserId>,
    status: ConversationStatus,
    subject: Option<String>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl Conversation {
    /// Rebuilds a conversation that was stored (or sent between nodes):
    /// the one way an adapter makes a `Conversation` other than
    /// [`Conversation::open`]. The values were checked when it was opened;
    /// only their coherence is restored here (a closed conversation has a
    /// `closed_at`, an open one none).
    pub fn restore(
        id: ConversationId,
        client_id: UserId,
        support_id: Option<UserId>,
        status: ConversationStatus,
        subject: Option<String>,
        created_at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
    ) -> Self {
        let closed_at = match status {
            ConversationStatus::Open => None,
            ConversationStatus::Closed => Some(closed_at.unwrap_or(created_at)),
        };
        Self {
            id,
            client_id,
            support_id,
            status,
            subject,
            created_at,
            closed_at,
        }
    }

    pub const fn id(&self) -> ConversationId {
        self.id
    }

    /// The customer who owns it (their `sub`).
    pub const fn client_id(&self) -> &UserId {
        &self.client_id
    }

    /// The assigned agent's `sub`; `None` while it waits in the queue.
    pub const fn support_id(&self) -> Option<&UserId> {
        self.support_id.as_ref()
    }

    pub const fn status(&self) -> ConversationStatus {
        self.status
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub const fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    /// Opens a conversation owned by `owner`.
    ///
    /// # Errors
    /// [`ConversationError::Forbidden`] when the owner is a support agent;
    /// only guests and clients open conversations.
    pub fn open(
        id: ConversationId,
        owner: &Identity,
        subject: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, ConversationError> {
        if !owner.role().is_customer() {
            return Err(ConversationError::Forbidden("guests and clients"));
        }
        let subject = subject
            .map(|s| s.trim().chars().take(MAX_SUBJECT_CHARS).collect::<String>())
            .filter(|s| !s.is_empty());
        Ok(Self {
            id,
            client_id: owner.user_id().clone(),
            support_id: None,
            status: ConversationStatus::Open,
            subject,
            created_at: now,
            closed_at: None,
        })
    }

    pub fn is_open(&self) -> bool {
        self.status == ConversationStatus::Open
    }

    /// Participants are the customer who owns it and the assigned agent,
    /// nobody else. `client_id` matches only the customer side and
    /// `support_id` only the agent side: a support token carrying the
    /// customer's `sub` is a stranger here.
    pub fn is_participant(&self, user: &User) -> bool {
        self.is_participant_as(user.side(), user.id())
    }

    /// [`Conversation::is_participant`] for the user (`side`, `id`), without
    /// building one.
    pub fn is_participant_as(&self, side: Side, id: &UserId) -> bool {
        match side {
            Side::Customer => &self.client_id == id,
            Side::Agent => self.support_id.as_ref() == Some(id),
        }
    }

    /// The owner, as a user.
    pub fn customer(&self) -> User {
        User::customer(self.client_id.clone())
    }

    /// The assigned agent, as a user.
    pub fn agent(&self) -> Option<User> {
        self.support_id.clone().map(User::agent)
    }

    /// Everyone who receives the conversation's events.
    pub fn participants(&self) -> Vec<User> {
        let mut all = Vec::with_capacity(2);
        all.push(self.customer());
        all.extend(self.agent());
        all
    }

    /// Participants other than `user`: who sees `user`'s typing indicator.
    pub fn others(&self, user: &User) -> Vec<User> {
        self.participants()
            .into_iter()
            .filter(|p| p != user)
            .collect()
    }

    /// Whether `who` may read the conversation and its history: a participant,
    /// or any support agent while it waits unassigned in the queue.
    pub fn can_view(&self, who: &Identity) -> bool {
        self.is_participant(&who.user())
            || (who.role() == Role::Support && self.support_id.is_none())
    }

    /// Whether `sender` may post text or typing signals now.
    ///
    /// # Errors
    /// [`ConversationError::NotFound`] when not a participant (checked first,
    /// so a closed conversation of someone else stays invisible), then
    /// [`ConversationError::Closed`] when closed.
    pub fn ensure_can_send(&self, sender: &User) -> Result<(), ConversationError> {
        self.ensure_can_send_as(sender.side(), sender.id())
    }

    /// [`Conversation::ensure_can_send`] for the user (`side`, `id`).
    ///
    /// # Errors
    /// As [`Conversation::ensure_can_send`].
    pub fn ensure_can_send_as(&self, side: Side, id: &UserId) -> Result<(), ConversationError> {
        if !self.is_participant_as(side, id) {
            return Err(ConversationError::NotFound);
        }
        if !self.is_open() {
            return Err(ConversationError::Closed);
        }
        Ok(())
    }

    /// `agent` claims this conversation: checked and applied in one call.
    /// On `Ok(Assigned)` it is now theirs; `Ok(AlreadyMine)` changes
    /// nothing. A store that applies the claim atomically (of two agents
    /// claiming at once, one wins) calls this on the value it read, then
    /// persists it conditionally.
    ///
    /// # Errors
    /// `Forbidden` for a non-agent, `Closed` when closed (this wins over the
    /// next), `AlreadyAssigned` when another agent holds it. On an error
    /// nothing changes.
    pub fn assign(&mut self, agent: &Identity) -> Result<AssignOutcome, ConversationError> {
        if agent.role() != Role::Support {
            return Err(ConversationError::Forbidden("support agents"));
        }
        if !self.is_open() {
            return Err(ConversationError::Closed);
        }
        match &self.support_id {
            None => {
                self.support_id = Some(agent.user_id().clone());
                Ok(AssignOutcome::Assigned)
            }
            Some(current) if current == agent.user_id() => Ok(AssignOutcome::AlreadyMine),
            Some(_) => Err(ConversationError::AlreadyAssigned),
        }
    }

    /// `by` hands this conversation to `to` (another agent's `sub`, or
    /// `None` for the queue): checked and applied in one call. On
    /// `Ok(Moves)` it is `to`'s now; `Ok(Unchanged)` (to oneself) changes
    /// nothing.
    ///
    /// # Errors
    /// `Forbidden` for a non-agent (whatever the conversation), `NotFound`
    /// when `by` is not its assigned agent (checked before `Closed`, so a
    /// stranger learns nothing), `Closed` when closed. On an error nothing
    /// changes.
    pub fn transfer(
        &mut self,
        by: &Identity,
        to: Option<&UserId>,
    ) -> Result<TransferOutcome, ConversationError> {
        if by.role() != Role::Support {
            return Err(ConversationError::Forbidden("support agents"));
        }
        if !self.is_participant_as(Side::Agent, by.user_id()) {
            return Err(ConversationError::NotFound);
        }
        if !self.is_open() {
            return Err(ConversationError::Closed);
        }
        if to == Some(by.user_id()) {
            return Ok(TransferOutcome::Unchanged);
        }
        self.support_id = to.cloned();
        Ok(TransferOutcome::Moves)
    }

    /// `who` closes the conversation at `at`: checked and applied in one
    /// call. `Ok(true)` when this closed it, `Ok(false)` when it was closed
    /// already (closing is idempotent and then changes nothing).
    ///
    /// # Errors
    /// [`ConversationError::NotFound`] for a non-participant; nothing
    /// changes.
    pub fn close(&mut self, who: &User, at: DateTime<Utc>) -> Result<bool, ConversationError> {
        if !self.is_participant(who) {
            return Err(ConversationError::NotFound);
        }
        if !self.is_open() {
            return Ok(false);
        }
        self.status = ConversationStatus::Closed;
        self.closed_at = Some(at);
        Ok(true)
    }

    /// Replays an event that already happened elsewhere (another request,
    /// another node) on a copy kept in a cache. The rules were checked where
    /// it happened; events about other conversations, or that change
    /// nothing here, are ignored.
    pub fn apply(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::ConversationAssigned {
                conversation_id,
                support_id,
                ..
            } if *conversation_id == self.id => self.support_id.clone_from(support_id),
            ChatEvent::ConversationClosed {
                conversation_id,
                at,
                ..
            } if *conversation_id == self.id && self.is_open() => {
                self.status = ConversationStatus::Closed;
                self.closed_at = Some(*at);
            }
            _ => {}
        }
    }
}

mod view;

pub use view::ConversationView;

#[cfg(test)]
mod tests;
