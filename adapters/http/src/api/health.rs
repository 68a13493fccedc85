//! `/healthz` (the process answers) and `/readyz` (database and broker reachable).

use std::sync::Arc;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use qc_application::ports::{Broker, ConversationRepository};

use super::ApiTags;
use super::dto::HealthStatus;

pub struct HealthApi {
    pub database: Arc<dyn ConversationRepository>,
    pub broker: Arc<dyn Broker>,
}

#[derive(ApiResponse)]
enum Readiness {
    /// Database and broker reachable.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// Something is unreachable; see the body.
    #[oai(status = 503)]
    NotReady(Json<HealthStatus>),
}

#[OpenApi]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(
        path = "/healthz",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "healthz"
    )]
    async fn healthz(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".into(),
            database: None,
            broker: None,
        })
    }

    /// Readiness: the database and the broker answer.
    #[oai(
        path = "/readyz",
        method = "get",
        tag = "ApiTags::Health",
        operation_id = "readyz"
    )]
    async fn readyz(&self) -> Readiness {
        let timeout = std::time::Duration::from_secs(3);
        let db = match tokio::time::timeout(timeout, self.database.health()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => format!("unavailable: {e}"),
            Err(_) => "unavailable: timed out".to_owned(),
        };
        let broker = match tokio::time::timeout(timeout, self.broker.health()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => format!("unavailable: {e}"),
            Err(_) => "unavailable: timed out".to_owned(),
        };
        let ready = db == "ok" && broker == "ok";
        let status = HealthStatus {
            status: if ready { "ok" } else { "unavailable" }.into(),
            database: Some(db),
            broker: Some(broker),
        };
        if ready {
            Readiness::Ready(Json(status))
        } else {
            Readiness::NotReady(Json(status))
        }
    }
}
