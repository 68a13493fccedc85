//! `qc-bench`, the project's load generator. It starts the release
//! `quickconnect` binary as a child process (or two nodes sharing PostgreSQL
//! and Redis), drives it over loopback with real sockets, and prints
//! human-readable figures plus one `RESULT key=value …` line per scenario.
//!
//! Scenarios: `texts` (closed loop, W texts in flight per pair), `rate`
//! (open loop at a fixed total rate, latency from the scheduled send time),
//! `typing` (typing indicators, closed loop), `idle` (handshake times and
//! memory per idle connection), `sweep` (`rate` at several loads, one CSV
//! line each, for `bench/plot.py`) and `all` (the first four, in turn).
//! Build the server first: `cargo build --release`. See `qc-bench --help`.

mod idle;
mod pairs;
mod rate;
mod server;
mod stats;
mod texts;
mod track;
mod typing;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use rustix::process::{Resource, getrlimit, setrlimit};

use crate::idle::IdleOpts;
use crate::rate::{RateOpts, SweepOpts};
use crate::server::Setup;
use crate::texts::ClosedLoop;

const USAGE: &str = "\
usage: qc-bench [texts|rate|typing|idle|sweep|all] [flags]   (default: all)

  texts    P pairs (default 100), W texts in flight per pair, --secs (10) after --warmup (1)
  rate     P pairs (default 1000) at --rate texts/s in total (5000) for --secs (20)
  typing   P pairs (default 100), W typing indicators in flight per pair, --secs (10)
  idle     --idle N idle connections (10000), --inflight H handshakes at once (256)
  sweep    rate at each of --rates (1000,2000,5000,10000,20000,50000), --pairs (1000),
           --secs (10) each on a fresh server; CSV lines appended to --csv with --label
  all      texts, rate, typing and idle with their defaults

flags:
  --binary PATH       server binary (target/release/quickconnect)
  --database D        sqlite (a fresh file per run, the default) or postgres://user@host:port
                      (a fresh database qc_bench_<millis> per run, made and dropped with psql)
  --nodes N           1, or 2: clients on node 1, agents on node 2 (needs postgres and --broker)
  --broker URL        redis://127.0.0.1:6379
  --pairs P  --window W (32)  --secs S  --warmup S (1)  --rate R  --rates R1,R2,...
  --idle N  --inflight H  --csv FILE (bench/results.csv)  --label L (new)
";

struct Args {
    command: String,
    setup: Setup,
    pairs: Option<usize>,
    window: usize,
    secs: Option<f64>,
    warmup: f64,
    rate: f64,
    rates: Vec<f64>,
    idle: usize,
    inflight: usize,
    csv: PathBuf,
    label: String,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> anyhow::Result<T> {
    value
        .parse()
        .ok()
        .with_context(|| format!("{flag} wants a number, not {value:?}"))
}

fn seconds(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .with_context(|| format!("{value} is not a number of seconds"))
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        command: "all".into(),
        setup: Setup {
            binary: PathBuf::from("target/release/quickconnect"),
            database: "sqlite".into(),
            nodes: 1,
            broker: "redis://127.0.0.1:6379".into(),
        },
        pairs: None,
        window: 32,
        secs: None,
        warmup: 1.0,
        rate: 5000.0,
        rates: vec![1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0],
        idle: 10_000,
        inflight: 256,
        csv: PathBuf::from("bench/results.csv"),
        label: "new".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        if !arg.starts_with("--") {
            args.command = arg;
            continue;
        }
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--binary" => args.setup.binary = value.into(),
            "--database" => args.setup.database = value,
            "--nodes" => args.setup.nodes = number(&arg, &value)?,
            "--broker" => args.setup.broker = value,
            "--pairs" => args.pairs = Some(number(&arg, &value)?),
            "--window" => args.window = number(&arg, &value)?,
            "--secs" => args.secs = Some(number(&arg, &value)?),
            "--warmup" => args.warmup = number(&arg, &value)?,
            "--rate" => args.rate = number(&arg, &value)?,
            "--rates" => {
                args.rates = value
                    .split(',')
                    .map(|r| number(&arg, r.trim()))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--idle" => args.idle = number(&arg, &value)?,
            "--inflight" => args.inflight = number(&arg, &value)?,
            "--csv" => args.csv = value.into(),
            "--label" => args.label = value,
            other => bail!("unknown flag {other}\n\n{USAGE}"),
        }
    }
    let db = &args.setup.database;
    ensure!(
        db == "sqlite" || db.starts_with("postgres://") || db.starts_with("postgresql://"),
        "--database must be sqlite or postgres://…, not {db:?}"
    );
    ensure!((1..=2).contains(&args.setup.nodes), "--nodes is 1 or 2");
    ensure!(
        args.setup.nodes == 1 || db != "sqlite",
        "--nodes 2 needs --database postgres://… (the nodes share one database)"
    );
    ensure!(
        args.pairs != Some(0) && args.window > 0 && args.idle > 0,
        "--pairs, --window and --idle must be above 0"
    );
    Ok(args)
}

