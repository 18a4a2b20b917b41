//! `commonplace-load`: holds idle clients and measures fan-out on our signaling server and on
//! y-webrtc's `bin/server.js`, side by side, in one run; our server also as two instances on one
//! Redis. Loopback only, bounded in time and in clients. `scripts/load` builds and runs it.
//!
//! Prints a table to stdout (and writes it to `target/load/latest.txt`). Exits 1 if a server
//! crashed, a publish reached another topic or arrived out of its sender's order, or one was
//! lost (or a client dropped) at a fixed, non-saturating rate; never on speed.

mod clients;
mod procs;

use clap::Parser;
use clients::{Fanout, FanoutSpec, Idle, Pace, Target};
use procs::Proc;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Ours with its rate limits raised, for the saturating runs.
const RAISED: [&str; 6] = [
    "--client-rate",
    "1GiB",
    "--client-burst",
    "1GiB",
    "--client-queue",
    "64MiB",
];
const DEFAULTS: &str = "--client-rate 1MiB --client-burst 4MiB --client-queue 8MiB";
/// Padding in each publish's data: frames of about 310 bytes, a small signaling message.
const PAD: usize = 200;

struct Budget {
    idle: Vec<usize>,
    hold: Duration,
    warmup: Duration,
    measure: Duration,
}

/// Holds idle clients and measures fan-out on our signaling server and on y-webrtc's
/// bin/server.js, side by side; ours also as two instances on one Redis. Loopback only. Without
/// --full: the CI budget (1k and 5k idle clients, 3 s measured per fan-out run).
#[derive(Parser)]
#[command(name = "commonplace-load")]
struct Args {
    /// 10k idle clients held 35 s (every client answers the servers' 30 s pings), 10 s measured
    /// per fan-out run.
    #[arg(long, env = "COMMONPLACE_LOAD_FULL", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    full: bool,
    /// The repository (for y-webrtc's bin/server.js in node_modules).
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
    repo: PathBuf,
    /// Our server's binary [default: REPO/target/release/commonplace-server].
    #[arg(long, value_name = "BINARY")]
    server: Option<PathBuf>,
    /// Where the table is written too [default: REPO/target/load/latest.txt].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Only these fan-out columns (all if not given).
    #[arg(long, value_delimiter = ',', value_parser = ["y-webrtc", "ours", "ours-raised", "redis", "redis-raised"])]
    only: Vec<String>,
    /// Skip the idle-clients runs.
    #[arg(long)]
    no_idle: bool,
}

impl Args {
    fn server(&self) -> PathBuf {
        self.server
            .clone()
            .unwrap_or_else(|| self.repo.join("target/release/commonplace-server"))
    }

    fn out(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| self.repo.join("target/load/latest.txt"))
    }
}

/// The servers under test, as one fan-out column.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    YWebrtc,
    Ours,
    OursRaised,
    Redis,
    RedisRaised,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::YWebrtc,
        Variant::Ours,
        Variant::OursRaised,
        Variant::Redis,
        Variant::RedisRaised,
    ];

    fn title(self) -> &'static str {
        match self {
            Variant::YWebrtc => "y-webrtc",
            Variant::Ours => "ours",
            Variant::OursRaised => "ours raised",
            Variant::Redis => "ours 2×Redis",
            Variant::RedisRaised => "2×Redis raised",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Variant::YWebrtc => "y-webrtc",
            Variant::Ours => "ours",
            Variant::OursRaised => "ours-raised",
            Variant::Redis => "redis",
            Variant::RedisRaised => "redis-raised",
        }
    }

    fn raised(self) -> bool {
        matches!(self, Variant::OursRaised | Variant::RedisRaised)
    }
}

/// What runs: the servers of one variant, and Redis if they share one.
struct Running {
    servers: Vec<Proc>,
    redis: Option<Proc>,
}

