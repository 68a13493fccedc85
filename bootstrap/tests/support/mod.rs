//! The real `quickconnect` binary as a child process, for the tests that
//! need the process itself (a SIGKILL, its log output).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server; dropping it kills the process (SIGKILL).
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary in `dir` on a free loopback port with `env`, and
    /// waits until `/healthz` answers.
    pub async fn start(dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_quickconnect"))
            .current_dir(dir)
            .env("QC_BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the quickconnect binary starts");
        let server = Self { child, port };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not answer /healthz");
    }
}
