//! Who is calling the HTTP API: the identity the gate verified, or one
//! verified here; an agent who calls becomes known to the desk.

use poem::Request;
use qc_application::Presence;
use qc_domain::Identity;

use super::error::ApiError;
use crate::auth::{AuthError, Authenticator};

/// The caller: as the gate verified it (before the body was read), or
/// verified here when the API runs without the gate. An agent calling the
/// API becomes known to the desk (a transfer target, `GET /agents`).
pub(super) async fn identify(
    auth: &Authenticator,
    presence: &Presence,
    req: &Request,
) -> Result<Identity, ApiError> {
    let identity = match crate::gate::ApiGate::identity(req) {
        Some(identity) => identity.clone(),
        None => auth
            .authenticate(req, false)
            .map(|v| v.identity)
            .map_err(|e| match e {
                AuthError::Missing => ApiError::unauthorized("a token is required"),
                AuthError::Invalid => ApiError::unauthorized("the token is invalid or expired"),
            })?,
    };
    if identity.role().side() == qc_domain::Side::Agent
        && let Err(e) = presence.agent_seen(identity.user_id()).await
    {
        tracing::warn!(error = %e, "agent not recorded as seen");
    }
    Ok(identity)
}