impl Running {
    fn start(args: &Args, variant: Variant) -> Result<Running, String> {
        let extra: Vec<String> = if variant.raised() {
            RAISED.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        Ok(match variant {
            Variant::YWebrtc => Running {
                servers: vec![Proc::y_webrtc(&args.repo)?],
                redis: None,
            },
            Variant::Ours | Variant::OursRaised => Running {
                servers: vec![Proc::ours(&args.server(), "ours", None, &extra)?],
                redis: None,
            },
            Variant::Redis | Variant::RedisRaised => {
                let redis = Proc::redis()?;
                let url = redis.redis_url();
                Running {
                    servers: vec![
                        Proc::ours(&args.server(), "ours-a", Some(&url), &extra)?,
                        Proc::ours(&args.server(), "ours-b", Some(&url), &extra)?,
                    ],
                    redis: Some(redis),
                }
            }
        })
    }

    fn target(&self, variant: Variant) -> Target {
        Target {
            addrs: self.servers.iter().map(|s| s.addr).collect(),
            path: if variant == Variant::YWebrtc {
                "/"
            } else {
                "/signal"
            },
        }
    }

    fn check_alive(&mut self) -> Result<(), String> {
        for server in self.servers.iter_mut().chain(self.redis.as_mut()) {
            server.check_alive()?;
        }
        Ok(())
    }
}

struct Scenario {
    name: &'static str,
    topics: usize,
    per_topic: usize,
    pace: Pace,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "1 topic × 50, 200 publishes/s",
        topics: 1,
        per_topic: 50,
        pace: Pace::Rate(200.0),
    },
    Scenario {
        name: "1 topic × 50, saturating",
        topics: 1,
        per_topic: 50,
        pace: Pace::Closed,
    },
    Scenario {
        name: "500 topics × 4, 4 publishes/s each",
        topics: 500,
        per_topic: 4,
        pace: Pace::Rate(4.0),
    },
    Scenario {
        name: "500 topics × 4, saturating",
        topics: 500,
        per_topic: 4,
        pace: Pace::Closed,
    },
];

/// A line of the table: its name, and how to print one result in it.
type Row<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

fn saturating(scenario: &Scenario) -> bool {
    matches!(scenario.pace, Pace::Closed)
}

/// Starts `variant`'s servers; a failure to start goes into `report`. Ours says how many
/// connections it takes at once, noted in `max_connections`.
fn start(
    args: &Args,
    variant: Variant,
    report: &mut Report,
    max_connections: &mut String,
) -> Option<Running> {
    let running = match Running::start(args, variant) {
        Ok(running) => running,
        Err(e) => {
            report.failures.push(e);
            return None;
        }
    };
    if variant == Variant::Ours {
        if let Some(max) = running.servers[0].log_field("connections open at once at most", "max=")
        {
            *max_connections = max;
        }
    }
    Some(running)
}

/// Output and failures, collected as the run goes.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    notes: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(run(args));
    std::process::exit(code);
}

