//! Sends webhook events over HTTP(S) ([`HttpWebhookSender`], the
//! application's `WebhookSender` port), each signed afresh:
//!
//! `QC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//!
//! A 2xx within [`TIMEOUT`] acknowledges; anything else (a timeout, a
//! refused connection, a redirect, 3xx–5xx) is a failed attempt, retried by
//! the dispatcher. Redirects are not followed: a signed event is only ever
//! sent to the configured URL.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use qc_application::ports::{DeliveryError, OutboxEvent, WebhookSender};
use sha2::Sha256;

/// An attempt that has not been answered 2xx within this failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest secret accepted: an HMAC key a receiver can trust.
pub const MIN_SECRET_BYTES: usize = 16;

/// The `QC-Signature` value for `body` sent at unix time `t`.
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    format!("t={t},v1={hex}")
}

pub struct HttpWebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
}

impl HttpWebhookSender {
    /// # Errors
    /// When the URL is not an absolute http(s) URL, the secret is shorter
    /// than [`MIN_SECRET_BYTES`], or the HTTP client cannot be built.
    pub fn new(url: &str, secret: &str) -> anyhow::Result<Self> {
        let url = check_url(url)?;
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "QC_WEBHOOK_SECRET must be at least {MIN_SECRET_BYTES} bytes"
        );
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("quickconnect-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("could not build the webhook HTTP client")?;
        Ok(Self {
            client,
            url,
            secret: secret.as_bytes().to_vec(),
        })
    }
}

/// `url` if it is an absolute `http://` or `https://` URL with a host.
///
/// # Errors
/// Naming `QC_WEBHOOK_URL` and what is wrong with it.
pub fn check_url(url: &str) -> anyhow::Result<reqwest::Url> {
    let parsed =
        reqwest::Url::parse(url).with_context(|| format!("QC_WEBHOOK_URL {url:?} is not a URL"))?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some(),
        "QC_WEBHOOK_URL {url:?} must be an http:// or https:// URL"
    );
    Ok(parsed)
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let t = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("QC-Signature", signature(&self.secret, t, &event.body))
            .header("QC-Event-Id", &event.id)
            .header("QC-Event-Type", &event.event_type)
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| DeliveryError(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError(format!("HTTP {}", status.as_u16())))
        }
    }
}

/// What went wrong, for `quickconnect webhooks failed` and the log: the
/// kind, then the causes (never the URL: it may carry a token).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.dedup();
    match causes.last() {
        Some(root) => format!("{kind}: {root}"),
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // Checked against an independent computation:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_0123456789abcdef'
        assert_eq!(
            signature(b"whsec_0123456789abcdef", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=9f5e37cdc7ea587c7c02062d93283cad000d66a831b2a1676418696db47ed6c2"
        );
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        assert!(check_url("https://hooks.example.com/qc").is_ok());
        assert!(check_url("http://127.0.0.1:8080/").is_ok());
        for bad in ["ftp://x/", "example.com/hook", "http://", "unix:/tmp/s"] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains("QC_WEBHOOK_URL"), "{bad}: {e}");
        }
        assert!(HttpWebhookSender::new("http://127.0.0.1:1/", "short").is_err());
    }
}
