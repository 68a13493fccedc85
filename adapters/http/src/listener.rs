//! The accept side of the server: [`CappedAcceptor`] caps the connections
//! held at once and pauses when the process runs out of file descriptors
//! (see `capped`); [`GuardedAcceptor`] holds each connection to the HTTP
//! timeouts until it upgrades.

mod capped;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

// tokio's clock, so tests can pause it.
use tokio::time::Instant;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use capped::{CappedAcceptor, Held};

/// How often deadlines are checked (and the coarse clock advances).
const TICK: Duration = Duration::from_millis(100);

/// The HTTP timeouts of CONTRACT §1, on plain TCP and TLS alike:
/// `QC_HTTP_HEADER_TIMEOUT_SECS` for a request head (from the connection's
/// start, or from the first byte of a later request; for TLS the handshake
/// is inside it), and `QC_HTTP_IDLE_SECS` for a keep-alive connection with
/// no request in flight (or a response the client stopped reading).
///
/// poem gives hyper no timer, so hyper's own header timeout cannot run, and
/// poem's idle timeout spawns a timer task per connection that stays for
/// the life of every WebSocket. Here a connection costs one small shared
/// record while it speaks HTTP, checked by one sweeper task for all; once
/// it answers `101 Switching Protocols` the record is dropped and the
/// WebSocket layer's own ping and idle rules take over.
#[derive(Debug, Clone, Copy)]
pub struct HttpTimeouts {
    pub header: Duration,
    pub idle: Duration,
}

pub struct GuardedAcceptor<A> {
    inner: A,
    registry: Arc<Registry>,
    next_id: u64,
    _sweeper: tokio_util::sync::DropGuard,
}

struct Registry {
    timeouts: HttpTimeouts,
    live: dashmap::DashMap<u64, Arc<Deadline>>,
    epoch: Instant,
}

impl Registry {
    /// Milliseconds since `epoch` (never 0).
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

/// A connection's deadline, shared with the sweeper.
#[derive(Default)]
struct Deadline {
    /// `Registry::now` after which the connection is dropped; 0: none.
    at_ms: AtomicU64,
    /// Why, for the metric: 1 head, 2 idle.
    kind: std::sync::atomic::AtomicU8,
    expired: AtomicBool,
    waker: futures_util::task::AtomicWaker,
}

const HEAD: u8 = 1;
const IDLE: u8 = 2;

impl Deadline {
    fn set(&self, at_ms: u64, kind: u8) {
        self.kind.store(kind, Ordering::Relaxed);
        self.at_ms.store(at_ms.max(1), Ordering::Relaxed);
    }
}

impl<A> GuardedAcceptor<A> {
    /// Must be called inside the runtime (it starts the sweeper).
    pub fn new(inner: A, timeouts: HttpTimeouts) -> Self {
        let registry = Arc::new(Registry {
            timeouts,
            live: dashmap::DashMap::new(),
            epoch: Instant::now(),
        });
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(sweep(Arc::downgrade(&registry), stop.clone()));
        Self {
            inner,
            registry,
            next_id: 0,
            _sweeper: stop.drop_guard(),
        }
    }
}

/// Expires overdue connections, every tick.
async fn sweep(registry: std::sync::Weak<Registry>, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let now = registry.now();
        for entry in &registry.live {
            let d = entry.value();
            let at = d.at_ms.load(Ordering::Relaxed);
            if at != 0 && at <= now && !d.expired.swap(true, Ordering::Relaxed) {
                let kind = if d.kind.load(Ordering::Relaxed) == HEAD {
                    "head"
                } else {
                    "idle"
                };
                metrics::counter!("qc_http_timeouts_total", "kind" => kind).increment(1);
                d.waker.wake();
            }
        }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = Guarded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        self.next_id += 1;
        let deadline = Arc::new(Deadline::default());
        let now = self.registry.now();
        deadline.set(now + millis(self.registry.timeouts.header), HEAD);
        self.registry.live.insert(self.next_id, deadline.clone());
        let guarded = Guarded {
            io,
            watch: Some(Box::new(Watch {
                id: self.next_id,
                deadline,
                registry: self.registry.clone(),
                phase: Phase::Waiting,
                scan: 0,
                start: 0,
            })),
        };
        Ok((guarded, local, remote, scheme))
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Where a connection is in its HTTP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet: the head deadline runs from the connection's start
    /// (the TLS handshake included).
    Waiting,
    /// A request head is arriving. The first one keeps the deadline from
    /// the connection's start; a later one gets its own from its first byte.
    Head,
    /// The head is in: its body and the handler are under way (the head
    /// deadline still runs, so a dripped body is bounded too) until the
    /// answer starts. An interim `100 Continue` changes nothing.
    Handling,
    /// The answer started: the idle deadline runs from then. Writes never
    /// push it on, so a client that reads an answer slowly gets the idle
    /// timeout for all of it, and then for its silence after it.
    Answering,
}

/// HTTP/2's connection preface starts so. hyper would serve HTTP/2 with
/// prior knowledge whatever ALPN offered, and HTTP/2 frames (PING,
/// SETTINGS) would pass for requests and answers here; the server speaks
/// HTTP/1.1 only, so such a connection is refused at once.
const H2_PREFACE: &[u8] = b"PRI ";

struct Watch {
    id: u64,
    deadline: Arc<Deadline>,
    registry: Arc<Registry>,
    phase: Phase,
    /// How much of `\r\n\r\n` the head has ended with so far.
    scan: u8,
    /// How much of [`H2_PREFACE`] the connection started with; past its
    /// length once decided.
    start: u8,
}

impl Watch {
    fn now(&self) -> u64 {
        self.registry.now()
    }