impl Args {
    fn closed_loop(&self) -> anyhow::Result<ClosedLoop> {
        Ok(ClosedLoop {
            pairs: self.pairs.unwrap_or(100),
            window: self.window,
            warmup: seconds(self.warmup)?,
            secs: seconds(self.secs.unwrap_or(10.0))?,
        })
    }

    fn rate_opts(&self) -> anyhow::Result<RateOpts> {
        Ok(RateOpts {
            pairs: self.pairs.unwrap_or(1000),
            rate: self.rate,
            secs: seconds(self.secs.unwrap_or(20.0))?,
        })
    }

    fn sweep_opts(&self) -> anyhow::Result<SweepOpts> {
        Ok(SweepOpts {
            pairs: self.pairs.unwrap_or(1000),
            secs: seconds(self.secs.unwrap_or(10.0))?,
            rates: self.rates.clone(),
            csv: self.csv.clone(),
            label: self.label.clone(),
        })
    }

    fn idle_opts(&self) -> IdleOpts {
        IdleOpts {
            count: self.idle,
            handshakes: self.inflight,
        }
    }
}

/// Raises this process's open-file soft limit to its hard limit; the
/// servers it starts inherit it.
fn raise_open_file_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let shown = match limit.current {
        Some(n) => n.to_string(),
        None => "unlimited".to_owned(),
    };
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => println!("open-file limit: {shown}"),
        Err(e) => eprintln!("warning: cannot raise the open-file limit to {shown}: {e}"),
    }
}

async fn run_scenario(args: &Args, scenario: &str) -> anyhow::Result<()> {
    match scenario {
        "texts" => texts::run(&args.setup, args.closed_loop()?).await?,
        "typing" => typing::run(&args.setup, args.closed_loop()?).await?,
        "rate" => rate::run(&args.setup, args.rate_opts()?).await?,
        "idle" => idle::run(&args.setup, args.idle_opts()).await?,
        "sweep" => rate::sweep(&args.setup, &args.sweep_opts()?).await?,
        other => bail!("unknown scenario {other:?}\n\n{USAGE}"),
    }
    println!();
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    raise_open_file_limit();
    let setup = &args.setup;
    println!("server binary: {}", setup.binary.display());
    if setup.database == "sqlite" {
        println!("database: SQLite, a fresh file in a temporary directory per run");
    } else {
        println!(
            "database: PostgreSQL at {}, a fresh database qc_bench_<unix millis> per run",
            setup.database
        );
    }
    if setup.nodes > 1 {
        println!(
            "nodes: {} sharing the database, broker {}; clients on node 1, agents on node {}",
            setup.nodes, setup.broker, setup.nodes
        );
    }
    if args.command == "all" {
        for scenario in ["texts", "rate", "typing", "idle"] {
            run_scenario(&args, scenario).await?;
        }
    } else {
        run_scenario(&args, &args.command).await?;
    }
    Ok(())
}
