//! Logging. Tokens never reach a log line: the access log prints paths
//! without query strings, and nothing logs headers or frames verbatim.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (text or JSON lines) on standard error.
pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
