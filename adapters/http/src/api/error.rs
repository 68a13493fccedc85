//! Error responses: `{code, message}` with the matching status, for our own
//! refusals and for anything the framework refuses (bad path, bad JSON,
//! unknown route), so a client only ever sees one error shape.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use super::dto::ErrorBody;

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed (`invalid_request`: bad JSON, a missing
    /// field), or names what the caller cannot use: a message that is not
    /// a text of the conversation (`unknown_message`), a cursor not in the
    /// listing (`invalid_cursor`), an agent the desk does not know
    /// (`unknown_agent`), a status other than `online` or `away`
    /// (`invalid_status`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No token, or an invalid or expired one.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller's role may not do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such conversation, or one the caller may not see.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// `already_assigned`, `conversation_closed`,
    /// `too_many_open_conversations`, or (automatic routing) `at_capacity`.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// `payload_too_large`: the body is over `QC_HTTP_BODY_LIMIT` bytes
    /// (refused before it is read and before the token is checked).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not JSON: send `Content-Type: application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// `rate_limited`: the caller's HTTP request bucket is empty; retry
    /// after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds until a request will be accepted again.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The database is unreachable; retry.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

fn body(code: &str, message: &str) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
    })
}

impl ApiError {
    pub fn payload_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge(body(
            "payload_too_large",
            &format!("a request body may have at most {limit} bytes"),
        ))
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::TooManyRequests(
            body(
                "rate_limited",
                "too many requests from this user; retry after the number of seconds in Retry-After",
            ),
            retry_after_secs,
        )
    }
    pub fn bad_request(code: &str, message: &str) -> Self {
        Self::BadRequest(body(code, message))
    }
    pub fn unauthorized(message: &str) -> Self {
        Self::Unauthorized(body("unauthorized", message))
    }
    pub fn forbidden(message: &str) -> Self {
        Self::Forbidden(body("forbidden", message))
    }
    pub fn not_found() -> Self {
        Self::NotFound(body("not_found", "conversation not found"))
    }
    /// A message id (cursor or `up_to`) that is not in the conversation.
    pub fn unknown_message(message: &str) -> Self {
        Self::BadRequest(body("unknown_message", message))
    }
    pub fn conflict(code: &str, message: &str) -> Self {
        Self::Conflict(body(code, message))
    }
    /// Logs the cause; the client sees a generic message.
    pub fn unavailable(cause: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{cause:#}"), "request failed: storage unavailable");
        Self::Unavailable(body("unavailable", "storage is unavailable; retry later"))
    }
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        poem::web::Json(serde_json::json!({ "code": "invalid_request", "message": message })),
    )
        .into_response()
}

/// poem-openapi's parse messages in the contract's words: no Rust type
/// names (`Expected input type "OpenConversationRequest", found null.`
/// becomes `a JSON object is required, found null`).
fn plain(reason: &str) -> String {
    // The innermost message: drop `(occurred while parsing "…")` and the
    // `failed to parse "…": ` wrapper.
    let mut r = reason;
    if let Some(i) = r.find(" (occurred while parsing") {
        r = &r[..i];
    }
    while let Some(rest) = r.strip_prefix("failed to parse \"") {
        r = rest.split_once("\": ").map_or(rest, |(_, m)| m);
    }
    if let Some(rest) = r.strip_prefix("Expected input type \"")
        && let Some((ty, found)) = rest.split_once("\", found ")
    {
        let expected = if ty.starts_with(|c: char| c.is_ascii_uppercase()) {
            "a JSON object"
        } else {
            ty
        };
        return format!(
            "{expected} is required, found {}",
            found.trim_end_matches('.')
        );
    }
    if r.starts_with("Type \"") && r.ends_with("expects an input value.") {
        return "a value is required".to_owned();
    }
    r.to_owned()
}

/// Turns any error that is not already one of ours into the JSON shape.
pub async fn json_error(err: poem::Error) -> Response {
    if err.is::<poem_openapi::error::ParsePathError>() {
        // An id in a path that is not a ULID: the same answer as an unknown
        // one (CONTRACT §4), so the shape of an id tells nothing.
        return (
            StatusCode::NOT_FOUND,
            poem::web::Json(serde_json::json!({
                "code": "not_found",
                "message": "no such conversation",
            })),
        )
            .into_response();
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
        return bad_request(&format!("invalid request body: {}", plain(&e.reason)));
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        return bad_request(&format!(
            "invalid parameter {:?}: {}",
            e.name,
            plain(&e.reason)
        ));
    }
    if !err.has_source() {
        // Built from a response (one of our ApiError values): keep it.
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthorized",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let message = if status.is_server_error() {
        tracing::error!(error = %err, "request failed");
        "internal error".to_owned()
    } else {
        err.to_string()
    };
    (
        status,
        poem::web::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

#[cfg(test)]
mod plain_tests {
    use super::plain;

    #[test]
    fn parse_messages_lose_their_rust_type_names() {
        assert_eq!(
            plain(r#"Expected input type "OpenConversationRequest", found null."#),
            "a JSON object is required, found null"
        );
        assert_eq!(
            plain(r#"failed to parse "MarkReadRequest": field `up_to` is required"#),
            "field `up_to` is required"
        );
        assert_eq!(
            plain(
                r#"Expected input type "string", found 5. (occurred while parsing "SetStatusRequest")"#
            ),
            "string is required, found 5"
        );
        assert_eq!(
            plain(r#"Type "integer(uint32)" expects an input value."#),
            "a value is required"
        );
        assert_eq!(
            plain("expected value at line 1 column 1"),
            "expected value at line 1 column 1"
        );
    }
}
