//! A conversation as one side sees it, in one query: the conversation's
//! row with that side's unread counter (kept by the writer and the read
//! receipts), and the latest message that side may see (a backward probe
//! of the `(conversation_id, seq)` key, texts only for customers). A
//! listing is the same query over many conversations, still one statement
//! whatever their number.

use qc_application::ports::{ConversationFilter, RepositoryError};
use qc_domain::{Conversation, ConversationId, ConversationView, Message, Side};
use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use crate::conversations::storage;
use crate::entities::{conversation, message};

#[derive(Debug, FromQueryResult)]
struct ViewRow {
    id: String,
    client_id: String,
    support_id: Option<String>,
    status: String,
    subject: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    last_seq: i64,
    m_id: Option<String>,
    m_seq: Option<i64>,
    m_sender_id: Option<String>,
    m_sender_side: Option<String>,
    m_message_type: Option<String>,
    m_content: Option<String>,
    m_client_msg_id: Option<String>,
    m_created_at: Option<chrono::DateTime<chrono::Utc>>,
    m_read_at: Option<chrono::DateTime<chrono::Utc>>,
    unread: i64,
}

impl ViewRow {
    fn into_view(self) -> anyhow::Result<ConversationView> {
        let last_message = match (
            self.m_id,
            self.m_seq,
            self.m_sender_id,
            self.m_sender_side,
            self.m_message_type,
            self.m_content,
            self.m_created_at,
        ) {
            (
                Some(id),
                Some(seq),
                Some(sender_id),
                Some(sender_side),
                Some(message_type),
                Some(content),
                Some(created_at),
            ) => Some(Message::try_from(message::Model {
                id,
                conversation_id: self.id.clone(),
                seq,
                sender_id,
                sender_side,
                message_type,
                content,
                client_msg_id: self.m_client_msg_id,
                created_at,
                read_at: self.m_read_at,
            })?),
            _ => None,
        };
        let conversation = Conversation::try_from(conversation::Model {
            id: self.id,
            client_id: self.client_id,
            support_id: self.support_id,
            status: self.status,
            subject: self.subject,
            created_at: self.created_at,
            closed_at: self.closed_at,
            last_seq: self.last_seq,
            unread_by_customer: 0,
            unread_by_agent: 0,
        })?;
        Ok(ConversationView::new(
            conversation,
            last_message,
            u64::try_from(self.unread).unwrap_or(0),
        ))
    }
}

/// The select list and joins, for a viewer on `side`.
fn select(side: Side) -> &'static str {
    match side {
        Side::Customer => {
            "SELECT c.id, c.client_id, c.support_id, c.status, c.subject, c.created_at, \
             c.closed_at, c.last_seq, m.id AS m_id, m.seq AS m_seq, m.sender_id AS m_sender_id, \
             m.sender_side AS m_sender_side, m.message_type AS m_message_type, \
             m.content AS m_content, m.client_msg_id AS m_client_msg_id, \
             m.created_at AS m_created_at, m.read_at AS m_read_at, \
             c.unread_by_customer AS unread \
             FROM conversations c LEFT JOIN messages m ON m.id = \
             (SELECT l.id FROM messages l WHERE l.conversation_id = c.id \
              AND l.message_type = 'text' ORDER BY l.seq DESC LIMIT 1)"
        }
        Side::Agent => {
            "SELECT c.id, c.client_id, c.support_id, c.status, c.subject, c.created_at, \
             c.closed_at, c.last_seq, m.id AS m_id, m.seq AS m_seq, m.sender_id AS m_sender_id, \
             m.sender_side AS m_sender_side, m.message_type AS m_message_type, \
             m.content AS m_content, m.client_msg_id AS m_client_msg_id, \
             m.created_at AS m_created_at, m.read_at AS m_read_at, \
             c.unread_by_agent AS unread \
             FROM conversations c LEFT JOIN messages m ON m.id = \
             (SELECT l.id FROM messages l WHERE l.conversation_id = c.id \
              ORDER BY l.seq DESC LIMIT 1)"
        }
    }
}

async fn run(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<ConversationView>, RepositoryError> {
    ViewRow::find_by_statement(crate::sql::statement(db, sql, values))
        .all(db)
        .await
        .map_err(storage)?
        .into_iter()
        .map(ViewRow::into_view)
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(storage)
}

/// One conversation as a user on `viewer`'s side sees it.
pub(crate) async fn find(
    db: &impl ConnectionTrait,
    id: ConversationId,
    viewer: Side,
) -> Result<Option<ConversationView>, RepositoryError> {
    let sql = format!("{} WHERE c.id = ?", select(viewer));
    let values = vec![id.to_string().into()];
    Ok(run(db, &sql, values).await?.into_iter().next())
}

/// A page of a listing, keyset-paginated on `(created_at, id)` after the
/// item `after` (an unknown one yields an empty page), `limit` + 1 rows so
/// the caller knows whether more follow.
pub(crate) async fn list(
    db: &impl ConnectionTrait,
    filter: &ConversationFilter,
    after: Option<ConversationId>,
    limit: u64,
) -> Result<Vec<ConversationView>, RepositoryError> {
    let viewer = filter.viewer();
    let mut values: Vec<Value> = Vec::new();
    let (condition, newest_first) = match filter {
        ConversationFilter::OwnedBy(u) => {
            values.push(u.as_str().into());
            ("c.client_id = ?", true)
        }
        ConversationFilter::AssignedTo(u) => {
            values.push(u.as_str().into());
            ("c.support_id = ?", true)
        }
        ConversationFilter::Queue => ("c.status = 'open' AND c.support_id IS NULL", false),
    };
    let (cmp, order) = if newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let keyset = match after {
        Some(cursor) => {
            let id = cursor.to_string();
            values.extend([id.clone().into(), id.clone().into(), id.into()]);
            format!(
                " AND (c.created_at {cmp} (SELECT created_at FROM conversations WHERE id = ?) \
                 OR (c.created_at = (SELECT created_at FROM conversations WHERE id = ?) \
                 AND c.id {cmp} ?))"
            )
        }
        None => String::new(),
    };
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let sql = format!(
        "{} WHERE {condition}{keyset} ORDER BY c.created_at {order}, c.id {order} LIMIT ?",
        select(viewer)
    );
    run(db, &sql, values).await
}
