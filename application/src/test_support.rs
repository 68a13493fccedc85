//! Fixtures for use-case tests: mocks of every port and a few named people.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use qc_domain::{
    ClientMsgId, Conversation, ConversationId, Identity, Message, MessageId, MessageKind, Role,
    UserId,
};
use ulid::Ulid;

use crate::ports::broker::MockBroker;
use crate::ports::clock::MockClock;
use crate::ports::conversation_repository::MockConversationRepository;
use crate::ports::ids::MockIdGenerator;
use crate::ports::message_repository::MockMessageRepository;
use crate::use_cases::*;

pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 18, 10, 30, 0).unwrap()
}

fn person(id: &str, role: Role) -> Identity {
    Identity::new(UserId::new(id).unwrap(), role)
}

pub fn client() -> Identity {
    person("01K9RDKY84GC0Q7F9F1NY54B5C", Role::Client)
}
pub fn agent() -> Identity {
    person("agent-1", Role::Support)
}
pub fn other_agent() -> Identity {
    person("agent-2", Role::Support)
}
pub fn stranger() -> Identity {
    person("stranger", Role::Client)
}

pub fn open_conversation() -> Conversation {
    let id: ConversationId = "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap();
    Conversation::open(id, &client(), None, fixed_now()).unwrap()
}

pub fn assigned_conversation() -> Conversation {
    let mut c = open_conversation();
    c.assign(&agent()).unwrap();
    c
}

pub fn stored_message(conv: &Conversation, seq: i64, cmid: Option<&str>) -> Message {
    Message::restore(
        MessageId::from_ulid(Ulid::generate()),
        conv.id(),
        seq,
        client().user(),
        MessageKind::Text,
        "earlier".into(),
        cmid.map(|c| ClientMsgId::new(c).unwrap()),
        fixed_now(),
        None,
    )
}

pub struct Fixture {
    pub conversations: MockConversationRepository,
    pub messages: MockMessageRepository,
    pub broker: MockBroker,
    pub clock: MockClock,
    pub ids: MockIdGenerator,
}

impl Fixture {
    pub fn new() -> Self {
        let mut clock = MockClock::new();
        clock.expect_now().returning(fixed_now);
        let mut ids = MockIdGenerator::new();
        ids.expect_message_id()
            .returning(|| MessageId::from_ulid(Ulid::generate()));
        ids.expect_conversation_id()
            .returning(|| "01KAAWW5V95WFFDERJZCTDE2QQ".parse().unwrap());
        Self {
            conversations: MockConversationRepository::new(),
            messages: MockMessageRepository::new(),
            broker: MockBroker::new(),
            clock,
            ids,
        }
    }

    pub fn find_returns(&mut self, conv: Conversation) {
        self.conversations
            .expect_find()
            .returning(move |_| Ok(Some(conv.clone())));
    }

    pub fn send_message(self) -> SendMessage {
        SendMessage {
            messages: Arc::new(self.messages),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
            ids: Arc::new(self.ids),
            policy: Arc::new(qc_domain::DefaultPolicy::new()),
        }
    }

    pub fn signal_typing(self) -> SignalTyping {
        SignalTyping {
            access: Arc::new(crate::ConversationAccess::new(
                Arc::new(self.conversations),
                std::time::Duration::from_secs(5),
            )),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
        }
    }

    pub fn open_conversation(self) -> OpenConversation {
        OpenConversation {
            conversations: Arc::new(self.conversations),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
            ids: Arc::new(self.ids),
            max_open: 5,
        }
    }

    pub fn assign_conversation(self) -> AssignConversation {
        AssignConversation {
            conversations: Arc::new(self.conversations),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
            capacity: None,
        }
    }

    pub fn transfer_conversation(mut self) -> TransferConversation {
        self.messages
            .expect_settled()
            .returning(|_| crate::ports::PublishTurn::default());
        let mut agents = crate::ports::agent_repository::MockAgentRepository::new();
        agents.expect_find().returning(|id| {
            Ok(Some(crate::ports::AgentRecord {
                id: id.clone(),
                away: false,
                open_conversations: 0,
            }))
        });
        TransferConversation {
            conversations: Arc::new(self.conversations),
            messages: Arc::new(self.messages),
            agents: Arc::new(agents),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
            capacity: None,
            on_change: None,
        }
    }

    pub fn close_conversation(self) -> CloseConversation {
        CloseConversation {
            conversations: Arc::new(self.conversations),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
            on_change: None,
        }
    }

    pub fn read_history(self) -> ReadHistory {
        ReadHistory {
            conversations: Arc::new(self.conversations),
            messages: Arc::new(self.messages),
        }
    }

    pub fn mark_read(self) -> MarkRead {
        MarkRead {
            conversations: Arc::new(self.conversations),
            messages: Arc::new(self.messages),
            broker: Arc::new(self.broker),
            clock: Arc::new(self.clock),
        }
    }

    pub fn list_conversations(self) -> ListConversations {
        ListConversations {
            conversations: Arc::new(self.conversations),
        }
    }

    pub fn get_conversation(self) -> GetConversation {
        GetConversation {
            conversations: Arc::new(self.conversations),
        }
    }
}
