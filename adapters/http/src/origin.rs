//! Cross-site WebSocket hijacking defence: the `Origin` allow-list.

/// Origins allowed to open a WebSocket; empty means any.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// From the comma-separated setting; each entry is `scheme://host[:port]`.
    pub fn parse(list: Option<&str>) -> Self {
        Self(
            list.unwrap_or_default()
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }

    pub fn is_restricted(&self) -> bool {
        !self.0.is_empty()
    }

    /// Exact, ASCII case-insensitive match against a listed origin.
    pub fn allows(&self, origin: &str) -> bool {
        !self.is_restricted() || self.0.iter().any(|o| o.eq_ignore_ascii_case(origin.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_matches_only() {
        let o = AllowedOrigins::parse(Some("https://app.example.com, http://localhost:2530"));
        assert!(o.allows("https://app.example.com"));
        assert!(o.allows("HTTPS://APP.EXAMPLE.COM"));
        assert!(o.allows("http://localhost:2530"));
        assert!(!o.allows("https://evil.example"));
        assert!(!o.allows("https://app.example.com.evil.example"));
        assert!(!o.allows("http://app.example.com"));
        assert!(!o.allows("null"));
        assert!(!o.allows("http://localhost:2531"));
        assert!(AllowedOrigins::parse(None).allows("https://anything"));
    }
}
