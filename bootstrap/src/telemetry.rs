//! Logging. Tokens never reach a log line: the access log prints paths
//! without query strings, and nothing logs headers or frames verbatim.
//!
//! Lines are written by a background thread (tracing-appender's
//! non-blocking writer): a runtime thread that logs only queues the line,
//! so a slow terminal or a full pipe never stalls the message path. Under
//! a burst beyond its buffer, lines are dropped rather than blocking.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Library targets whose `trace` output shows chat content (every frame):
/// off unless the filter names them.
const QUIET_UNLESS_NAMED: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// The filter for `spec`, with the WebSocket library's tracing off unless
/// `spec` asks for it by name.
pub fn filter(spec: &str) -> EnvFilter {
    let mut spec = if EnvFilter::try_new(spec).is_ok() {
        spec.to_owned()
    } else {
        "info".to_owned()
    };
    for target in QUIET_UNLESS_NAMED {
        if !spec.contains(target) {
            spec.push_str(&format!(",{target}=off"));
        }
    }
    EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber (text or JSON lines) on standard error.
/// Keep the guard until exit: dropping it flushes what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(spec: &str, json: bool) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    // Colours only for a person at a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(spec))
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_library_is_silent_unless_named() {
        let directives = |spec: &str| -> Vec<String> {
            filter(spec)
                .to_string()
                .split(',')
                .map(str::to_owned)
                .collect()
        };
        let d = directives("trace");
        assert!(d.contains(&"tungstenite=off".to_owned()), "{d:?}");
        assert!(d.contains(&"tokio_tungstenite=off".to_owned()), "{d:?}");
        let d = directives("info,tungstenite=trace");
        assert!(d.contains(&"tungstenite=trace".to_owned()), "{d:?}");
        assert!(!d.contains(&"tungstenite=off".to_owned()), "{d:?}");
    }
}
