//! Starting and stopping the release `quickconnect` binary as child
//! processes: one node on a fresh SQLite file or PostgreSQL database, or two
//! nodes sharing PostgreSQL and Redis. Also the readings taken from
//! `/proc/<pid>` (CPU time, resident memory) and from `GET /metrics`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::pairs::SECRET;

/// Clock ticks per second in `/proc/<pid>/stat` (`getconf CLK_TCK`).
pub const CLK_TCK: u64 = 100;

/// Every limit that would throttle the load generator, turned off. The
/// server reads its `QC_` variables with serde and no `deny_unknown_fields`
/// (`bootstrap/src/settings.rs`), so a build that lacks one of these settings
/// ignores it; all are passed, and each applies wherever it exists.
const LIMITS_OFF: &[(&str, &str)] = &[
    ("QC_WS_RATE_PER_SEC", "0"),
    ("QC_USER_RATE_PER_SEC", "0"),
    ("QC_HTTP_RATE_PER_SEC", "0"),
    ("QC_WS_MAX_PER_USER", "100000"),
    ("QC_MAX_OPEN_CONVERSATIONS", "100000"),
];

/// Which servers to start, and on what.
#[derive(Debug, Clone)]
pub struct Setup {
    pub binary: PathBuf,
    /// `sqlite`, or a PostgreSQL server URL without a database name.
    pub database: String,
    pub nodes: usize,
    pub broker: String,
}

impl Setup {
    /// `db=sqlite nodes=1` for the `RESULT` lines.
    pub fn kv(&self) -> String {
        let db = if self.database == "sqlite" {
            "sqlite"
        } else {
            "postgres"
        };
        format!("db={db} nodes={}", self.nodes)
    }
}

/// One running server.
pub struct Node {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub base: String,
    pub pid: u32,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database created for one deployment, dropped with it.
struct PgDatabase {
    server: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // The servers are gone by now; PostgreSQL waits a few seconds for
        // their sessions to end. FORCE (PostgreSQL 13+) is the fallback.
        let plain = format!("DROP DATABASE IF EXISTS {}", self.name);
        if psql(&self.server, &plain).is_err() {
            let forced = format!("{plain} WITH (FORCE)");
            if let Err(e) = psql(&self.server, &forced) {
                eprintln!("warning: could not drop database {}: {e:#}", self.name);
            }
        }
    }
}

/// The servers of one scenario run, and their database. Dropping it kills
/// the servers, then drops the database, then deletes the temporary
/// directory (fields drop in declaration order).
pub struct Deployment {
    pub nodes: Vec<Node>,
    _pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// Starts `setup.nodes` servers one after the other (the first applies
    /// the migrations), each answering `GET /healthz` before the next starts.
    pub async fn start(setup: &Setup) -> anyhow::Result<Self> {
        let binary = match std::fs::canonicalize(&setup.binary) {
            Ok(path) => path,
            Err(e) => bail!(
                "no server binary at {} ({e}); run `cargo build --release` first",
                setup.binary.display()
            ),
        };
        let dir = tempfile::tempdir()?;
        let stamp = chrono::Utc::now().timestamp_millis();
        let (url, pg) = if setup.database == "sqlite" {
            let file = dir.path().join("bench.db");
            (format!("sqlite://{}?mode=rwc", file.display()), None)
        } else {
            let server = setup.database.trim_end_matches('/').to_owned();
            let name = format!("qc_bench_{stamp}");
            psql(&server, &format!("CREATE DATABASE {name}"))?;
            let url = format!("{server}/{name}");
            (url, Some(PgDatabase { server, name }))
        };
        let prefix = format!("qcbench{stamp}");
        let http = reqwest::Client::new();
        let mut nodes: Vec<Node> = Vec::with_capacity(setup.nodes);
        for _ in 0..setup.nodes {
            let mut cmd = Command::new(&binary);
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let base = format!("127.0.0.1:{port}");
            cmd.current_dir(dir.path())
                .env("QC_BIND", base.as_str())
                .env("QC_DATABASE_URL", url.as_str())
                .env("QC_JWT_SECRET", SECRET)
                .env("QC_LOG", "warn")
                .envs(LIMITS_OFF.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            if setup.nodes > 1 {
                cmd.env("QC_BROKER_URL", setup.broker.as_str())
                    .env("QC_BROKER_PREFIX", prefix.as_str());
            }
            let child = cmd
                .spawn()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            let pid = child.id();
            let mut node = Node { child, base, pid };
            wait_ready(&mut node, &http).await?;
            nodes.push(node);
        }
        Ok(Self {
            nodes,
            _pg: pg,
            _dir: dir,
        })
    }

    /// Where clients connect: node 1.
    pub fn client_base(&self) -> &str {
        &self.nodes[0].base
    }

    /// Where agents connect: the last node (node 2 of two).
    pub fn agent_base(&self) -> &str {
        &self.nodes[self.nodes.len() - 1].base
    }

    /// CPU ticks (user + system) of every node so far.
    pub fn cpu(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| cpu_ticks(n.pid).unwrap_or(0))
            .collect()
    }

    /// Resident memory of every node, KiB.
    pub fn rss(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| rss_kib(n.pid).unwrap_or(0))
            .collect()
    }

    /// With several nodes, prints every `qc_broker*` / `qc_transport*` line
    /// of each node's `GET /metrics`.
    pub async fn print_metrics(&self) {
        if self.nodes.len() < 2 {
            return;
        }
        let http = reqwest::Client::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let url = format!("http://{}/metrics", node.base);
            let body = match http.get(url).send().await {
                Ok(resp) => resp.text().await.unwrap_or_default(),
                Err(e) => {
                    eprintln!("  node {}: GET /metrics failed: {e}", i + 1);
                    continue;
                }
            };
            println!("  node {} metrics:", i + 1);
            for line in body.lines() {
                if line.starts_with("qc_broker") || line.starts_with("qc_transport") {
                    println!("    {line}");
                }
            }
        }
    }
}

/// CPU used per item, µs, one figure per node, from tick deltas.
pub fn cpu_per_item(before: &[u64], after: &[u64], items: u64) -> Vec<f64> {
    let us_per_tick = (1_000_000 / CLK_TCK) as f64;
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.saturating_sub(*b) as f64 * us_per_tick / items.max(1) as f64)
        .collect()
}

async fn wait_ready(node: &mut Node, http: &reqwest::Client) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", node.base);
    for _ in 0..400 {
        if let Some(status) = node.child.try_wait()? {
            bail!("the server exited at start ({status})");
        }
        let ready = http
            .get(url.as_str())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server at {} was not ready within 20 s", node.base)
}

/// Runs one statement with `psql <server>/test`.
fn psql(server: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .arg(format!("{server}/test"))
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql")?;
    ensure!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// User plus system CPU time of a process, in clock ticks: fields 14 and 15
/// of `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; count from after it.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Resident set size of a process, KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}
