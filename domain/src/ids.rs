//! Identifiers. Conversations and messages use ULIDs (sortable by creation
//! time); users are whatever the identity provider puts in the token's `sub`.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not a ULID")]
    NotUlid,
    #[error("user id must be 1 to {max} characters", max = UserId::MAX_CHARS)]
    BadUserId,
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub const fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            /// Accepts the 26-character Crockford base32 form, case-insensitively.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != ulid::ULID_LEN {
                    return Err(IdError::NotUlid);
                }
                Ulid::from_string(s).map(Self).map_err(|_| IdError::NotUlid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

ulid_id!(
    /// Identifies a conversation.
    ConversationId
);
ulid_id!(
    /// Identifies a stored message.
    MessageId
);

/// A user id: the token's `sub`, any non-empty string of at most 128 characters.
///
/// Shared, not owned: a user id is cloned into every envelope's recipients,
/// the hub's registry and the presence book, and a clone is a reference
/// count, not a copy of the string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(std::sync::Arc<str>);

impl UserId {
    pub const MAX_CHARS: usize = 128;

    /// # Errors
    /// [`IdError::BadUserId`] when empty or longer than [`UserId::MAX_CHARS`] characters.
    pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let chars = raw.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(IdError::BadUserId);
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulid_ids_round_trip_and_reject_garbage() {
        let id: ConversationId = "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap();
        assert_eq!(id.to_string(), "01KAAWW5V95WFFDERJZCTDE2QQ");
        let lower: ConversationId = "01kaaww5v95wffderjzctde2qq".parse().unwrap();
        assert_eq!(lower, id);
        assert_eq!("".parse::<MessageId>(), Err(IdError::NotUlid));
        assert_eq!("not-a-ulid".parse::<MessageId>(), Err(IdError::NotUlid));
        assert_eq!(
            "01KAAWW5V95WFFDERJZCTDE2QQX".parse::<MessageId>(),
            Err(IdError::NotUlid)
        );
        // 'U' is not in Crockford base32.
        assert_eq!(
            "01KAAWW5V95WFFDERJZCTDE2QU".parse::<MessageId>(),
            Err(IdError::NotUlid)
        );
    }

    #[test]
    fn user_ids_are_1_to_128_chars() {
        assert!(UserId::new("").is_err());
        assert!(UserId::new("a").is_ok());
        assert!(UserId::new("é".repeat(128)).is_ok());
        assert_eq!(UserId::new("x".repeat(129)), Err(IdError::BadUserId));
    }
}
