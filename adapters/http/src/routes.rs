//! The whole HTTP surface in one poem endpoint.

use std::sync::Arc;
use std::time::Instant;

use poem::endpoint::make_sync;
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Route, get};
use poem_openapi::OpenApiService;

use crate::api::{AgentsApi, ConversationsApi, HealthApi, json_error};
use crate::ws::{WsContext, chat_clients, chat_supports};

pub struct HttpDeps {
    pub ws: Arc<WsContext>,
    pub conversations: ConversationsApi,
    pub agents: AgentsApi,
    pub health: HealthApi,
    /// Renders the Prometheus text format for `GET /metrics`.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// Dev mode only: mints tokens for `GET /dev/token`. `None` in
    /// production, and then the endpoint does not exist.
    pub dev_tokens: Option<crate::web::DevTokens>,
    /// Largest request body, in bytes (`QC_HTTP_BODY_LIMIT`).
    pub body_limit: usize,
    /// The per-user HTTP request bucket, `(per second, burst)`; `None`: off.
    pub http_rate: Option<(u32, u32)>,
}

/// The OpenAPI service, also used to write `docs/openapi.json`.
pub fn openapi_service(
    conversations: ConversationsApi,
    agents: AgentsApi,
    health: HealthApi,
) -> OpenApiService<(ConversationsApi, AgentsApi, HealthApi), ()> {
    OpenApiService::new(
        (conversations, agents, health),
        "Quick Connect Chat",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "HTTP API of Quick Connect Chat. Authenticate with `Authorization: Bearer <jwt>` \
         (Authorize, above; or the cookie / `access_token` query parameter). Errors are \
         `{code, message}`.\n\n\
         Outside this document, on the same server:\n\
         - `GET /chats/clients` (guests and clients) and `GET /chats/supports` (agents): the \
         WebSocket chat, described by the AsyncAPI document at `/asyncapi.yaml` \
         (docs/asyncapi.yaml; frames, error codes and close codes in docs/protocol.md).\n\
         - `GET /metrics`: Prometheus text format (docs/deployment.md lists the series).\n\
         - `GET /dev/token?role=client|guest|support`: dev mode only (no QC_JWT_SECRET or \
         QC_JWT_PUBLIC_KEY_FILE): a development token as `{token}`; 404 in every other mode.\n\
         - `GET /`, `GET /agent`: the customer widget and the agent console.",
    )
    .external_document(poem_openapi::ExternalDocumentObject::new("/asyncapi.yaml"))
}

/// The AsyncAPI document of the WebSocket chat (docs/asyncapi.yaml), which
/// the OpenAPI document points to.
fn asyncapi() -> poem::Response {
    poem::Response::builder()
        .content_type("application/yaml; charset=utf-8")
        .body(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/asyncapi.yaml"
        )))
}

/// The pages' icon (web/pages/favicon.svg), where browsers look for it.
fn favicon() -> poem::Response {
    poem::Response::builder()
        .content_type("image/svg+xml")
        .header("cache-control", "max-age=86400")
        .body(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../web/pages/favicon.svg"
        )))
}

/// Builds every route: the WebSocket endpoints, the API, its spec and docs.
pub fn build_routes(deps: HttpDeps) -> impl Endpoint<Output = poem::Response> {
    let api = openapi_service(deps.conversations, deps.agents, deps.health);
    let allow = Arc::new(AllowTable::from_spec(&api.spec()));
    let spec = api.spec_endpoint();
    let ui = api.swagger_ui();
    let origins = deps.ws.origins.clone();
    let cookie_name: Arc<str> = deps.ws.auth.cookie_name.as_str().into();
    let body_limit = deps.body_limit;
    let gate = Arc::new(crate::gate::ApiGate::new(
        deps.ws.auth.clone(),
        deps.http_rate,
    ));
    let render = deps.metrics;
    let metrics = make_sync(move |_| {
        poem::Response::builder()
            .content_type("text/plain; version=0.0.4")
            .body(render())
    });
    crate::web::web_routes(Route::new(), deps.dev_tokens)
        .at("/metrics", get(metrics))
        .at("/asyncapi.yaml", get(make_sync(|_| asyncapi())))
        .at("/favicon.ico", get(make_sync(|_| favicon())))
        .at("/chats/clients", get(chat_clients))
        .at("/chats/supports", get(chat_supports))
        .at("/openapi.json", spec)
        .nest("/docs", ui)
        .nest("/", api)
        .data(deps.ws)
        .catch_all_error(json_error)
        .with(CatchPanic::new())
        .around(root_page)
        .around(move |ep, req| crate::gate::api_gate(ep, req, gate.clone()))
        .around(move |ep, req| limit_body(ep, req, body_limit))
        .around(move |ep, req| cors(ep, req, origins.clone(), cookie_name.clone()))
        .around(move |ep, req| access_log(ep, req, allow.clone()))
        .map_to_response()
}

