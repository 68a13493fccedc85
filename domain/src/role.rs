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
    pub user_id: UserId,
    pub role: Role,
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
    fn endpoints_admit_the_seed_roles() {
        assert!(Endpoint::Clients.admits(Role::Guest));
        assert!(Endpoint::Clients.admits(Role::Client));
        assert!(!Endpoint::Clients.admits(Role::Support));
        assert!(Endpoint::Supports.admits(Role::Support));
        assert!(!Endpoint::Supports.admits(Role::Client));
        assert!(!Endpoint::Supports.admits(Role::Guest));
    }
}
