//! The real `quickconnect` binary as a child process, for the tests that
//! need the process itself (a SIGKILL, its log output, its CPU time).
//! Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

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
        Self::start_under(&[], dir, env, stderr).await
    }

    /// As [`Server::start`], run under `wrapper` (a command and its
    /// arguments that execs the binary, e.g. `prlimit --nofile=…`).
    pub async fn start_under(
        wrapper: &[&str],
        dir: &Path,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = env!("CARGO_BIN_EXE_quickconnect");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let child = command
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
            // Between two probes of /healthz (its answer is the signal),
            // not a wait for anything.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not answer /healthz");
    }

    /// CPU time the process has used (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc entry");
        // Fields after the command name (which is in parentheses): utime
        // and stime are the 12th and 13th, in clock ticks (100 a second).
        let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
