//! The whole HTTP surface, end to end: the real `quickconnect::Application`
//! (SQLite in a temporary directory, in-memory broker, HS256 secret, HTTP
//! rate limit off, `QC_ALLOWED_ORIGINS` restricted to one origin) on
//! 127.0.0.1:0, and fuzzed HTTP/1.1 requests sent to it over one kept-alive
//! TCP connection. No response may be a 5xx other than 503 (storage
//! unavailable); a request the server drops without any answer is a failure
//! too. A panic anywhere in the server aborts the process (libFuzzer's panic
//! hook), so it is reported like a panic here.
//!
//! `Application` keeps its routes private and serves only from its own
//! listener, so requests go over the loopback rather than to the endpoint
//! in process.
//!
//! Input: five selector bytes, then `<path suffix>\n<query>\n<body>`:
//!
//! | byte | selects |
//! | --- | --- |
//! | 0 | method: GET, POST, PUT, DELETE, OPTIONS, PATCH (mod 6) |
//! | 1 | path prefix, see `PREFIXES` (mod 20); the suffix is appended |
//! | 2 | `Content-Type`, see `CONTENT_TYPES` (mod 7) |
//! | 3 | credentials, see `CREDENTIALS` (mod 14) |
//! | 4 | bits 0-1: `Origin` (none, allowed, other, `null`); bit 2: `Sec-Fetch-Site` (bit 7: `same-origin`, else `cross-site`); bit 3: `Access-Control-Request-Method: POST`; bit 4: chunked body; bit 5: a second `Origin`; bit 6: WebSocket upgrade headers |
//!
//! An empty query sends none. Inputs whose path and query do not make a
//! valid origin-form URI are skipped.
#![no_main]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use poem::http::Uri;
use qc_domain::Role;
use quickconnect::{Application, Config, Settings};

const SECRET: &str = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
const OTHER_SECRET: &str = "other-secret-other-secret-other-secret-01";
const ALLOWED_ORIGIN: &str = "http://localhost:2530";
const CLIENT: &str = "01K9RDKY84GC0Q7F9F1NY54B5C";
const SUPPORT: &str = "01K9RDKY84GC0Q7F9F1NY54B5D";
const GUEST: &str = "01K9RDKY84GC0Q7F9F1NY54B5E";
/// Ten years: the harness's tokens outlive any fuzzing run.
const TTL: i64 = 10 * 365 * 24 * 3600;
/// Longest wait for connecting, writing or reading one answer. The server's
/// own head timeout (10 s) drops a request that takes longer than that.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// `{cid}` is the conversation the harness opens (as `CLIENT`) and assigns
/// (to `SUPPORT`) at start; `01KAAWW5V95WFFDERJZCTDE2QQ` exists nowhere.
const PREFIXES: [&str; 20] = [
    "/conversations",
    "/conversations/01KAAWW5V95WFFDERJZCTDE2QQ",
    "/conversations/01KAAWW5V95WFFDERJZCTDE2QQ/messages",
    "/conversations/01KAAWW5V95WFFDERJZCTDE2QQ/read",
    "/conversations/{cid}",
    "/conversations/{cid}/messages",
    "/conversations/{cid}/read",
    "/conversations/{cid}/assign",
    "/conversations/{cid}/close",
    "/healthz",
    "/readyz",
    "/dev/token",
    "/chats/clients",
    "/chats/supports",
    "/",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/agents",
    "/assets/widget.js",
];

const CONTENT_TYPES: [Option<&str>; 7] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/json;;=x"),
];

const ORIGINS: [Option<&str>; 4] = [
    None,
    Some(ALLOWED_ORIGIN),
    Some("https://evil.example"),
    Some("null"),
];

/// Selector byte 3, mod this: 0 none; 1, 2, 3 `Bearer` for the client,
/// support agent, guest; 4 `Bearer not-a-jwt`; 5 an expired client token;
/// 6 a client token signed with another secret; 7 `Basic`; 8, 9 the cookie
/// for the client, support agent; 10 `access_token` in the query for the
/// client; 11, 12 the `bearer.<jwt>` subprotocol for the client, support
/// agent; 13 `Bearer` client and the support agent's cookie.
const CREDENTIALS: u8 = 14;

static HARNESS: LazyLock<Harness> = LazyLock::new(Harness::start);

struct Harness {
    addr: SocketAddr,
    /// `PREFIXES` with `{cid}` filled in.
    prefixes: Vec<String>,
    client: String,
    support: String,
    guest: String,
    expired: String,
    foreign: String,
    /// The kept-alive connection; `None` after the server closed it.
    conn: Mutex<Option<BufReader<TcpStream>>>,
    /// Holds the SQLite file. Never dropped (libFuzzer exits the process),
    /// so the directory stays behind in the temporary directory.
    _db_dir: tempfile::TempDir,
}

/// One answer, read to its end.
struct Reply {
    status: u16,
    body: Vec<u8>,
    /// The server closes the connection after it (or it switched protocols).
    close: bool,
}