/// CORS for the HTTP API, so frontends on other origins can call it: an
/// allowed `Origin` (any, when `QC_ALLOWED_ORIGINS` is unset) is echoed back,
/// and preflights are answered. Credentials (cookies) are never allowed
/// cross-origin: send the token in `Authorization`. WebSocket paths keep
/// their own `Origin` check.
async fn cors<E: Endpoint>(
    ep: Arc<E>,
    req: poem::Request,
    origins: crate::AllowedOrigins,
    cookie_name: Arc<str>,
) -> poem::Result<poem::Response> {
    use poem::http::{HeaderValue, Method, StatusCode, header};
    if let Some(refused) = cross_site_refusal(&req, &origins, &cookie_name) {
        return Ok(refused);
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    // WebSocket paths keep their own Origin check; `/dev/token` never
    // carries CORS headers, so no other site can read a development token
    // from a developer's browser.
    let path = req.uri().path();
    let Some(origin) = origin.filter(|_| !path.starts_with("/chats/") && path != "/dev/token")
    else {
        return Ok(ep.get_response(req).await);
    };
    let allowed = origin.to_str().is_ok_and(|o| origins.allows(o));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            return Ok((
                StatusCode::FORBIDDEN,
                poem::web::Json(serde_json::json!({
                    "code": "origin_not_allowed",
                    "message": "this Origin may not call the API",
                })),
            )
                .into_response());
        }
        return Ok(poem::Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT")
            .header(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            )
            .header(header::ACCESS_CONTROL_MAX_AGE, "600")
            .header(header::VARY, "Origin")
            .finish());
    }
    let mut resp = ep.get_response(req).await;
    if allowed {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(resp)
}

/// CONTRACT §4, when `QC_ALLOWED_ORIGINS` is set: a request that changes
/// state (`POST`, `PUT`, `DELETE`, `PATCH`) with an `Origin` that is not
/// listed (or with several) is refused with 403 `origin_not_allowed`,
/// whatever its token or body; so is one authenticated by the cookie that
/// has no `Origin` and a `Sec-Fetch-Site` other than `same-origin` or
/// `none`. A request with neither header (not a browser) passes.
fn cross_site_refusal(
    req: &poem::Request,
    origins: &crate::AllowedOrigins,
    cookie_name: &str,
) -> Option<poem::Response> {
    use poem::http::{Method, StatusCode, header};
    let changes_state = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    );
    if !changes_state || !origins.is_restricted() {
        return None;
    }
    let sent: Vec<_> = req.headers().get_all(header::ORIGIN).iter().collect();
    let refused = match sent.as_slice() {
        [] => {
            let by_cookie = matches!(
                crate::auth::locate_token(req, cookie_name, false),
                Some((crate::auth::TokenPlace::Cookie, _))
            );
            let site = req
                .headers()
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok());
            by_cookie && site.is_some_and(|s| s != "same-origin" && s != "none")
        }
        [origin] => !origin.to_str().is_ok_and(|o| origins.allows(o)),
        _ => true,
    };
    refused.then(|| {
        (
            StatusCode::FORBIDDEN,
            poem::web::Json(serde_json::json!({
                "code": "origin_not_allowed",
                "message": "a cross-site request may not change anything here",
            })),
        )
            .into_response()
    })
}

