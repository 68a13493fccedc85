//! wss:// and https:// with QC_TLS_CERT_FILE / QC_TLS_KEY_FILE.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

fn fixture(name: &str) -> std::path::PathBuf {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")).into()
}

fn connector() -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("tls_ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_stream(app: &TestApp) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    connector()
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test]
async fn https_and_wss_are_served_with_the_configured_certificate() {
    let app = spawn_with(|s| {
        s.tls_cert_file = Some(fixture("tls_cert.pem"));
        s.tls_key_file = Some(fixture("tls_key.pem"));
    })
    .await;

    // A client that opens TCP and never handshakes does not hold up others.
    let _silent = TcpStream::connect(app.addr).await.unwrap();

    let mut https = tls_stream(&app).await;
    https
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    https.read_to_string(&mut response).await.ok();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""status":"ok""#));

    let token = mint("client", "tls-client", 600);
    let mut req = format!("wss://localhost:{}/chats/clients", app.addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls_stream(&app).await)
        .await
        .expect("wss upgrade");
    assert_eq!(resp.status(), 101);
    ws.send(Message::text(
        r#"{"type":"text","conversation_id":"01KAAWW5V95WFFDERJZCTDE2QQ","content":"hi"}"#,
    ))
    .await
    .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(
        reply["payload"]["code"], "conversation_not_found",
        "a full round trip over wss"
    );

    // Plain HTTP on the TLS port gets nowhere.
    let plain = app
        .http
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test]
async fn a_bad_certificate_stops_the_start_with_a_clear_message() {
    let (db_url, _dir) = fresh_database().await;
    let s = quickconnect::Settings {
        bind: Some("127.0.0.1:0".into()),
        database_url: db_url,
        jwt_secret: Some(SECRET.into()),
        tls_cert_file: Some(fixture("tls_key.pem")), // a key, not a certificate
        tls_key_file: Some(fixture("tls_key.pem")),
        ..quickconnect::Settings::default()
    };
    let config = quickconnect::Config::from_settings(s).unwrap();
    let err = quickconnect::Application::build(&config)
        .await
        .err()
        .expect("start must fail");
    assert!(format!("{err:#}").contains("QC_TLS_CERT_FILE"), "{err:#}");
}

#[tokio::test]
async fn over_tls_a_silent_connection_is_dropped_by_the_head_timeout() {
    let app = spawn_on_sqlite(|s| {
        s.tls_cert_file = Some(fixture("tls_cert.pem"));
        s.tls_key_file = Some(fixture("tls_key.pem"));
        s.http_header_timeout_secs = 1;
    })
    .await;
    // One that finished the handshake, one that never started it.
    let mut handshaken = tls_stream(&app).await;
    let mut raw = TcpStream::connect(app.addr).await.unwrap();
    // Not dropped at once: a client that connects after them and talks is
    // served, and closed (Connection: close), before either of them is.
    let talk = async {
        let mut https = tls_stream(&app).await;
        https
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        https.read_to_string(&mut answer).await.ok();
        answer
    };
    let answer = tokio::select! {
        answer = talk => answer,
        () = closed(&mut handshaken) => panic!("the handshaken connection was dropped at once"),
        () = closed(&mut raw) => panic!("the raw connection was dropped at once"),
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // And then both are dropped (a hang guard: not never).
    closed(&mut handshaken).await;
    closed(&mut raw).await;
}

/// Reads until the server closes `s`; fails past [`RECV_TIMEOUT`].
async fn closed(s: &mut (impl tokio::io::AsyncRead + Unpin)) {
    let mut buf = [0u8; 64];
    let read_to_end = async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(RECV_TIMEOUT, read_to_end)
        .await
        .expect("the server closes the connection");
}
