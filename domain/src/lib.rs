//! The Quick Connect Chat domain: conversations between a client and a support
//! agent, the messages in them, who may do what, and the events they produce.
//!
//! Pure model: no async runtime, no web framework, no database, no JSON.
//! Everything that can be invalid is checked in a constructor, so a value of
//! one of these types is valid by construction.

pub mod conversation;
pub mod event;
pub mod ids;
pub mod message;
pub mod policy;
pub mod role;
pub mod routing;

pub use conversation::{
    AssignOutcome, Conversation, ConversationError, ConversationStatus, ConversationView,
    TransferOutcome,
};
pub use event::{ChatEvent, PresenceStatus, TypingKind};
pub use ids::{ConversationId, IdError, MessageId, UserId};
pub use message::{
    ClientMsgId, MAX_CONTENT_CHARS, Message, MessageContent, MessageError, MessageKind, NewMessage,
};
pub use policy::{ContentError, DefaultPolicy, MessagePolicy, NoCardNumbers};
pub use role::{Endpoint, Identity, Role, Side, User};
pub use routing::{Assignment, Candidate, FewestOpenFirst, RoutingRule, VipFirst, Waiting};
