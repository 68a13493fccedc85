//! Who is calling the HTTP API: the identity the gate verified, or one
//! verified here; an agent who calls becomes known to the desk.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
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

// The scheme the OpenAPI document declares, so Swagger UI has an Authorize
// button and "Try it out" sends the token. Authentication itself stays
// `identify`'s (the header, the cookie or `access_token`, with the
// contract's 401): the fallback lets every request through to it.
/// A JWT (HS256 or RS256/ES256, as the server is configured), sent as
/// `Authorization: Bearer <jwt>`. The `access_token` cookie or query
/// parameter works too.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub(super) struct BearerToken(#[allow(dead_code)] Bearer);

/// What an authenticated operation declares (a bearer token); never refuses.
#[derive(SecurityScheme)]
pub(super) enum Authenticated {
    BearerToken(#[allow(dead_code)] BearerToken),
    /// The cookie or `access_token` (or nothing: `identify` answers 401).
    #[oai(fallback)]
    Other,
}
