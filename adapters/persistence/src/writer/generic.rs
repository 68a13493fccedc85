//! A batch on SQLite (or any backend sea-orm speaks), through sea-orm:
//! one `SELECT … IN (…)`, one `UPDATE … SET last_seq = CASE id …`, one
//! multi-row `INSERT`. SQLite's one write connection serializes writers, so
//! the SELECT's view holds until the commit.

use std::collections::HashMap;

use qc_domain::{Conversation, Message};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};

use super::{
    CommitError, DuplicateKey, Locked, Pending, Reply, TEXT, client_msg_ids, conversation_ids,
    decide, duplicate_key,
};
use crate::entities::{conversation, message};

pub(super) async fn try_commit(
    db: &DatabaseConnection,
    batch: &[Pending],
) -> Result<Vec<Reply>, CommitError> {
    let txn = db.begin().await?;
    let rows = conversation::Entity::find()
        .filter(conversation::Column::Id.is_in(conversation_ids(batch)))
        .all(&txn)
        .await?;
    let mut locked = HashMap::with_capacity(rows.len());
    for row in rows {
        let (id, last_seq) = (row.id.clone(), row.last_seq);
        let conversation = Conversation::try_from(row).map_err(|e| DbErr::Custom(e.to_string()))?;
        locked.insert(
            id,
            Locked {
                conversation,
                last_seq,
                first_seq: last_seq,
            },
        );
    }
    let seen = duplicates_of(&txn, batch).await?;
    let decision = decide(batch, locked, seen);

    if let Some(((first_id, first_seq), rest)) = decision.bumped.split_first() {
        let mut case = Expr::case(
            conversation::Column::Id.eq(first_id.as_str()),
            Expr::val(*first_seq),
        );
        for (id, seq) in rest {
            case = case.case(conversation::Column::Id.eq(id.as_str()), Expr::val(*seq));
        }
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::LastSeq,
                case.finally(Expr::col(conversation::Column::LastSeq))
                    .into(),
            )
            .filter(
                conversation::Column::Id.is_in(decision.bumped.iter().map(|(id, _)| id.as_str())),
            )
            .exec(&txn)
            .await?;
        message::Entity::insert_many(decision.stored.iter().map(row))
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(decision.outcomes)
}

fn row(m: &Message) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(m.id.to_string()),
        conversation_id: Set(m.conversation_id.to_string()),
        seq: Set(m.seq),
        sender_id: Set(m.sender_id.to_string()),
        message_type: Set(TEXT.to_owned()),
        content: Set(m.content.clone()),
        client_msg_id: Set(m.client_msg_id.as_ref().map(|c| c.as_str().to_owned())),
        created_at: Set(m.created_at),
        read_at: Set(None),
    }
}

/// The stored messages that share a `(conversation, sender, client_msg_id)`
/// with an append of the batch. One statement, and only when some append
/// carries a `client_msg_id`.
async fn duplicates_of(
    txn: &impl ConnectionTrait,
    batch: &[Pending],
) -> Result<HashMap<DuplicateKey, Message>, DbErr> {
    let (conversations, cmids) = client_msg_ids(batch);
    let mut found = HashMap::new();
    if cmids.is_empty() {
        return Ok(found);
    }
    let rows = message::Entity::find()
        .filter(message::Column::ConversationId.is_in(conversations))
        .filter(message::Column::ClientMsgId.is_in(cmids))
        .all(txn)
        .await?;
    for row in rows {
        let key = duplicate_key(&row);
        let message = Message::try_from(row).map_err(|e| DbErr::Custom(e.to_string()))?;
        found.insert(key, message);
    }
    Ok(found)
}
