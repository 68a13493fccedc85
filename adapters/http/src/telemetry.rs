//! Prometheus metrics recorded by the adapters (names are stable API for
//! dashboards). The exporter is installed by bootstrap; without one, these
//! calls are no-ops.

use metrics::{counter, gauge, histogram};

/// The close codes the server sends (CONTRACT §3): the wire vocabulary's.
pub const SERVER_CLOSE_CODES: [u16; crate::wire_vocabulary::CLOSE_CODES.len()] =
    crate::wire_vocabulary::CLOSE_CODE_NUMBERS;

/// Exports every labelled counter at 0 before its first event, so a
/// dashboard's rate() and an alert on "> 0" see the series from the start
/// (adding 0 keeps whatever another server in the process counted).
pub fn register() {
    for code in crate::frames::ErrorCode::ALL {
        counter!("qc_ws_frame_errors_total", "code" => code.as_str()).increment(0);
    }
    for code in SERVER_CLOSE_CODES {
        counter!("qc_ws_server_closes_total", "code" => code.to_string()).increment(0);
    }
    for counter in [
        "qc_http_body_refused_total",
        "qc_open_conversations_refused_total",
        "qc_http_rate_limited_total",
        "qc_ws_too_many_connections_total",
        "qc_messages_stored_total",
    ] {
        counter!(counter).increment(0);
    }
}

/// A chat connection opened (+1) or closed (-1), per endpoint role.
pub fn connection_delta(role: &'static str, delta: f64) {
    gauge!("qc_ws_connections", "role" => role).increment(delta);
}

/// A frame refused with a `system/error` code.
pub fn frame_error(code: &'static str) {
    counter!("qc_ws_frame_errors_total", "code" => code).increment(1);
}

/// A connection closed by the server with this code.
pub fn server_close(code: u16) {
    counter!("qc_ws_server_closes_total", "code" => code.to_string()).increment(1);
}

/// A request refused for its body size (413).
pub fn body_refused() {
    counter!("qc_http_body_refused_total").increment(1);
}

/// A `POST /conversations` refused: the customer has the most open ones.
pub fn open_conversation_refused() {
    counter!("qc_open_conversations_refused_total").increment(1);
}

/// An HTTP API request refused with 429 by the user's request bucket.
pub fn http_rate_limited() {
    counter!("qc_http_rate_limited_total").increment(1);
}

/// A WebSocket upgrade refused because the user holds the most connections.
pub fn connections_refused() {
    counter!("qc_ws_too_many_connections_total").increment(1);
}

/// A text stored and how long store + publish took.
pub fn message_stored(seconds: f64) {
    counter!("qc_messages_stored_total").increment(1);
    histogram!("qc_message_store_seconds").record(seconds);
}

/// An HTTP request answered.
pub fn http_request(status: u16, seconds: f64) {
    counter!("qc_http_requests_total", "status" => status.to_string()).increment(1);
    histogram!("qc_http_request_seconds").record(seconds);
}
