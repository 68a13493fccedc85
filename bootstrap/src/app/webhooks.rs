//! Webhook start-up: release a dead process's outbox leases, then start
//! this node's delivery task.

use std::sync::Arc;

use anyhow::Context;
use qc_application::ports::{Clock, Outbox};
use qc_application::webhooks::Dispatcher;
use qc_persistence::SeaOrmOutbox;

use crate::settings::WebhookConfig;

/// Starts this node's webhook delivery.
pub(super) async fn start_webhooks(
    db: &qc_persistence::Database,
    hooks: &WebhookConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Dispatcher>> {
    let outbox: Arc<dyn Outbox> = Arc::new(SeaOrmOutbox::new(db.clone()));
    if !db.is_postgres() {
        // A SQLite file has one node: a lease left in it is the previous
        // process's, which died holding it. Its events are due now.
        let released = outbox
            .release_leases()
            .await
            .context("cannot read the webhook outbox")?;
        if released > 0 {
            tracing::info!(
                events = released,
                "webhook events the previous run was sending are due again"
            );
        }
    }
    let sender = Arc::new(qc_webhooks::HttpWebhookSender::new(
        &hooks.url,
        &hooks.secret,
    )?);
    let host = qc_webhooks::check_url(&hooks.url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    tracing::info!(%host, "webhooks on: every change is sent, signed, from the outbox");
    Ok(Dispatcher::start(outbox, sender, clock, db.stored_events()))
}