fn mint(secret: &str, sub: &str, role: Role, ttl: i64) -> String {
    qc_http::auth::mint_hs256(secret.as_bytes(), sub, role, ttl).expect("HS256 minting works")
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

impl Harness {
    fn start() -> Self {
        let db_dir = tempfile::Builder::new()
            .prefix("qc-fuzz-http-")
            .tempdir()
            .expect("a temporary directory for the database");
        let settings = Settings {
            bind: Some("127.0.0.1:0".into()),
            database_url: format!(
                "sqlite://{}?mode=rwc",
                db_dir.path().join("qc.db").display()
            ),
            jwt_secret: Some(SECRET.into()),
            allowed_origins: Some(ALLOWED_ORIGIN.into()),
            http_rate_per_sec: 0,
            max_open_conversations: 1_000_000,
            ..Settings::default()
        };
        let config = Config::from_settings(settings).expect("valid fuzzing settings");

        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("qc-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async move {
                    let app = Application::build(&config)
                        .await
                        .expect("the application builds");
                    addr_tx
                        .send(app.addr())
                        .expect("the fuzzing thread waits for the address");
                    app.run_until_stopped().await.expect("the server runs");
                });
            })
            .expect("the server thread starts");
        let addr = addr_rx
            .recv()
            .expect("the server thread reports its address");

        let mut harness = Self {
            addr,
            prefixes: Vec::new(),
            client: mint(SECRET, CLIENT, Role::Client, TTL),
            support: mint(SECRET, SUPPORT, Role::Support, TTL),
            guest: mint(SECRET, GUEST, Role::Guest, TTL),
            expired: mint(SECRET, CLIENT, Role::Client, -3600),
            foreign: mint(OTHER_SECRET, CLIENT, Role::Client, TTL),
            conn: Mutex::new(None),
            _db_dir: db_dir,
        };

        // One real conversation, assigned, so the fuzzer reaches past the
        // "not found" answers.
        let opened = harness.send(&encode(
            "POST",
            "/conversations",
            &[
                bearer(&harness.client),
                ("Content-Type", "application/json".into()),
            ],
            br#"{"subject":"fuzz"}"#,
            false,
        ));
        assert_eq!(
            opened.status,
            201,
            "opening the harness's conversation: {}",
            String::from_utf8_lossy(&opened.body)
        );
        let conversation: serde_json::Value =
            serde_json::from_slice(&opened.body).expect("the conversation is JSON");
        let cid = conversation["id"]
            .as_str()
            .expect("the conversation has an id")
            .to_owned();
        let assigned = harness.send(&encode(
            "POST",
            &format!("/conversations/{cid}/assign"),
            &[bearer(&harness.support)],
            b"",
            false,
        ));
        assert_eq!(
            assigned.status,
            200,
            "assigning the harness's conversation: {}",
            String::from_utf8_lossy(&assigned.body)
        );
        harness.prefixes = PREFIXES.iter().map(|p| p.replace("{cid}", &cid)).collect();
        harness
    }

    /// Sends one request and reads its answer, on the kept-alive connection
    /// when there is one. The server may have closed that connection since
    /// (idle timeout, an unread body): then once more on a fresh one. No
    /// answer on a fresh connection is a failure.
    fn send(&self, request: &[u8]) -> Reply {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut conn) = slot.take() {
            if let Ok(reply) = round_trip(&mut conn, request) {
                if !reply.close {
                    *slot = Some(conn);
                }
                return reply;
            }
        }
        let mut conn = connect(self.addr)
            .unwrap_or_else(|e| panic!("cannot connect to the server at {}: {e}", self.addr));
        match round_trip(&mut conn, request) {
            Ok(reply) => {
                if !reply.close {
                    *slot = Some(conn);
                }
                reply
            }
            Err(e) => panic!(
                "the server dropped this request without an answer ({e}):\n{}",
                String::from_utf8_lossy(&request[..request.len().min(2048)])
            ),
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(BufReader::new(stream))
}

/// An HTTP/1.1 request: head, then the body with `Content-Length` or
/// chunked.
fn encode(
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
    chunked: bool,
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    let mut out = head.into_bytes();
    if chunked {
        if !body.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(body);
    }
    out
}

