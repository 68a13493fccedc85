//! A real HTTP receiver for webhook tests: it verifies every request's
//! `QC-Signature` with its own HMAC (not the server's code), records what
//! arrived, and answers as the test tells it (2xx, an error status, or
//! never). It can go down (nothing listening on its port) and come back on
//! the same port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Request, Response, Server, handler, http::StatusCode};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const HOOK_SECRET: &str = "whsec-test-0123456789abcdef";

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event_type: String,
    pub body: Value,
    /// The `QC-Event-Id` header.
    pub header_id: String,
    /// The signature checked out, with a `t` within 60 s of now.
    pub verified: bool,
    /// This event id's attempt number here (1 for the first).
    pub attempt: u32,
}

/// How to answer an event's attempt number `n`.
pub type Answer = Arc<dyn Fn(&Delivery) -> Reply + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answer (the sender's timeout ends it).
    Hang,
}

struct State {
    answer: Answer,
    attempts: Mutex<HashMap<String, u32>>,
    tx: mpsc::UnboundedSender<Delivery>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    rx: mpsc::UnboundedReceiver<Delivery>,
    stop: Option<CancellationToken>,
}

fn verify(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 60 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v1.contains(&expected)
}

#[handler]
async fn receive(req: &Request, body: poem::Body, state: poem::web::Data<&Arc<State>>) -> Response {
    let signature = req
        .headers()
        .get("qc-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let header_id = req
        .headers()
        .get("qc-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let raw = body.into_bytes().await.unwrap_or_default();
    let verified = verify(&signature, &raw);
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let attempt = {
        let mut attempts = state.attempts.lock().unwrap();
        let n = attempts.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let delivery = Delivery {
        event_type: body["type"].as_str().unwrap_or_default().to_owned(),
        id,
        body,
        header_id,
        verified,
        attempt,
    };
    let reply = (state.answer)(&delivery);
    let _ = state.tx.send(delivery);
    match reply {
        Reply::Status(code) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .body("{}"),
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

impl Receiver {
    /// Listening now, answering 200.
    pub async fn start() -> Self {
        Self::start_with(Arc::new(|_| Reply::Status(200))).await
    }

    pub async fn start_with(answer: Answer) -> Self {
        let mut r = Self::down_with(answer);
        r.up().await;
        r
    }

    /// Not listening yet (a port reserved for it): connections are refused
    /// until [`Receiver::up`].
    pub fn down_with(answer: Answer) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            addr: port,
            state: Arc::new(State {
                answer,
                attempts: Mutex::default(),
                tx,
            }),
            rx,
            stop: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// Starts listening on its port.
    pub async fn up(&mut self) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(1024).unwrap();
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        assert!(!acceptor.local_addr().is_empty());
        let stop = CancellationToken::new();
        let app = poem::EndpointExt::data(receive, self.state.clone());
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    token.cancelled_owned(),
                    Some(Duration::from_millis(10)),
                )
                .await;
        });
        self.stop = Some(stop);
    }

    /// The next request, within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Delivery> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Requests until `count` distinct event ids arrived (the duplicates
    /// too), or panics after `within`.
    pub async fn until_distinct(&mut self, count: usize, within: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + within;
        let mut all = Vec::new();
        let mut ids = std::collections::HashSet::new();
        while ids.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let d = self
                .next_within(left)
                .await
                .unwrap_or_else(|| panic!("{} of {count} events within {within:?}", ids.len()));
            ids.insert(d.id.clone());
            all.push(d);
        }
        all
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.cancel();
        }
    }
}
