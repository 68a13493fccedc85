//! Table shapes, crate-private, and their mapping to domain types.

pub(crate) mod conversation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub support_id: Option<String>,
        pub status: String,
        pub subject: Option<String>,
        pub created_at: DateTimeUtc,
        pub closed_at: Option<DateTimeUtc>,
        pub last_seq: i64,
        /// Texts from agents the customer has not read.
        pub unread_by_customer: i64,
        /// Texts from the customer the agents have not read.
        pub unread_by_agent: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub conversation_id: String,
        pub seq: i64,
        pub sender_id: String,
        pub sender_side: String,
        pub message_type: String,
        pub content: String,
        pub client_msg_id: Option<String>,
        pub created_at: DateTimeUtc,
        pub read_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use anyhow::{Context, anyhow};
use qc_domain::{
    ClientMsgId, Conversation, ConversationStatus, Message, MessageKind, Side, User, UserId,
};

impl TryFrom<conversation::Model> for Conversation {
    type Error = anyhow::Error;
    fn try_from(m: conversation::Model) -> anyhow::Result<Self> {
        Ok(Self::restore(
            m.id.parse().context("stored conversation id")?,
            UserId::new(m.client_id).context("stored client id")?,
            m.support_id
                .map(UserId::new)
                .transpose()
                .context("stored support id")?,
            ConversationStatus::parse(&m.status)
                .ok_or_else(|| anyhow!("stored status {:?}", m.status))?,
            m.subject,
            m.created_at,
            m.closed_at,
        ))
    }
}

impl TryFrom<message::Model> for Message {
    type Error = anyhow::Error;
    fn try_from(m: message::Model) -> anyhow::Result<Self> {
        let sender = User::new(
            Side::parse(&m.sender_side)
                .ok_or_else(|| anyhow!("stored sender side {:?}", m.sender_side))?,
            UserId::new(m.sender_id).context("stored sender id")?,
        );
        Ok(Self::restore(
            m.id.parse().context("stored message id")?,
            m.conversation_id
                .parse()
                .context("stored conversation id")?,
            m.seq,
            sender,
            MessageKind::parse(&m.message_type)
                .ok_or_else(|| anyhow!("stored message type {:?}", m.message_type))?,
            m.content,
            m.client_msg_id
                .map(|c| ClientMsgId::new(c).ok_or_else(|| anyhow!("stored client_msg_id")))
                .transpose()?,
            m.created_at,
            m.read_at,
        ))
    }
}
