//! A cap on the connections held at once (HTTP and WebSocket together), and
//! a pause instead of a spin when the process runs out of file descriptors.
//!
//! poem's accept loop retries a failed `accept()` at once; with the
//! descriptor table full that burned a core and logged nothing. Here, at the
//! cap, the acceptor stops accepting (new clients wait in the kernel's
//! backlog) until a connection closes; on `EMFILE`/`ENFILE` it logs (at most
//! once a second), counts, and waits 100 ms before trying again.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Linux's "too many open files" (process, system).
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// Wait after running out of descriptors before accepting again.
const FD_BACKOFF: Duration = Duration::from_millis(100);

pub struct CappedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    last_warning: Option<Instant>,
}

impl<A> CappedAcceptor<A> {
    /// Holds at most `max` connections at once.
    pub fn new(inner: A, max: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
            last_warning: None,
        }
    }
}

impl<A: Acceptor> Acceptor for CappedAcceptor<A> {
    type Io = Held<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                metrics::counter!("qc_connections_capped_total").increment(1);
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(std::io::Error::other)?
            }
        };
        loop {
            match self.inner.accept().await {
                Ok((io, local, remote, scheme)) => {
                    return Ok((
                        Held {
                            io,
                            _permit: permit,
                        },
                        local,
                        remote,
                        scheme,
                    ));
                }
                Err(e) if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) => {
                    metrics::counter!("qc_accept_fd_exhausted_total").increment(1);
                    let now = Instant::now();
                    if self
                        .last_warning
                        .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                    {
                        tracing::warn!(
                            error = %e,
                            "out of file descriptors: not accepting for 100 ms (raise ulimit -n or lower QC_MAX_CONNECTIONS)"
                        );
                        self.last_warning = Some(now);
                    }
                    tokio::time::sleep(FD_BACKOFF).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A connection and its place under the cap (given back when it closes).
pub struct Held<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Held<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