/// Refuses a request body over `limit` with 413 `payload_too_large` before
/// anything reads or parses it (and so before the token is checked): from
/// its `Content-Length` without reading a byte, and for a chunked body by
/// reading at most `limit + 1` bytes. An unauthenticated client can make the
/// server hold at most `limit` bytes per request.
async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: poem::Request,
    limit: usize,
) -> poem::Result<poem::Response> {
    use poem::http::{StatusCode, header};
    use tokio::io::AsyncReadExt;
    let too_large = || {
        crate::telemetry::body_refused();
        crate::api::error::ApiError::payload_too_large(limit).into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => return Ok(too_large()),
        Some(_) => {}
        // Chunked, or no length at all on a method that carries a body: read
        // at most the limit (a GET's body is empty for HTTP/1.1).
        None if req.headers().contains_key(header::TRANSFER_ENCODING)
            || !matches!(
                *req.method(),
                poem::http::Method::GET | poem::http::Method::HEAD | poem::http::Method::OPTIONS
            ) =>
        {
            let mut capped = req.take_body().into_async_read().take(limit as u64 + 1);
            let mut body = Vec::new();
            if capped.read_to_end(&mut body).await.is_err() {
                return Ok(StatusCode::BAD_REQUEST.into_response());
            }
            if body.len() > limit {
                return Ok(too_large());
            }
            req.set_body(body);
        }
        None => {}
    }
    Ok(ep.get_response(req).await)
}

/// `GET /` is the customer widget (see `web::index_page`).
async fn root_page<E: Endpoint>(ep: Arc<E>, req: poem::Request) -> poem::Result<poem::Response> {
    if req.uri().path() == "/" && req.method() == poem::http::Method::GET {
        return Ok(crate::web::index_page());
    }
    Ok(ep.get_response(req).await)
}

/// The methods each API path answers, for the `Allow` header of a 405:
/// read from the OpenAPI document, so it cannot drift from the routes.
/// Paths outside the API (pages, WebSocket endpoints, `/metrics`) are GET.
#[derive(Debug, Default)]
pub(crate) struct AllowTable(Vec<(Vec<String>, String)>);

impl AllowTable {
    pub(crate) fn from_spec(spec: &str) -> Self {
        const ORDER: [&str; 5] = ["get", "post", "put", "patch", "delete"];
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = spec["paths"].as_object() else {
            return Self::default();
        };
        Self(
            paths
                .iter()
                .map(|(template, item)| {
                    let methods: Vec<String> = ORDER
                        .iter()
                        .filter(|m| item.get(**m).is_some())
                        .map(|m| m.to_ascii_uppercase())
                        .collect();
                    let segments = template
                        .trim_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect();
                    (segments, methods.join(", "))
                })
                .collect(),
        )
    }

    pub(crate) fn allow(&self, path: &str) -> &str {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == parts.len()
                    && template
                        .iter()
                        .zip(&parts)
                        .all(|(t, p)| t.starts_with('{') || t == p)
            })
            .map_or("GET", |(_, methods)| methods.as_str())
    }
}

/// One line per request: method, path (never the query string, which may
/// hold a token), status, duration. Also: a 405 says which methods are allowed.
async fn access_log<E: Endpoint>(
    ep: Arc<E>,
    req: poem::Request,
    allow: Arc<AllowTable>,
) -> poem::Result<poem::Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let mut result = ep.get_response(req).await;
    if result.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        result.headers_mut().insert(
            poem::http::header::ALLOW,
            poem::http::HeaderValue::from_str(allow.allow(&path))
                .expect("method names are header-safe"),
        );
    }
    let elapsed = start.elapsed();
    crate::telemetry::http_request(result.status().as_u16(), elapsed.as_secs_f64());
    tracing::info!(
        %method,
        path,
        status = result.status().as_u16(),
        ms = elapsed.as_millis() as u64,
        "http"
    );
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::AllowTable;

    #[test]
    fn allow_is_read_from_the_spec() {
        let spec = r#"{"paths": {
            "/conversations": {"get": {}, "post": {}},
            "/conversations/{id}": {"get": {}},
            "/conversations/{id}/assign": {"post": {}}
        }}"#;
        let t = AllowTable::from_spec(spec);
        assert_eq!(t.allow("/conversations"), "GET, POST");
        assert_eq!(t.allow("/conversations/"), "GET, POST");
        assert_eq!(t.allow("/conversations/01KAAWW5V95WFFDERJZCTDE2QQ"), "GET");
        assert_eq!(
            t.allow("/conversations/01KAAWW5V95WFFDERJZCTDE2QQ/assign"),
            "POST"
        );
        assert_eq!(t.allow("/chats/clients"), "GET", "outside the API");
        assert_eq!(AllowTable::from_spec("not json").allow("/x"), "GET");
    }
}
