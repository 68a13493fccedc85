//! The browser side, embedded in the binary so `cargo run --release` serves
//! it with no build step: the customer widget at `/`, the agent console at
//! `/agent`, and under `/assets/quickconnect/` the client library and the
//! pages' scripts (the committed `web/dist` output of `web/src`).

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::http::header::CACHE_CONTROL;
use poem::web::Json;
use poem::{IntoResponse, Request, Response, Route, get};
use qc_domain::{Role, UserId};

/// Mints a development token for a role (dev mode only), for the given
/// `sub` (the same user again, e.g. after a restart) or a new one.
pub type DevTokens =
    Arc<dyn Fn(Role, Option<UserId>) -> anyhow::Result<(String, String)> + Send + Sync>;

macro_rules! web_file {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path))
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Path, body, content type. `/assets/quickconnect/` mirrors `web/dist`
/// (the library, and the pages compiled from `web/src/pages` under
/// `pages/`), so the modules' relative imports resolve.
const FILES: &[(&str, &str, &str)] = &[
    ("/", web_file!("pages/index.html"), HTML),
    ("/agent", web_file!("pages/agent.html"), HTML),
    ("/assets/app.css", web_file!("pages/app.css"), CSS),
    ("/assets/agent.css", web_file!("pages/agent.css"), CSS),
    (
        "/assets/quickconnect/index.js",
        web_file!("dist/index.js"),
        JS,
    ),
    ("/assets/quickconnect/api.js", web_file!("dist/api.js"), JS),
    (
        "/assets/quickconnect/client.js",
        web_file!("dist/client.js"),
        JS,
    ),
    (
        "/assets/quickconnect/clock.js",
        web_file!("dist/clock.js"),
        JS,
    ),
    (
        "/assets/quickconnect/desk.js",
        web_file!("dist/desk.js"),
        JS,
    ),
    (
        "/assets/quickconnect/protocol.js",
        web_file!("dist/protocol.js"),
        JS,
    ),
    (
        "/assets/quickconnect/timeline.js",
        web_file!("dist/timeline.js"),
        JS,
    ),
    (
        "/assets/quickconnect/typing.js",
        web_file!("dist/typing.js"),
        JS,
    ),
    (
        "/assets/quickconnect/wire.js",
        web_file!("dist/wire.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/widget.js",
        web_file!("dist/pages/widget.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/agent.js",
        web_file!("dist/pages/agent.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_actions.js",
        web_file!("dist/pages/console_actions.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_alerts.js",
        web_file!("dist/pages/console_alerts.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_context.js",
        web_file!("dist/pages/console_context.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_format.js",
        web_file!("dist/pages/console_format.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_pane.js",
        web_file!("dist/pages/console_pane.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_queue.js",
        web_file!("dist/pages/console_queue.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/console_sidebar.js",
        web_file!("dist/pages/console_sidebar.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/keyed.js",
        web_file!("dist/pages/keyed.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/dom.js",
        web_file!("dist/pages/dom.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/messages.js",
        web_file!("dist/pages/messages.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/session.js",
        web_file!("dist/pages/session.js"),
        JS,
    ),
    (
        "/assets/quickconnect/pages/format.js",
        web_file!("dist/pages/format.js"),
        JS,
    ),
    (
        "/assets/quickconnect/embed.js",
        web_file!("dist/embed.js"),
        JS,
    ),
];

/// Pages may only load their own scripts and talk to their own origin.
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
                   style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'";

fn file_response(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = Response::builder()
        .content_type(content_type)
        .header(CACHE_CONTROL, "no-cache")
        .header("x-content-type-options", "nosniff");
    if content_type == HTML {
        resp = resp.header("content-security-policy", CSP);
    }
    resp.body(body)
}

/// The customer widget, for `GET /`. Served in front of the router: the
/// HTTP API is nested at `/`, which would otherwise claim the bare root.
pub fn index_page() -> Response {
    let (_, body, content_type) = FILES[0];
    file_response(body, content_type)
}

/// Adds the pages (all but `/`, see [`index_page`]), and `/dev/token` when
/// `dev_tokens` is given (dev mode).
pub fn web_routes(mut route: Route, dev_tokens: Option<DevTokens>) -> Route {
    for &(path, body, content_type) in &FILES[1..] {
        route = route.at(
            path,
            get(make_sync(move |_| file_response(body, content_type))),
        );
    }
    if let Some(mint) = dev_tokens {
        route = route.at(
            "/dev/token",
            get(make_sync(move |req: Request| dev_token(&mint, &req))),
        );
    }
    route
}

fn dev_token(mint: &DevTokens, req: &Request) -> Response {
    let param = |name: &str| {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        })
    };
    // The same user again: a sub as minted here or by `quickconnect token`
    // (letters, digits, `.`, `_`, `-`; no percent-encoding needed).
    let sub = match param("sub") {
        None => None,
        Some(raw)
            if (1..=128).contains(&raw.len())
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            UserId::new(raw).ok()
        }
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "code": "invalid_request", "message": "sub must be 1 to 128 letters, digits, '.', '_' or '-'" })),
            )
                .into_response();
        }
    };
    let role = param("role").and_then(Role::parse);
    let Some(role) = role else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "code": "invalid_request", "message": "role must be guest, client or support" })),
        )
            .into_response();
    };
    match mint(role, sub) {
        Ok((token, user_id)) => {
            let mut resp = Json(
                serde_json::json!({ "token": token, "user_id": user_id, "role": role.as_str() }),
            )
            .into_response();
            resp.headers_mut()
                .insert(CACHE_CONTROL, "no-store".parse().expect("static header"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "dev token minting failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_and_library_file_is_embedded() {
        for (path, body, _) in FILES {
            assert!(!body.is_empty(), "{path} is empty");
        }
        let page = |path: &str| FILES.iter().find(|f| f.0 == path).unwrap().1;
        assert!(page("/").contains("/assets/quickconnect/pages/widget.js"));
        assert!(page("/agent").contains("/assets/quickconnect/pages/agent.js"));
        assert!(page("/assets/quickconnect/index.js").contains("ChatClient"));
    }

    /// A module imported by a served module but missing from `FILES` would
    /// only fail in the browser: check every relative import resolves.
    #[test]
    fn every_module_import_is_served() {
        let served: Vec<&str> = FILES.iter().map(|f| f.0).collect();
        for &(path, body, content_type) in FILES {
            if content_type != JS {
                continue;
            }
            let dir = &path[..path.rfind('/').expect("an absolute path")];
            for line in body.lines().map(str::trim) {
                if !(line.starts_with("import ") || line.starts_with("export ")) {
                    continue;
                }
                let Some((_, rest)) = line.split_once(" from '") else {
                    continue;
                };
                let spec = rest.split('\'').next().unwrap_or_default();
                let target = resolve(dir, spec);
                assert!(
                    served.contains(&target.as_str()),
                    "{path} imports {spec} ({target}), which is not served"
                );
            }
        }
    }

    /// `spec` (with `./` and `../` segments) relative to the directory `dir`.
    fn resolve(dir: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').collect();
        for segment in spec.split('/') {
            match segment {
                "." => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }
}
