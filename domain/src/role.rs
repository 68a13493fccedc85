//! Roles, the endpoints they may use, and the authenticated caller.

use std::fmt;

use crate::ids::UserId;

/// The caller's role, from the token's `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Guest,
    Client,
    Support,
}

impl Role {
    /// Parses the claim value; anything but the three roles is refused.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "guest" => Some(Self::Guest),
            "client" => Some(Self::Client),
            "support" => Some(Self::Support),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Client => "client",
            Self::Support => "support",
        }
    }

    /// Guests and clients own conversations; support agents answer them.
    pub const fn is_customer(self) -> bool {
        matches!(self, Self::Guest | Self::Client)
    }

    /// Which side of a conversation this role is on.
    pub const fn side(self) -> Side {
        if self.is_customer() {
            Side::Customer
        } else {
            Side::Agent
        }
    }
}

/// The two sides of a conversation. A user is the pair (side, sub): a
/// customer token and a support token carrying the same `sub` are two
/// different users, who see, receive and send nothing of each other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Guests and clients (one customer per `sub`, whichever of the two).
    Customer,
    /// Support agents.
    Agent,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "customer" => Some(Self::Customer),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user: the pair (side, sub). Everything addressed to or checked
/// against a person uses this, never the bare `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct User {
    side: Side,
    id: UserId,
}

impl User {
    pub const fn side(&self) -> Side {
        self.side
    }

    pub const fn id(&self) -> &UserId {
        &self.id
    }

    pub const fn new(side: Side, id: UserId) -> Self {
        Self { side, id }
    }

    pub const fn customer(id: UserId) -> Self {
        Self::new(Side::Customer, id)
    }

    pub const fn agent(id: UserId) -> Self {
        Self::new(Side::Agent, id)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two WebSocket endpoints of the seed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/chats/clients`: guests and clients.
    Clients,
    /// `/chats/supports`: support agents.
    Supports,
}

impl Endpoint {
    pub const fn admits(self, role: Role) -> bool {
        match self {
            Self::Clients => role.is_customer(),
            Self::Supports => matches!(role, Role::Support),
        }
    }
}

/// Who is calling: a verified user id and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    user_id: UserId,
    role: Role,
}

impl Identity {
    /// A verified caller: `user_id` is the token's `sub`, `role` its role.
    pub const fn new(user_id: UserId, role: Role) -> Self {
        Self { user_id, role }
    }

    pub const fn user_id(&self) -> &UserId {
        &self.user_id
    }

    pub const fn role(&self) -> Role {
        self.role
    }

    pub const fn side(&self) -> Side {
        self.role.side()
    }

    /// The user behind the token: (side of the role, sub).
    pub fn user(&self) -> User {
        User::new(self.side(), self.user_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_only_the_three_names() {
        assert_eq!(Role::parse("guest"), Some(Role::Guest));
        assert_eq!(Role::parse("client"), Some(Role::Client));
        assert_eq!(Role::parse("support"), Some(Role::Support));
        assert_eq!(Role::parse("Support"), None);
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse(""), None);
        for r in [Role::Guest, Role::Client, Role::Support] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn guests_and_clients_are_one_side_agents_the_other() {
        assert_eq!(Role::Guest.side(), Side::Customer);
        assert_eq!(Role::Client.side(), Side::Customer);
        assert_eq!(Role::Support.side(), Side::Agent);
        let sub = UserId::new("same").unwrap();
        let guest = Identity {
            user_id: sub.clone(),
            role: Role::Guest,
        };
        let client = Identity {
            user_id: sub.clone(),
            role: Role::Client,
        };
        let agent = Identity {
            user_id: sub,
            role: Role::Support,
        };
        assert_eq!(guest.user(), client.user(), "one customer");
        assert_ne!(guest.user(), agent.user(), "two users");
        for side in [Side::Customer, Side::Agent] {
            assert_eq!(Side::parse(side.as_str()), Some(side));
        }
        assert_eq!(Side::parse("support"), None);
    }

    #[test]
    fn endpoints_admit_the_seed_roles() {
        assert!(Endpoint::Clients.admits(Role::Guest));
        assert!(Endpoint::Clients.admits(Role::Client));
        assert!(!Endpoint::Clients.admits(Role::Support));
        assert!(Endpoint::Supports.admits(Role::Support));
        assert!(!Endpoint::Supports.admits(Role::Client));
        assert!(!Endpoint::Supports.admits(Role::Guest));
    }
}
