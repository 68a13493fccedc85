//! The `QC_ALLOWED_ORIGINS` check: each entry must be an origin as
//! browsers send it.

use anyhow::ensure;

/// Each entry of `QC_ALLOWED_ORIGINS` must be an origin as browsers send
/// it, `scheme://host[:port]`: `example.com` would never match one.
pub(super) fn check_origins(list: &str) -> anyhow::Result<()> {
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        ensure!(
            is_origin(entry.trim_end_matches('/')),
            "QC_ALLOWED_ORIGINS: {entry:?} is not an origin like https://app.example.com or http://localhost:3000"
        );
    }
    Ok(())
}

/// `http(s)://host[:port]`, the host a name, an IPv4 address or a
/// bracketed IPv6 one, and nothing after.
pub(super) fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return false;
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, after)) if !addr.is_empty() && addr.contains(':') => (addr, after),
            _ => return false,
        },
        None => match rest.find(':') {
            Some(colon) => (&rest[..colon], &rest[colon..]),
            None => (rest, ""),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.parse::<u16>().is_ok());
    host_ok && port_ok
}
