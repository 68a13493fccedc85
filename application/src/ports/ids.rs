//! Fresh identifiers, behind a port so tests can predict them.

use qc_domain::{ConversationId, MessageId};
use ulid::Ulid;

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn conversation_id(&self) -> ConversationId;
    fn message_id(&self) -> MessageId;
}

/// Random ULIDs from the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct UlidGenerator;

impl IdGenerator for UlidGenerator {
    fn conversation_id(&self) -> ConversationId {
        ConversationId::from_ulid(Ulid::generate())
    }
    fn message_id(&self) -> MessageId {
        MessageId::from_ulid(Ulid::generate())
    }
}
