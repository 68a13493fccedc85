//! The listener: bind with a large backlog, then cap the connections, add
//! TLS when configured and the HTTP timeouts outermost.

use std::net::SocketAddr;

use anyhow::Context;
use poem::listener::{Acceptor, AcceptorExt, BoxAcceptor, TcpAcceptor};

use crate::settings::Config;

/// The listen backlog asked for; the kernel caps it at
/// `net.core.somaxconn` (4096 here). poem's own listener asks for 1024,
/// which a burst of 256 handshakes in flight overflows into SYN retries a
/// second later.
const LISTEN_BACKLOG: u32 = 65_535;

/// Binds `addr` with the largest backlog the kernel allows.
fn listen(addr: SocketAddr) -> anyhow::Result<TcpAcceptor> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpAcceptor::from_tokio(listener)?)
}

/// The acceptor the server runs on, and the address it was bound to.
///
/// # Errors
/// When the certificate or key is unusable or the address is taken.
pub(super) fn bind(config: &Config) -> anyhow::Result<(BoxAcceptor, SocketAddr)> {
    // Certificate problems surface before the port is taken.
    let tls = match &config.tls {
        Some(files) => Some(qc_http::tls::server_config(&files.cert, &files.key)?),
        None => None,
    };
    let tcp = listen(config.bind).with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = tcp
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("listener has no address")?;
    let tcp = qc_http::listener::CappedAcceptor::new(tcp, config.max_connections);
    // Outermost, above TLS: the timeouts see the plaintext HTTP (and
    // the handshake counts against the head timeout).
    let timeouts = qc_http::listener::HttpTimeouts {
        header: config.http_header_timeout,
        idle: config.http_idle,
    };
    let acceptor = match tls {
        Some(tls) => qc_http::listener::GuardedAcceptor::new(
            qc_http::tls::TlsAcceptor::new(tcp, tls),
            timeouts,
        )
        .boxed(),
        None => qc_http::listener::GuardedAcceptor::new(tcp, timeouts).boxed(),
    };
    Ok((acceptor, addr))
}
