//! The real binary under untrusted traffic, measured on its own process:
//! at its connection cap (CONTRACT §1 `QC_MAX_CONNECTIONS`), or out of file
//! descriptors, the server waits without spinning and serves again as soon
//! as sockets close; a huge body without a token costs it no memory.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::Server;
use tokio::net::TcpStream;

const SECRET: &str = "accept-test-secret-0123456789abcdef";

async fn healthz(server: &Server, timeout: Duration) -> bool {
    reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(timeout)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn hold(server: &Server, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(
            TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap(),
        );
    }
    held
}

/// CPU the server uses over `d` while nothing can be served. No signal
/// exists: the property is work not done while time passes, so the window
/// is the clock's (and what is measured is CPU time, not the window).
async fn cpu_over(server: &Server, d: Duration) -> Duration {
    let before = server.cpu_time();
    tokio::time::sleep(d).await;
    server.cpu_time() - before
}

/// Asks `/healthz` until it is answered 200 (the answer is the signal); a
/// hang guard ends the attempts.
async fn served_again(server: &Server) -> bool {
    let asking = async {
        while !healthz(server, Duration::from_secs(1)).await {
            // Between two attempts, not a wait for anything.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), asking)
        .await
        .is_ok()
}

#[tokio::test]
async fn at_the_connection_cap_the_server_idles_and_answers_again_once_sockets_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("QC_JWT_SECRET", SECRET),
            ("QC_MAX_CONNECTIONS", "50"),
            ("QC_HTTP_HEADER_TIMEOUT_SECS", "120"),
        ],
        Stdio::null(),
    )
    .await;
    // The readiness probe's keep-alive connection is closed by now (its
    // client is gone); 50 silent sockets take every place. No signal
    // exists for "not served": the server does nothing with a connection
    // it has not accepted, so only time passing shows it.
    let mut held = hold(&server, 50).await;
    assert!(
        !healthz(&server, Duration::from_millis(500)).await,
        "served past the cap"
    );
    let used = cpu_over(&server, Duration::from_secs(2)).await;
    assert!(
        used <= Duration::from_millis(100),
        "{used:?} of CPU in 2 s while capped"
    );
    held.truncate(40);
    assert!(served_again(&server).await, "served once sockets closed");
}

#[tokio::test]
async fn out_of_file_descriptors_the_server_backs_off_logs_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    // 96 descriptors, and a connection cap above that: accept() itself
    // fails with EMFILE.
    let server = Server::start_under(
        &["prlimit", "--nofile=96:96"],
        dir.path(),
        &[
            ("QC_JWT_SECRET", SECRET),
            ("QC_MAX_CONNECTIONS", "10000"),
            ("QC_HTTP_HEADER_TIMEOUT_SECS", "120"),
        ],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    )
    .await;
    let out_of_descriptors = std::time::Instant::now();
    let mut held = hold(&server, 120).await;
    // No signal exists for "not served" (see above).
    assert!(
        !healthz(&server, Duration::from_millis(500)).await,
        "served with no descriptor left"
    );
    let used = cpu_over(&server, Duration::from_secs(2)).await;
    assert!(
        used <= Duration::from_millis(200),
        "{used:?} of CPU in 2 s out of descriptors"
    );
    held.clear();
    assert!(
        served_again(&server).await,
        "served again once descriptors were freed"
    );
    // At most one warning a second of the time it was out of descriptors
    // (measured to bound the count: a slow run only loosens it).
    let most = out_of_descriptors.elapsed().as_secs() as usize + 1;
    let text = std::fs::read_to_string(&log).unwrap();
    let warnings = text.matches("out of file descriptors").count();
    assert!(
        (1..=most).contains(&warnings),
        "{warnings} warnings (at most one a second, {most} here): {text}"
    );
}

/// Resident memory of the server process, in KiB.
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_50_mb_body_without_a_token_gets_413_and_the_server_grows_by_less_than_5_mb() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("QC_JWT_SECRET", SECRET)], Stdio::null()).await;
    let before = rss_kib(&server);
    let mut lines = Vec::new();
    for chunked in [false, true] {
        let stream = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let (read, mut write) = stream.into_split();
        let head = if chunked {
            "POST /conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
                .to_owned()
        } else {
            "POST /conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 52428800\r\n\r\n"
                .to_owned()
        };
        write.write_all(head.as_bytes()).await.unwrap();
        let sender = tokio::spawn(async move {
            let chunk = vec![b'['; 64 * 1024];
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            for _ in 0..800 {
                let piece = if chunked { &framed } else { &chunk };
                if write.write_all(piece).await.is_err() {
                    return;
                }
            }
        });
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await.unwrap();
        sender.abort();
        lines.push(line);
    }
    let grown = rss_kib(&server).saturating_sub(before);
    for line in &lines {
        assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    }
    assert!(grown < 5 * 1024, "the server grew by {grown} KiB");
}
