//! `/conversations…`: open, list, read, claim, transfer, close, history,
//! read receipts. Every Conversation answered is the caller's view (last
//! message, unread count).

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};
use qc_application::Presence;
use qc_application::ports::HistoryCursor;
use qc_application::use_cases::*;
use qc_domain::{Conversation, ConversationId, ConversationView, Identity, MessageId, UserId};

use super::ApiTags;
use super::caller::Authenticated;
use super::dto::*;
use super::error::ApiError;
use super::ulid_param::UlidParam;
use crate::auth::Authenticator;

// The agents API reaches its caller through here too.
pub(super) use super::caller::identify;

/// The use cases this API calls, and how it authenticates.
pub struct ConversationsApi {
    pub auth: Arc<Authenticator>,
    pub open: Arc<OpenConversation>,
    pub list: Arc<ListConversations>,
    pub get: Arc<GetConversation>,
    pub assign: Arc<AssignConversation>,
    pub transfer: Arc<TransferConversation>,
    pub close: Arc<CloseConversation>,
    pub history: Arc<ReadHistory>,
    pub mark_read: Arc<MarkRead>,
    pub presence: Arc<Presence>,
    /// In automatic routing (`QC_ROUTING=auto`): a new conversation is
    /// routed before its 201, so the answer shows its agent.
    pub router: Option<Arc<qc_application::Router>>,
}

#[derive(ApiResponse)]
enum Created {
    /// The new conversation.
    #[oai(status = 201)]
    Created(Json<ConversationDto>),
}

#[derive(ApiResponse)]
enum NoContent {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

type ApiResult<T> = Result<T, ApiError>;

/// Any integer is a usable page size: clamped to 1..=200.
fn clamp_limit(limit: Option<i64>) -> Option<u32> {
    limit.map(|l| u32::try_from(l.clamp(1, 200)).unwrap_or(200))
}

fn at_capacity() -> ApiError {
    ApiError::conflict(
        "at_capacity",
        "the agent already holds the most open conversations allowed",
    )
}

fn unknown_agent() -> ApiError {
    ApiError::bad_request("unknown_agent", "`to` names no agent the desk knows")
}

fn cid(p: UlidParam) -> ConversationId {
    ConversationId::from_ulid(p.0)
}

impl ConversationsApi {
    async fn identify(&self, req: &Request) -> ApiResult<Identity> {
        identify(&self.auth, &self.presence, req).await
    }

