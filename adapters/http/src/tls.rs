//! TLS termination (`QC_TLS_CERT_FILE` + `QC_TLS_KEY_FILE`): wss:// and https://
//! on the same port. rustls with the `ring` provider, the one already in the
//! binary for database TLS, so exactly one crypto provider is compiled in.
//!
//! The handshake runs lazily on the connection's own task (first read or
//! write), never in the accept loop, so a slow or silent client cannot stall
//! other clients' connections. It must finish within [`HANDSHAKE_TIMEOUT`].

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use anyhow::Context as _;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Loads a PEM certificate chain and private key.
///
/// # Errors
/// With a message naming the file that is missing or malformed.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("QC_TLS_CERT_FILE: cannot read {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "QC_TLS_CERT_FILE: {} is not a PEM certificate chain",
                cert.display()
            )
        })?;
    anyhow::ensure!(
        !certs.is_empty(),
        "QC_TLS_CERT_FILE: {} holds no certificate",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "QC_TLS_KEY_FILE: {} is not a readable PEM private key",
            key.display()
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("QC_TLS_CERT_FILE / QC_TLS_KEY_FILE: the key does not match the certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Wraps a plain acceptor: every connection it accepts speaks TLS.
pub struct TlsAcceptor<A> {
    inner: A,
    tls: tokio_rustls::TlsAcceptor,
}

impl<A> TlsAcceptor<A> {
    pub fn new(inner: A, config: Arc<ServerConfig>) -> Self {
        Self {
            inner,
            tls: tokio_rustls::TlsAcceptor::from(config),
        }
    }
}

impl<A: Acceptor> Acceptor for TlsAcceptor<A> {
    type Io = LazyTls<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, _) = self.inner.accept().await?;
        let handshake = LazyTls::Handshaking {
            accept: Box::new(self.tls.accept(io)),
            deadline: Box::pin(tokio::time::sleep(HANDSHAKE_TIMEOUT)),
        };
        Ok((handshake, local, remote, Scheme::HTTPS))
    }
}

/// A TLS stream whose handshake completes on first use.
pub enum LazyTls<IO> {
    Handshaking {
        accept: Box<tokio_rustls::Accept<IO>>,
        deadline: Pin<Box<tokio::time::Sleep>>,
    },
    Ready(Box<tokio_rustls::server::TlsStream<IO>>),
    Failed,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> LazyTls<IO> {
    fn poll_ready_stream(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut tokio_rustls::server::TlsStream<IO>>> {
        if let Self::Handshaking { accept, deadline } = self {
            let done = match Pin::new(accept.as_mut()).poll(cx) {
                Poll::Ready(r) => r,
                Poll::Pending => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        *self = Self::Failed;
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        )));
                    }
                    return Poll::Pending;
                }
            };
            match done {
                Ok(stream) => *self = Self::Ready(Box::new(stream)),
                Err(e) => {
                    *self = Self::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        match self {
            Self::Ready(s) => Poll::Ready(Ok(s)),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "TLS handshake failed",
            ))),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for LazyTls<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_ready_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LazyTls<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_ready_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_ready_stream(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Ready(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}