async fn run(args: Args) -> i32 {
    let started = Instant::now();
    let budget = if args.full {
        Budget {
            idle: vec![1000, 5000, 10_000],
            hold: Duration::from_secs(35),
            warmup: Duration::from_secs(2),
            measure: Duration::from_secs(10),
        }
    } else {
        Budget {
            idle: vec![1000, 5000],
            hold: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(3),
        }
    };
    let files = procs::raise_open_files(65_536);
    let load_at_start = procs::load_average();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut report = Report::default();
    let mut out = String::new();

    // The idle clients: a fresh server for each count, ours with its defaults.
    let mut idle: Vec<(usize, Option<Idle>, Option<Idle>)> = Vec::new();
    let mut max_connections = String::from("?");
    let counts: &[usize] = if args.no_idle { &[] } else { &budget.idle };
    for &n in counts {
        let mut row = (n, None, None);
        for variant in [Variant::Ours, Variant::YWebrtc] {
            eprintln!("load: {n} idle clients on {}", variant.title());
            let Some(mut running) = start(&args, variant, &mut report, &mut max_connections) else {
                continue;
            };
            let pid = running.servers[0].pid();
            let result = clients::idle(&running.target(variant), n, budget.hold, pid).await;
            if let Err(e) = running.check_alive() {
                report.failures.push(format!("{n} idle clients: {e}"));
            }
            if result.held < n {
                let why = result.first_error.clone().unwrap_or_default();
                let line = format!(
                    "{n} idle clients on {}: {} held ({why})",
                    variant.title(),
                    result.held
                );
                if variant == Variant::Ours
                    && max_connections.parse().is_ok_and(|max: usize| n <= max)
                {
                    report.failures.push(line);
                } else {
                    report.notes.push(line);
                }
            }
            if variant == Variant::Ours {
                row.1 = Some(result);
            } else {
                row.2 = Some(result);
            }
        }
        idle.push(row);
    }

    // Fan-out: each variant's servers started once, the scenarios run one after another.
    let spec = |scenario: &Scenario| FanoutSpec {
        topics: scenario.topics,
        per_topic: scenario.per_topic,
        pace: scenario.pace,
        warmup: budget.warmup,
        measure: budget.measure,
        pad: PAD,
    };
    let mut fanout: Vec<Vec<Option<Fanout>>> = SCENARIOS
        .iter()
        .map(|_| vec![None, None, None, None, None])
        .collect();
    for (v, variant) in Variant::ALL.into_iter().enumerate() {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == variant.flag()) {
            continue;
        }
        let Some(mut running) = start(&args, variant, &mut report, &mut max_connections) else {
            continue;
        };
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            // Raised limits matter only where the defaults could bind: the saturating runs.
            if variant.raised() && !saturating(scenario) {
                continue;
            }
            eprintln!("load: {} on {}", scenario.name, variant.title());
            let pids: Vec<u32> = running.servers.iter().map(Proc::pid).collect();
            let redis = running.redis.as_ref().map(Proc::pid);
            let result =
                clients::fanout(&running.target(variant), &spec(scenario), &pids, redis).await;
            let what = format!("{} on {}", scenario.name, variant.title());
            if let Err(e) = running.check_alive() {
                report.failures.push(format!("{what}: {e}"));
            }
            if result.crossed > 0 {
                report.failures.push(format!(
                    "{what}: {} publishes reached another topic",
                    result.crossed
                ));
            }
            if result.reordered > 0 {
                report.failures.push(format!(
                    "{what}: {} publishes out of their sender's order",
                    result.reordered
                ));
            }
            let trouble = result.joined < result.clients || result.lost > 0 || result.dropped > 0;
            if trouble {
                let line = format!(
                    "{what}: {}/{} joined, {} deliveries lost, {} clients dropped ({})",
                    result.joined,
                    result.clients,
                    result.lost,
                    result.dropped,
                    result.first_error.clone().unwrap_or_default()
                );
                if saturating(scenario) {
                    report.notes.push(line);
                } else {
                    report.failures.push(line);
                }
            }
            fanout[s][v] = Some(result);
            // Let the servers see the clients go before the next scenario.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let load_at_end = procs::load_average();
    let elapsed = started.elapsed().as_secs();
    let _ = writeln!(
        out,
        "Commonplace load test, {} ({} s; loopback; scripts/load{})",
        if args.full { "full" } else { "CI budget" },
        elapsed,
        if args.full {
            " --full"
        } else {
            "; --full for 10k clients and longer runs"
        },
    );
    let _ = writeln!(
        out,
        "machine: {cores} cores, load average {load_at_start} at start, {load_at_end} at end{}",
        if load_at_start
            .split(' ')
            .next()
            .and_then(|l| l.parse::<f64>().ok())
            .is_some_and(|l| l > 0.5 * cores as f64)
        {
            " (busy: figures are noisy)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "open files {files} (tool and servers); ours: --max-connections {max_connections} (its default under this limit), {DEFAULTS} unless \"raised\": {}",
        RAISED.join(" ")
    );
    let _ = writeln!(
        out,
        "y-webrtc: node node_modules/y-webrtc/bin/server.js ({})",
        node_version()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "IDLE CLIENTS (topics of 4; held {} s, then each answers a signaling ping)   {:>18} {:>18}",
        budget.hold.as_secs(),
        "ours",
        "y-webrtc"
    );
    for (n, ours, theirs) in &idle {
        let cell =
            |r: &Option<Idle>, f: &dyn Fn(&Idle) -> String| r.as_ref().map_or("-".to_owned(), f);
        let rows: [Row<Idle>; 4] = [
            ("joined, held", &|r| {
                format!("{}, {}/{}", r.joined, r.held, r.wanted)
            }),
            ("RSS per connection", &|r| {
                format!(
                    "{:.1} KiB",
                    r.rss_after_kib.saturating_sub(r.rss_before_kib) as f64 / r.wanted as f64
                )
            }),
            ("RSS before → after", &|r| {
                format!("{}→{} MiB", r.rss_before_kib / 1024, r.rss_after_kib / 1024)
            }),
            ("connect all; pings answered", &|r| {
                format!("{:.1} s; {}", r.connect_secs, r.pings)
            }),
        ];
        for (name, f) in rows {
            let _ = writeln!(
                out,
                "  {:>6} clients: {:<58} {:>18} {:>18}",
                n,
                name,
                cell(ours, f),
                cell(theirs, f)
            );
        }
    }
    let _ = writeln!(out);
    let _ = write!(
        out,
        "FAN-OUT (publishes of ~{} bytes; {} s warm-up, {} s measured)",
        PAD + 110,
        budget.warmup.as_secs(),
        budget.measure.as_secs()
    );
    for variant in Variant::ALL {
        let _ = write!(out, " {:>15}", variant.title());
    }
    let _ = writeln!(out);
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let _ = writeln!(out, "  {}", scenario.name);
        let rows: [Row<Fanout>; 5] = [
            ("delivered/s", &|r| format!("{:.0}", r.delivered_per_sec)),
            ("publishes/s", &|r| format!("{:.0}", r.published_per_sec)),
            ("latency p50 / p99 ms", &|r| {
                format!(
                    "{:.2} / {:.1}",
                    r.p50_us as f64 / 1000.0,
                    r.p99_us as f64 / 1000.0
                )
            }),
            ("CPU % server / tool", &|r| {
                if r.redis_cpu > 0.0 {
                    format!(
                        "{:.0}+{:.0}r / {:.0}",
                        r.server_cpu, r.redis_cpu, r.tool_cpu
                    )
                } else {
                    format!("{:.0} / {:.0}", r.server_cpu, r.tool_cpu)
                }
            }),
            ("lost / dropped", &|r| {
                if r.joined < r.clients {
                    format!("{}/{} joined", r.joined, r.clients)
                } else {
                    format!("{} / {}", r.lost, r.dropped)
                }
            }),
        ];
        for (name, f) in rows {
            let _ = write!(out, "    {:<63}", name);
            for result in &fanout[s] {
                let cell = result.as_ref().map_or("-".to_owned(), f);
                let _ = write!(out, " {cell:>15}");
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(
        out,
        "  (CPU: % of one core over the measured window; \"+Nr\": Redis; lost/dropped: deliveries never received, clients closed)"
    );
    for note in &report.notes {
        let _ = writeln!(out, "NOTE {note}");
    }
    for failure in &report.failures {
        let _ = writeln!(out, "FAILED {failure}");
    }
    print!("{out}");
    let out_file = args.out();
    if let Some(dir) = out_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out_file, &out) {
        eprintln!("load: could not write {}: {e}", out_file.display());
    }
    if report.failures.is_empty() {
        0
    } else {
        1
    }
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or("node ?".into(), |v| format!("node {}", v.trim()))
}