fn round_trip(conn: &mut BufReader<TcpStream>, request: &[u8]) -> io::Result<Reply> {
    conn.get_mut().write_all(request)?;
    conn.get_mut().flush()?;
    read_reply(conn)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// One line without its CRLF; end of stream before a full line is an error.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<String> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Reads `n` bytes onto `body`.
fn read_exact_onto<R: BufRead>(r: &mut R, n: u64, body: &mut Vec<u8>) -> io::Result<()> {
    let before = body.len();
    Read::take(&mut *r, n).read_to_end(body)?;
    if (body.len() - before) as u64 != n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn read_chunked<R: BufRead>(r: &mut R, body: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("not a chunk size: {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(r)?.is_empty() {}
            return Ok(());
        }
        read_exact_onto(r, size, body)?;
        if !read_line(r)?.is_empty() {
            return Err(invalid("a chunk is not followed by CRLF".into()));
        }
    }
}

/// Reads one answer (skipping interim 1xx ones) to its end.
fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    loop {
        let status_line = read_line(r)?;
        let mut parts = status_line.split(' ');
        let version = parts.next().unwrap_or_default();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| invalid(format!("not a status line: {status_line:?}")))?;
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut close = version != "HTTP/1.1";
        loop {
            let line = read_line(r)?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(invalid(format!("not a header line: {line:?}")));
            };
            let value = value.trim().to_ascii_lowercase();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| invalid(format!("bad Content-Length: {value:?}")))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.split(',').any(|t| t.trim() == "chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close |= value.split(',').any(|t| t.trim() == "close");
            }
        }
        match status {
            // A WebSocket now: this connection is done with HTTP.
            101 => {
                return Ok(Reply {
                    status,
                    body: Vec::new(),
                    close: true,
                });
            }
            100..=199 => continue,
            204 | 304 => {
                return Ok(Reply {
                    status,
                    body: Vec::new(),
                    close,
                });
            }
            _ => {}
        }
        let mut body = Vec::new();
        if chunked {
            read_chunked(r, &mut body)?;
        } else if let Some(n) = length {
            read_exact_onto(r, n, &mut body)?;
        } else {
            r.read_to_end(&mut body)?;
            close = true;
        }
        return Ok(Reply {
            status,
            body,
            close,
        });
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((selectors, rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let [method, prefix, content_type, credentials, flags] = *selectors;
    let mut fields = rest.splitn(3, |b| *b == b'\n');
    let suffix = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();

    let h = &*HARNESS;
    let method = METHODS[usize::from(method) % METHODS.len()];
    let credentials = credentials % CREDENTIALS;

    let mut target = h.prefixes[usize::from(prefix) % h.prefixes.len()]
        .as_bytes()
        .to_vec();
    target.extend_from_slice(suffix);
    let mut query = query.to_vec();
    if credentials == 10 {
        if !query.is_empty() {
            query.push(b'&');
        }
        query.extend_from_slice(b"access_token=");
        query.extend_from_slice(h.client.as_bytes());
    }
    if !query.is_empty() {
        target.push(b'?');
        target.extend_from_slice(&query);
    }
    let Ok(uri) = Uri::try_from(target.as_slice()) else {
        return;
    };
    if uri.scheme().is_some() || uri.authority().is_some() {
        return;
    }
    let Some(target) = uri.path_and_query().map(|pq| pq.as_str()) else {
        return;
    };
    if !target.starts_with('/') {
        return;
    }

    let mut headers: Vec<(&str, String)> = Vec::new();
    if let Some(ct) = CONTENT_TYPES[usize::from(content_type) % CONTENT_TYPES.len()] {
        headers.push(("Content-Type", ct.to_owned()));
    }
    match credentials {
        1 => headers.push(bearer(&h.client)),
        2 => headers.push(bearer(&h.support)),
        3 => headers.push(bearer(&h.guest)),
        4 => headers.push(bearer("not-a-jwt")),
        5 => headers.push(bearer(&h.expired)),
        6 => headers.push(bearer(&h.foreign)),
        7 => headers.push(("Authorization", "Basic dXNlcjpwYXNz".into())),
        8 => headers.push(("Cookie", format!("theme=dark; access_token={}", h.client))),
        9 => headers.push(("Cookie", format!("access_token={}", h.support))),
        11 => headers.push((
            "Sec-WebSocket-Protocol",
            format!("quickconnect.v1, bearer.{}", h.client),
        )),
        12 => headers.push((
            "Sec-WebSocket-Protocol",
            format!("quickconnect.v1, bearer.{}", h.support),
        )),
        13 => {
            headers.push(bearer(&h.client));
            headers.push(("Cookie", format!("access_token={}", h.support)));
        }
        // 0: none; 10: in the query string, above.
        _ => {}
    }
    if let Some(origin) = ORIGINS[usize::from(flags & 0b11)] {
        headers.push(("Origin", origin.to_owned()));
    }
    if flags & 0b10_0000 != 0 {
        headers.push(("Origin", "https://evil.example".into()));
    }
    if flags & 0b100 != 0 {
        let site = if flags & 0b1000_0000 != 0 {
            "same-origin"
        } else {
            "cross-site"
        };
        headers.push(("Sec-Fetch-Site", site.into()));
    }
    if flags & 0b1000 != 0 {
        headers.push(("Access-Control-Request-Method", "POST".into()));
    }
    if flags & 0b100_0000 != 0 {
        headers.push(("Connection", "Upgrade".into()));
        headers.push(("Upgrade", "websocket".into()));
        headers.push(("Sec-WebSocket-Version", "13".into()));
        headers.push(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==".into()));
    }
    let chunked = flags & 0b1_0000 != 0;

    let reply = h.send(&encode(method, target, &headers, body, chunked));
    assert!(
        reply.status < 500 || reply.status == 503,
        "{method} {target} answered {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body[..reply.body.len().min(1024)])
    );
});
