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
        // The failing part is named; its error text (hosts, driver
        // messages) goes to the log, not to anyone who asks.
        let db = match tokio::time::timeout(timeout, self.database.health()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database is unavailable");
                "unavailable"
            }
            Err(_) => {
                tracing::warn!("readiness: the database did not answer in 3 s");
                "unavailable"
            }
        };
        let broker = match tokio::time::timeout(timeout, self.broker.health()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the broker is unavailable");
                "unavailable"
            }
            Err(_) => {
                tracing::warn!("readiness: the broker did not answer in 3 s");
                "unavailable"
            }
        };
        let ready = db == "ok" && broker == "ok";
        let status = HealthStatus {
            status: if ready { "ok" } else { "unavailable" }.into(),
            database: Some(db.to_owned()),
            broker: Some(broker.to_owned()),
        };
        if ready {
            Readiness::Ready(Json(status))
        } else {
            Readiness::NotReady(Json(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qc_application::ports::broker::MockBroker;
    use qc_application::ports::conversation_repository::MockConversationRepository;
    use qc_application::ports::{BrokerError, RepositoryError};

    fn api(db_ok: bool, broker_ok: bool) -> HealthApi {
        let mut db = MockConversationRepository::new();
        db.expect_health().returning(move || {
            if db_ok {
                Ok(())
            } else {
                Err(RepositoryError(anyhow::anyhow!("connection refused")))
            }
        });
        let mut broker = MockBroker::new();
        broker.expect_health().returning(move || {
            if broker_ok {
                Ok(())
            } else {
                Err(BrokerError(anyhow::anyhow!("redis down")))
            }
        });
        HealthApi {
            database: Arc::new(db),
            broker: Arc::new(broker),
        }
    }

    #[tokio::test]
    async fn ready_only_when_database_and_broker_answer() {
        assert!(matches!(
            api(true, true).readyz().await,
            Readiness::Ready(_)
        ));
        for (db, broker, failing) in [(false, true, "database"), (true, false, "broker")] {
            let Readiness::NotReady(Json(status)) = api(db, broker).readyz().await else {
                panic!("{failing} down must be 503");
            };
            assert_eq!(status.status, "unavailable");
            let part = if failing == "database" {
                status.database
            } else {
                status.broker
            };
            assert_eq!(
                part.as_deref(),
                Some("unavailable"),
                "{failing} is named, without the error text"
            );
        }
    }
}
