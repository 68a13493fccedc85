//! `/agents…`: the desk's team list with live presence, and an agent's own
//! status (`online` / `away`).

use std::sync::Arc;

use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use qc_application::{Presence, PresenceError};
use qc_domain::Identity;

use super::ApiTags;
use super::caller::Authenticated;
use super::conversations::identify;
use super::dto::{AgentDto, AgentList, SetStatusRequest};
use super::error::ApiError;
use crate::auth::Authenticator;

pub struct AgentsApi {
    pub auth: Arc<Authenticator>,
    pub presence: Arc<Presence>,
}

type ApiResult<T> = Result<T, ApiError>;

fn unavailable(e: PresenceError) -> ApiError {
    ApiError::unavailable(&e.into())
}

impl AgentsApi {
    /// The caller, who must be a support agent (403 otherwise).
    async fn agent(&self, req: &Request) -> ApiResult<Identity> {
        let who = identify(&self.auth, &self.presence, req).await?;
        if who.role().is_customer() {
            return Err(ApiError::forbidden("only support agents use the desk"));
        }
        Ok(who)
    }
}

#[OpenApi(tag = "ApiTags::Agents")]
impl AgentsApi {
    /// Every agent the desk has seen, with live presence (`online`, `away`,
    /// `offline`) and how many open conversations each holds.
    #[oai(path = "/agents", method = "get", operation_id = "listAgents")]
    async fn list_agents(&self, req: &Request, _auth: Authenticated) -> ApiResult<Json<AgentList>> {
        self.agent(req).await?;
        let agents = self.presence.agents().await.map_err(unavailable)?;
        Ok(Json(AgentList {
            items: agents.into_iter().map(AgentDto::from).collect(),
        }))
    }

    /// Set the caller's status: `away` (remembered across reconnects; shown
    /// while connected) or `online`.
    #[oai(
        path = "/agents/me/status",
        method = "put",
        operation_id = "setAgentStatus"
    )]
    async fn set_status(
        &self,
        req: &Request,
        _auth: Authenticated,
        body: Json<SetStatusRequest>,
    ) -> ApiResult<Json<AgentDto>> {
        let who = self.agent(req).await?;
        let away = match body.0.status.0.as_str() {
            "away" => true,
            "online" => false,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_status",
                    "status must be online or away",
                ));
            }
        };
        let entry = self
            .presence
            .set_away(who.user_id(), away)
            .await
            .map_err(unavailable)?;
        Ok(Json(entry.into()))
    }
}