    /// `conversation` as `who` sees it (last message, unread count).
    async fn view(&self, who: &Identity, conversation: Conversation) -> ApiResult<ConversationDto> {
        match self.get.view_of(who, conversation).await {
            Ok(v) => Ok(v.into()),
            Err(GetConversationError::NotFound) => Err(ApiError::not_found()),
            Err(GetConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }
}

#[OpenApi(tag = "ApiTags::Conversations")]
impl ConversationsApi {
    /// Open a conversation owned by the caller (guest or client).
    #[oai(
        path = "/conversations",
        method = "post",
        operation_id = "openConversation"
    )]
    async fn open_conversation(
        &self,
        req: &Request,
        _auth: Authenticated,
        body: Json<OpenConversationRequest>,
    ) -> ApiResult<Created> {
        let who = self.identify(req).await?;
        match self.open.execute(&who, body.0.subject.map(|s| s.0)).await {
            Ok(c) => {
                let Some(router) = &self.router else {
                    return Ok(Created::Created(Json(ConversationView::empty(c).into())));
                };
                if let Err(e) = router.route_now().await {
                    // Stored and queued all the same: the next decision
                    // (within a second) takes it.
                    tracing::warn!(error = %e, "a new conversation was not routed at once");
                }
                // Read again: routing may have given it an agent.
                match self.get.execute(&who, c.id()).await {
                    Ok(v) => Ok(Created::Created(Json(v.into()))),
                    Err(GetConversationError::NotFound) => Err(ApiError::not_found()),
                    Err(GetConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
                }
            }
            Err(OpenConversationError::Forbidden) => Err(ApiError::forbidden(
                "only guests and clients open conversations",
            )),
            Err(OpenConversationError::TooManyOpen) => {
                crate::telemetry::open_conversation_refused();
                Err(ApiError::conflict(
                    "too_many_open_conversations",
                    "you already have the most open conversations allowed; close one first",
                ))
            }
            Err(OpenConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// List conversations: a client's own or an agent's assigned ones (newest
    /// first); with `queue=true` (agents), the open unassigned ones, oldest first.
    #[oai(
        path = "/conversations",
        method = "get",
        operation_id = "listConversations"
    )]
    async fn list_conversations(
        &self,
        req: &Request,
        _auth: Authenticated,
        /// Agents only: list the queue of open, unassigned conversations.
        queue: Query<Option<bool>>,
        /// Page size, default 50; outside 1..200 it is clamped.
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<UlidParam>>,
    ) -> ApiResult<Json<ConversationList>> {
        let who = self.identify(req).await?;
        let after = cursor.0.map(cid);
        match self
            .list
            .execute(&who, queue.0.unwrap_or(false), after, clamp_limit(limit.0))
            .await
        {
            Ok(page) => Ok(Json(ConversationList {
                items: page.items.into_iter().map(Into::into).collect(),
                next_cursor: page.next.map(|id| id.to_string()),
            })),
            Err(ListConversationsError::QueueForbidden) => {
                Err(ApiError::forbidden("only support agents see the queue"))
            }
            Err(ListConversationsError::InvalidCursor) => Err(ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not an item of this listing",
            )),
            Err(ListConversationsError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// One conversation (participants; any agent while it is unassigned).
    #[oai(
        path = "/conversations/:id",
        method = "get",
        operation_id = "getConversation"
    )]
    async fn get_conversation(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
    ) -> ApiResult<Json<ConversationDto>> {
        let who = self.identify(req).await?;
        match self.get.execute(&who, cid(id.0)).await {
            Ok(c) => Ok(Json(c.into())),
            Err(GetConversationError::NotFound) => Err(ApiError::not_found()),
            Err(GetConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// Claim an open, unassigned conversation (support agents). Claiming
    /// one's own again is a 200 that changes nothing.
    #[oai(
        path = "/conversations/:id/assign",
        method = "post",
        operation_id = "assignConversation"
    )]
    async fn assign_conversation(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
    ) -> ApiResult<Json<ConversationDto>> {
        let who = self.identify(req).await?;
        match self.assign.execute(&who, cid(id.0)).await {
            Ok(r) => {
                if let AssignResult::Assigned(c) = &r {
                    // The customer learns whether the agent who joined is online.
                    self.presence.tell(c.customer(), who.user_id()).await;
                }
                Ok(Json(self.view(&who, r.conversation().clone()).await?))
            }
            Err(AssignConversationError::Forbidden) => Err(ApiError::forbidden(
                "only support agents claim conversations",
            )),
            Err(AssignConversationError::NotFound) => Err(ApiError::not_found()),
            Err(AssignConversationError::Closed) => Err(ApiError::conflict(
                "conversation_closed",
                "the conversation is closed",
            )),
            Err(AssignConversationError::AlreadyAssigned) => Err(ApiError::conflict(
                "already_assigned",
                "another agent has this conversation",
            )),
            Err(AssignConversationError::AtCapacity) => Err(at_capacity()),
            Err(AssignConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// Hand a conversation to another agent (`to`: their `sub`) or back to
    /// the queue (`to`: null); the assigned agent only. The previous agent
    /// stops being a participant at once.
    #[oai(
        path = "/conversations/:id/transfer",
        method = "post",
        operation_id = "transferConversation"
    )]
    async fn transfer_conversation(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
        body: Json<TransferRequest>,
    ) -> ApiResult<Json<ConversationDto>> {
        let who = self.identify(req).await?;
        if who.role().is_customer() {
            return Err(ApiError::forbidden(
                "only support agents transfer conversations",
            ));
        }
        let to = match body.0.to {
            MaybeUndefined::Undefined => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "`to` is required: an agent's sub, or null for the queue",
                ));
            }
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(raw) => Some(UserId::new(raw.0).map_err(|_| unknown_agent())?),
        };
        match self.transfer.execute(&who, cid(id.0), to.clone()).await {
            Ok(c) => {
                if let Some(agent) = to.filter(|a| *a != who.user_id().clone()) {
                    self.presence.tell(c.customer(), &agent).await;
                }
                Ok(Json(self.view(&who, c).await?))
            }
            Err(TransferConversationError::Forbidden) => Err(ApiError::forbidden(
                "only support agents transfer conversations",
            )),
            Err(TransferConversationError::NotFound) => Err(ApiError::not_found()),
            Err(TransferConversationError::UnknownAgent) => Err(unknown_agent()),
            Err(TransferConversationError::AtCapacity) => Err(at_capacity()),
            Err(TransferConversationError::Closed) => Err(ApiError::conflict(
                "conversation_closed",
                "the conversation is closed",
            )),
            Err(TransferConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// Close a conversation (participants). Idempotent.
    #[oai(
        path = "/conversations/:id/close",
        method = "post",
        operation_id = "closeConversation"
    )]
    async fn close_conversation(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
    ) -> ApiResult<Json<ConversationDto>> {
        let who = self.identify(req).await?;
        match self.close.execute(&who, cid(id.0)).await {
            Ok(c) => Ok(Json(self.view(&who, c).await?)),
            Err(CloseConversationError::NotFound) => Err(ApiError::not_found()),
            Err(CloseConversationError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// History, oldest first within each page (agents see notes in it;
    /// customers never do). No cursor: the latest
    /// `limit`; `after`: the first `limit` after that message (catch-up after
    /// a reconnect); `before`: the `limit` just before it; both: the first
    /// `limit` strictly between them.
    #[oai(
        path = "/conversations/:id/messages",
        method = "get",
        operation_id = "listMessages"
    )]
    async fn list_messages(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
        /// A message id: return what came after it.
        after: Query<Option<UlidParam>>,
        /// A message id: return what came before it.
        before: Query<Option<UlidParam>>,
        /// Page size, default 50; outside 1..200 it is clamped.
        limit: Query<Option<i64>>,
    ) -> ApiResult<Json<MessageList>> {
        let who = self.identify(req).await?;
        let cursor = match (after.0, before.0) {
            (Some(a), Some(b)) => {
                HistoryCursor::Between(MessageId::from_ulid(a.0), MessageId::from_ulid(b.0))
            }
            (Some(a), None) => HistoryCursor::After(MessageId::from_ulid(a.0)),
            (None, Some(b)) => HistoryCursor::Before(MessageId::from_ulid(b.0)),
            (None, None) => HistoryCursor::Latest,
        };
        match self
            .history
            .execute(&who, cid(id.0), cursor, clamp_limit(limit.0))
            .await
        {
            Ok(page) => Ok(Json(MessageList {
                items: page.items.iter().map(MessageDto::from).collect(),
                next_cursor: page.next.map(|m| m.to_string()),
            })),
            Err(ReadHistoryError::NotFound) => Err(ApiError::not_found()),
            Err(ReadHistoryError::UnknownCursor) => Err(ApiError::unknown_message(
                "after/before is not a message of this conversation",
            )),
            Err(ReadHistoryError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }

    /// Read receipt: marks the other side's messages read up to `up_to`.
    #[oai(
        path = "/conversations/:id/read",
        method = "post",
        operation_id = "markRead"
    )]
    async fn mark_read(
        &self,
        req: &Request,
        _auth: Authenticated,
        id: Path<UlidParam>,
        body: Json<MarkReadRequest>,
    ) -> ApiResult<NoContent> {
        let who = self.identify(req).await?;
        match self
            .mark_read
            .execute(&who, cid(id.0), MessageId::from_ulid(body.0.up_to.0))
            .await
        {
            Ok(()) => Ok(NoContent::NoContent),
            Err(MarkReadUseCaseError::NotFound) => Err(ApiError::not_found()),
            Err(MarkReadUseCaseError::UnknownMessage) => Err(ApiError::unknown_message(
                "up_to is not a message of this conversation",
            )),
            Err(MarkReadUseCaseError::Unavailable(e)) => Err(ApiError::unavailable(&e)),
        }
    }
}
