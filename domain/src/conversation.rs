//! A conversation: one client (its owner) and at most one assigned support
//! agent. The rules of who may see, send into, claim and close it live here.

use chrono::{DateTime, Utc};

use crate::ids::{ConversationId, UserId};
use crate::message::Message;
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

/// A conversation as one user sees it: the latest message they may see,
/// and how many texts from the other side they have not marked read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub last_message: Option<Message>,
    pub unread_count: u64,
}

impl ConversationView {
    /// A conversation with no message yet (just opened).
    pub fn empty(conversation: Conversation) -> Self {
        Self {
            conversation,
            last_message: None,
            unread_count: 0,
        }
    }
}

/// Maximum subject length, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub client_id: UserId,
    pub support_id: Option<UserId>,
    pub status: ConversationStatus,
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Conversation {
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
        if !owner.role.is_customer() {
            return Err(ConversationError::Forbidden("guests and clients"));
        }
        let subject = subject
            .map(|s| s.trim().chars().take(MAX_SUBJECT_CHARS).collect::<String>())
            .filter(|s| !s.is_empty());
        Ok(Self {
            id,
            client_id: owner.user_id.clone(),
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
        self.is_participant_as(user.side, &user.id)
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
        self.is_participant(&who.user()) || (who.role == Role::Support && self.support_id.is_none())
    }

    /// Whether `sender` may post text or typing signals now.
    ///
    /// # Errors
    /// [`ConversationError::NotFound`] when not a participant (checked first,
    /// so a closed conversation of someone else stays invisible), then
    /// [`ConversationError::Closed`] when closed.
    pub fn ensure_can_send(&self, sender: &User) -> Result<(), ConversationError> {
        self.ensure_can_send_as(sender.side, &sender.id)
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

    /// Whether `agent` may claim this conversation, and what claiming does.
    ///
    /// # Errors
    /// `Forbidden` for a non-agent, `Closed` when closed (this wins over the
    /// next), `AlreadyAssigned` when another agent holds it.
    pub fn check_assign(&self, agent: &Identity) -> Result<AssignOutcome, ConversationError> {
        if agent.role != Role::Support {
            return Err(ConversationError::Forbidden("support agents"));
        }
        if !self.is_open() {
            return Err(ConversationError::Closed);
        }
        match &self.support_id {
            None => Ok(AssignOutcome::Assigned),
            Some(current) if current == &agent.user_id => Ok(AssignOutcome::AlreadyMine),
            Some(_) => Err(ConversationError::AlreadyAssigned),
        }
    }

    /// Whether `by` may hand this conversation to `to` (another agent's
    /// `sub`, or `None` for the queue), and what that does.
    ///
    /// # Errors
    /// `Forbidden` for a non-agent (whatever the conversation), `NotFound`
    /// when `by` is not its assigned agent (checked before `Closed`, so a
    /// stranger learns nothing), `Closed` when closed.
    pub fn check_transfer(
        &self,
        by: &Identity,
        to: Option<&UserId>,
    ) -> Result<TransferOutcome, ConversationError> {
        if by.role != Role::Support {
            return Err(ConversationError::Forbidden("support agents"));
        }
        if !self.is_participant_as(Side::Agent, &by.user_id) {
            return Err(ConversationError::NotFound);
        }
        if !self.is_open() {
            return Err(ConversationError::Closed);
        }
        Ok(if to == Some(&by.user_id) {
            TransferOutcome::Unchanged
        } else {
            TransferOutcome::Moves
        })
    }

    /// Applies a successful claim.
    pub fn assign_to(&mut self, agent: UserId) {
        self.support_id = Some(agent);
    }

    /// Applies a successful transfer (`None`: back to the queue).
    pub fn hand_to(&mut self, agent: Option<UserId>) {
        self.support_id = agent;
    }

    /// Whether `who` may close the conversation; `Ok(false)` when it is
    /// already closed (closing is idempotent and then changes nothing).
    ///
    /// # Errors
    /// [`ConversationError::NotFound`] for a non-participant.
    pub fn check_close(&self, who: &User) -> Result<bool, ConversationError> {
        if !self.is_participant(who) {
            return Err(ConversationError::NotFound);
        }
        Ok(self.is_open())
    }

    /// Applies a close.
    pub fn close(&mut self, at: DateTime<Utc>) {
        if self.is_open() {
            self.status = ConversationStatus::Closed;
            self.closed_at = Some(at);
        }
    }
}

#[cfg(test)]
mod tests;