    fn check(&self, cx: &Context<'_>) -> std::io::Result<()> {
        self.deadline.waker.register(cx.waker());
        if self.deadline.expired.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "HTTP timeout",
            ));
        }
        Ok(())
    }

    /// Follows the request heads read; `true` refuses the connection (an
    /// HTTP/2 preface).
    fn on_read(&mut self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return false;
        }
        if usize::from(self.start) < H2_PREFACE.len() {
            for &b in bytes {
                if b != H2_PREFACE[usize::from(self.start)] {
                    self.start = u8::MAX;
                    break;
                }
                self.start += 1;
                if usize::from(self.start) == H2_PREFACE.len() {
                    metrics::counter!("qc_http_refused_total", "reason" => "http2").increment(1);
                    return true;
                }
            }
        }
        match self.phase {
            Phase::Waiting => self.phase = Phase::Head,
            Phase::Answering => {
                self.phase = Phase::Head;
                self.scan = 0;
                self.deadline
                    .set(self.now() + millis(self.registry.timeouts.header), HEAD);
            }
            Phase::Head | Phase::Handling => {}
        }
        if self.phase == Phase::Head {
            for &b in bytes {
                self.scan = match (self.scan, b) {
                    (0 | 2, b'\r') => self.scan + 1,
                    (1 | 3, b'\n') => self.scan + 1,
                    (_, b'\r') => 1,
                    _ => 0,
                };
                if self.scan == 4 {
                    self.phase = Phase::Handling;
                    break;
                }
            }
        }
        false
    }

    /// Follows the answers written (`written`: what a write took); `true`
    /// once the connection was upgraded (stop watching).
    fn on_write(&mut self, written: &[u8]) -> bool {
        if written.is_empty() || self.phase != Phase::Handling {
            return false;
        }
        let status = written.get(9..12);
        let http1 = written.starts_with(b"HTTP/1.1 ") || written.starts_with(b"HTTP/1.0 ");
        match (http1, status) {
            (true, Some(b"101")) => return true,
            (true, Some(b"100")) => return false,
            _ => {}
        }
        self.phase = Phase::Answering;
        self.deadline
            .set(self.now() + millis(self.registry.timeouts.idle), IDLE);
        false
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.registry.live.remove(&self.id);
    }
}

/// A connection under the HTTP timeouts until it upgrades. The watch is
/// boxed: an upgraded connection carries one empty pointer for it.
pub struct Guarded<T> {
    io: T,
    watch: Option<Box<Watch>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let Some(watch) = this.watch.as_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        watch.check(cx)?;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && watch.on_read(&buf.filled()[before..])
        {
            buf.set_filled(before);
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "HTTP/2 is not served here",
            )));
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    fn before_write(&self, cx: &Context<'_>) -> std::io::Result<()> {
        match &self.watch {
            Some(watch) => watch.check(cx),
            None => Ok(()),
        }
    }

    /// After a write took `written` (the start of what was offered).
    fn after_write(&mut self, written: &[u8]) {
        if let Some(watch) = self.watch.as_mut()
            && watch.on_write(written)
        {
            self.watch = None;
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.before_write(cx)?;
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.after_write(&buf[..n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.before_write(cx)?;
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..b.len().min(n)]);
            self.after_write(first);
        }
        polled
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

#[cfg(test)]
mod tests;
