//! `commonplace-server`: serves the built app and relays signaling until Ctrl-C or SIGTERM.

use clap::Parser;
use commonplace_protocol::hub::DEFAULT_MAX_TOPICS;
use commonplace_server::fanout::RedisFanout;
use commonplace_server::ice::{IceConfig, TurnAuth};
use commonplace_server::listen::{tls_acceptor, url, DEFAULT_MAX_CONNECTIONS};
use commonplace_server::store::quota::{self, Quota};
use commonplace_server::store::redis::RedisStore;
use commonplace_server::store::sqlite::SqliteStore;
use commonplace_server::store::{StoreBackend, StoreOptions};
use commonplace_server::{serve, Options};
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

/// Serves the Commonplace app and relays its signaling at /signal, and keeps rooms'
/// end-to-end encrypted stores under /store/ (ciphertext: it never sees a notebook).
///
/// Every flag can also be given as an environment variable (shown with each flag); a flag
/// wins over its variable. Lists (--stun, --turn) take the flag more than once, or a
/// comma-separated variable. Logs go to stderr; RUST_LOG sets their filter (default info).
#[derive(Parser, Debug, PartialEq)]
// A flag given twice: the last one counts (scripts and wrappers add to a command line); the
// repeatable ones (--stun, --turn) collect every value.
#[command(name = "commonplace-server", version, args_override_self = true)]
struct Args {
    /// TCP port to listen on; 0 picks a free one.
    #[arg(long, env = "COMMONPLACE_PORT", default_value_t = 8080)]
    port: u16,
    /// IP address to listen on; 0.0.0.0 for every interface.
    #[arg(long, env = "COMMONPLACE_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The built app (Trunk's output).
    #[arg(long, env = "COMMONPLACE_DIST", default_value = "dist")]
    dist: PathBuf,
    /// A STUN server the app uses to find its public address, e.g. stun:stun.example.org:3478.
    /// Without --stun or --turn the app uses none: peers meet on loopback and LANs only.
    #[arg(
        long = "stun",
        value_name = "URL",
        env = "COMMONPLACE_STUN",
        value_delimiter = ','
    )]
    stun: Vec<String>,
    /// A TURN server that relays between peers no direct path joins, e.g.
    /// turn:turn.example.org:3478?transport=udp or turns:turn.example.org:5349?transport=tcp.
    /// Needs --turn-secret, or --turn-user and --turn-pass.
    #[arg(
        long = "turn",
        value_name = "URL",
        env = "COMMONPLACE_TURN",
        value_delimiter = ','
    )]
    turn: Vec<String>,
    /// coturn's static-auth-secret (use-auth-secret): the app gets credentials made from it
    /// that expire after --turn-ttl. Prefer the environment variable: flags show in `ps`.
    #[arg(long, value_name = "SECRET", env = "COMMONPLACE_TURN_SECRET", hide_env_values = true,
          conflicts_with_all = ["turn_user", "turn_pass"])]
    turn_secret: Option<String>,
    /// A static TURN username (with --turn-pass), handed to every app as it is.
    #[arg(
        long,
        value_name = "USER",
        env = "COMMONPLACE_TURN_USER",
        requires = "turn_pass"
    )]
    turn_user: Option<String>,
    #[arg(
        long,
        value_name = "PASS",
        env = "COMMONPLACE_TURN_PASS",
        hide_env_values = true,
        requires = "turn_user"
    )]
    turn_pass: Option<String>,
    /// How long credentials made with --turn-secret last: 12h, 90m or 3600s.
    #[arg(long, value_name = "DURATION", env = "COMMONPLACE_TURN_TTL", default_value = "12h",
          value_parser = parse_duration)]
    turn_ttl: Duration,
    /// Serve HTTPS and WSS with this certificate chain (PEM), so phones and other machines
    /// get a secure context (offline app, install, clipboard). Needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "COMMONPLACE_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(
        long,
        value_name = "FILE",
        env = "COMMONPLACE_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Bytes per second each connection may send (plain bytes, or with KiB or MiB). A client
    /// sending more, e.g. relaying a notebook to a peer no direct path reaches, is read from
    /// only this fast: slowed down, not cut off, while everyone else is served as usual. A
    /// publish counts once for every other connection it reaches (what the server writes for
    /// it), so a burst into a busy room slows its sender, not the room's readers.
    #[arg(long, value_name = "BYTES_PER_SEC", env = "COMMONPLACE_CLIENT_RATE",
          default_value = "1MiB", value_parser = parse_positive_bytes)]
    client_rate: u64,
    /// Bytes a connection may send at once before --client-rate applies.
    #[arg(long, value_name = "BYTES", env = "COMMONPLACE_CLIENT_BURST",
          default_value = "4MiB", value_parser = parse_bytes)]
    client_burst: u64,
    /// Bytes waiting to be sent to one connection; a client that reads so slowly that more
    /// pile up is disconnected (close code 1008, "reading too slowly").
    #[arg(long, value_name = "BYTES", env = "COMMONPLACE_CLIENT_QUEUE",
          default_value = "8MiB", value_parser = parse_positive_bytes)]
    client_queue: u64,
    /// How long a client may take to send its request headers (and to finish a TLS
    /// handshake): slow or unfinished requests (slowloris) are closed after it, and so is a
    /// keep-alive connection idle that long. 10s, 1m or plain seconds.
    #[arg(long, value_name = "DURATION", env = "COMMONPLACE_HEADER_TIMEOUT",
          default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Connections open at once, WebSockets included. Past it a new connection is answered
    /// 503 and closed (over TLS, closed) while the open ones go on. Default: 10000, or fewer
    /// if the open-files limit is lower (the limit less 128); the server first raises its soft
    /// limit to the hard one.
    #[arg(long, value_name = "N", env = "COMMONPLACE_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Signaling topics (rooms with someone in them) held at once, all connections together;
    /// each connection holds at most 64. Past it, a subscribe that would create a topic is
    /// refused (and counted), while joining a room that exists still works. The default bounds
    /// what filling every connection with topics could take (about 120 MB at the longest
    /// names) at five times what 10,000 browsers use.
    #[arg(long, value_name = "N", env = "COMMONPLACE_MAX_TOPICS",
          default_value_t = DEFAULT_MAX_TOPICS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_topics: u64,
    /// The folder of the encrypted store: DIR/store.sqlite3 and its companions. Created if
    /// missing; the server refuses to start (and changes nothing) if the database in it is
    /// missing, damaged, or in use by another server. Not used with --redis.
    #[arg(
        long,
        value_name = "DIR",
        env = "COMMONPLACE_DATA",
        default_value = "data"
    )]
    data: PathBuf,
    /// Keep no store: no database is opened, and /store/ answers 503.
    #[arg(long, env = "COMMONPLACE_NO_STORE")]
    no_store: bool,
    /// Keep the store in Redis instead of --data, e.g. redis://127.0.0.1:6379/0 (a password:
    /// redis://:PASSWORD@host:6379/0; prefer the environment variable then), and share
    /// signaling through it. Every server started on the same Redis serves the same stores, and
    /// a publish on one reaches the topic's subscribers on all. Redis should run with appendonly
    /// yes and appendfsync always (the server warns otherwise). The server refuses to start if
    /// Redis cannot be reached; if it is lost later, store requests get 503 and publishes reach
    /// this server's own clients only, until it is back.
    #[arg(
        long,
        value_name = "URL",
        env = "COMMONPLACE_REDIS",
        hide_env_values = true,
        conflicts_with = "no_store"
    )]
    redis: Option<String>,
    /// Bytes one store may hold, records and snapshot together. Over it, appends are refused
    /// (507) until a snapshot makes room.
    #[arg(long, value_name = "BYTES", env = "COMMONPLACE_STORE_QUOTA",
          default_value = "64MiB", value_parser = parse_positive_bytes)]
    store_quota: u64,
    /// Records one store may hold at once (a snapshot's covered records no longer count).
    #[arg(long, value_name = "N", env = "COMMONPLACE_STORE_MAX_RECORDS",
          default_value_t = quota::DEFAULT_MAX_RECORDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    store_max_records: u64,
    /// The largest record accepted (413 over it).
    #[arg(long, value_name = "BYTES", env = "COMMONPLACE_STORE_MAX_RECORD",
          default_value = "256KiB", value_parser = parse_record_bytes)]
    store_max_record: u64,
    /// Bytes per second of store writes each client (IP address; IPv6 /64) may send; over it,
    /// 429 with Retry-After. Each write costs its body and 1 KiB.
    #[arg(long, value_name = "BYTES_PER_SEC", env = "COMMONPLACE_STORE_RATE",
          default_value = "1MiB", value_parser = parse_positive_bytes)]
    store_rate: u64,
    /// Bytes of store writes a client may send at once before --store-rate applies.
    #[arg(long, value_name = "BYTES", env = "COMMONPLACE_STORE_BURST",
          default_value = "16MiB", value_parser = parse_bytes)]
    store_burst: u64,
    /// Serve GET /metrics: counters and gauges in Prometheus's text format, on the same
    /// address as the app. It asks for no password: reach it over loopback or a private
    /// network, and have a reverse proxy that forwards every path refuse /metrics. GET
    /// /healthz (200, or 503 while the store's Redis is lost) is always served.
    #[arg(long, env = "COMMONPLACE_METRICS")]
    metrics: bool,
}

impl Args {
    fn ice(&self) -> Result<IceConfig, String> {
        let auth = match (&self.turn_secret, &self.turn_user, &self.turn_pass) {
            (Some(secret), _, _) => TurnAuth::Secret {
                secret: secret.clone(),
                ttl: self.turn_ttl,
            },
            (None, Some(user), Some(pass)) => TurnAuth::Static {
                user: user.clone(),
                pass: pass.clone(),
            },
            _ => TurnAuth::None,
        };
        let ice = IceConfig {
            stun: self.stun.clone(),
            turn: self.turn.clone(),
            auth,
        };
        ice.validate()?;
        Ok(ice)
    }
}

/// `1048576`, `1024KiB` or `1MiB`.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a number of bytes: {text}"))?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "not a number of bytes (use KiB, MiB or GiB): {text}"
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("too many bytes: {text}"))
}

fn parse_positive_bytes(text: &str) -> Result<u64, String> {
    match parse_bytes(text)? {
        0 => Err("must be more than 0".into()),
        n => Ok(n),
    }
}

/// A record's size: what a read reply's 32-bit length holds, and at most 1 GiB.
fn parse_record_bytes(text: &str) -> Result<u64, String> {
    match parse_positive_bytes(text)? {
        n if n > 1024 * 1024 * 1024 => Err("must be at most 1GiB".into()),
        n => Ok(n),
    }
}

/// `12h`, `90m`, `3600s` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("not a duration (use s, m or h): {text}")),
    };
    if seconds == 0 {
        return Err("a duration must be longer than 0".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let mut options = Options::new(args.dist.clone());
    options.client_rate = args.client_rate;
    options.client_burst = args.client_burst;
    options.client_queue = usize::try_from(args.client_queue).unwrap_or(usize::MAX);
    options.connections.header_timeout = args.header_timeout;
    options.connections.max_connections = max_connections(args.max_connections);
    options.limits.max_topics = usize::try_from(args.max_topics).unwrap_or(usize::MAX);
    options.metrics = args.metrics;
    match args.ice() {
        Ok(ice) => options.ice = ice,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        match tls_acceptor(cert, key) {
            Ok(tls) => options.tls = Some(tls),
            Err(e) => {
                error!("{e}");
                return ExitCode::from(2);
            }
        }
    }

    if !args.no_store {
        match open_store(&args).await {
            Ok(store) => options.store = Some(store),
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // The store has checked that Redis is there; signaling connects once the server runs.
    if let Some(url) = &args.redis {
        match RedisFanout::new(url) {
            Ok(fanout) => options.fanout = Some(fanout),
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let listener = match TcpListener::bind((args.bind, args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            error!("cannot listen on {}:{}: {e}", args.bind, args.port);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            error!("cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.dist.join("index.html").is_file() {
        warn!(dist = %args.dist.display(), "no index.html: the app is not built yet, only signaling and the store work");
    }
    if options.metrics {
        let metrics = format!("{}metrics", url(addr, options.tls.is_some()));
        info!(%metrics, "metrics served, without a password: keep them off the public internet");
    }
    let shutdown = shutdown_signal();
    // The one line on stdout: scripts and tests read the URL (and with --port 0, the port) here.
    println!(
        "Commonplace is running: open {}",
        url(addr, options.tls.is_some())
    );
    let _ = std::io::stdout().flush();

    match serve(listener, options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Open files kept for everything but connections: the store's files, logs, the listener.
const FILES_NOT_FOR_CONNECTIONS: u64 = 128;

/// --max-connections, or the default the open-files limit allows.
fn max_connections(flag: Option<u64>) -> usize {
    let allowed = raise_open_files_limit()
        .map(|limit| limit.saturating_sub(FILES_NOT_FOR_CONNECTIONS).max(1));
    let max = match (flag, allowed) {
        (Some(max), Some(allowed)) if max > allowed => {
            warn!(max, allowed, "--max-connections is more than the open-files limit allows: past it, connections fail instead of being refused");
            max
        }
        (Some(max), _) => max,
        (None, Some(allowed)) => allowed.min(DEFAULT_MAX_CONNECTIONS as u64),
        (None, None) => DEFAULT_MAX_CONNECTIONS as u64,
    };
    info!(max, "connections open at once at most");
    usize::try_from(max).unwrap_or(usize::MAX)
}

/// Raises the soft open-files limit to the hard one (as Go's runtime does: the soft 1024 of
/// many systems is a leftover of select(2)); the limit in force, if it can be read.
fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into `limit`.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        // "Unlimited" is not a number of files the kernel allows (it caps at nr_open).
        let wanted = limit.rlim_max.min(1 << 20);
        if limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads one rlimit.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        // rlim_t is u64 on Linux, not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// The store in Redis (--redis), or in --data after its startup checks (off the runtime:
/// `quick_check` reads the whole file).
async fn open_store(args: &Args) -> Result<StoreOptions, String> {
    let quota = Quota {
        max_bytes: args.store_quota,
        max_records: args.store_max_records,
    };
    let backend: Arc<dyn StoreBackend> = match &args.redis {
        Some(url) => Arc::new(RedisStore::open(url, quota).await?),
        None => {
            let dir = args.data.clone();
            let opened = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, quota))
                .await
                .map_err(|e| format!("opening the store failed: {e}"))??;
            Arc::new(opened)
        }
    };
    let mut store = StoreOptions::new(backend);
    store.max_record = args.store_max_record;
    store.rate = args.store_rate;
    store.burst = args.store_burst;
    Ok(store)
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed by the time this returns, before
/// the address is printed: a signal sent as soon as a script has read it must not kill the
/// server uncleanly (its default action) before they exist.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind)
                .inspect_err(|e| warn!("cannot listen for {name}: {e}"))
                .ok()
        };
        (
            listen(SignalKind::interrupt(), "Ctrl-C"),
            listen(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => drop(signal.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
        info!("shutting down");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonplace_server::listen::DEFAULT_HEADER_TIMEOUT;
    use commonplace_server::{DEFAULT_CLIENT_BURST, DEFAULT_CLIENT_QUEUE, DEFAULT_CLIENT_RATE};

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("commonplace-server").chain(args.iter().copied()))
    }

    #[test]
    fn flags() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.port, 8080);
        assert_eq!(defaults.bind, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(defaults.dist, PathBuf::from("dist"));
        assert_eq!(defaults.ice().unwrap(), IceConfig::none());
        // The flags' defaults are written for --help; they are the library's.
        assert_eq!(defaults.client_rate, DEFAULT_CLIENT_RATE);
        assert_eq!(defaults.client_burst, DEFAULT_CLIENT_BURST);
        assert_eq!(defaults.client_queue, DEFAULT_CLIENT_QUEUE as u64);
        assert_eq!(defaults.data, PathBuf::from("data"));
        assert!(!defaults.no_store);
        assert_eq!(defaults.redis, None);
        assert_eq!(defaults.store_quota, quota::DEFAULT_QUOTA);
        assert_eq!(defaults.store_max_records, quota::DEFAULT_MAX_RECORDS);
        assert_eq!(defaults.store_max_record, quota::DEFAULT_MAX_RECORD);
        assert_eq!(defaults.store_rate, quota::DEFAULT_RATE);
        assert_eq!(defaults.store_burst, quota::DEFAULT_BURST);
        assert_eq!(defaults.header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(defaults.max_connections, None);
        assert_eq!(defaults.max_topics, DEFAULT_MAX_TOPICS as u64);
        assert_eq!(parse(&["--max-topics", "7"]).unwrap().max_topics, 7);
        assert!(!defaults.metrics);
        assert!(parse(&["--metrics"]).unwrap().metrics);
        let args = parse(&["--header-timeout", "2s", "--max-connections", "3"]).unwrap();
        assert_eq!(args.header_timeout, Duration::from_secs(2));
        assert_eq!(args.max_connections, Some(3));
        let args = parse(&["--data", "/tmp/x", "--no-store", "--store-quota", "1GiB"]).unwrap();
        assert_eq!(args.data, PathBuf::from("/tmp/x"));
        assert!(args.no_store);
        assert_eq!(args.store_quota, 1 << 30);
        let args = parse(&["--redis", "redis://127.0.0.1:6379/0"]).unwrap();
        assert_eq!(args.redis.as_deref(), Some("redis://127.0.0.1:6379/0"));
        let args = parse(&["--store-max-records", "5", "--store-max-record", "1KiB"]).unwrap();
        assert_eq!((args.store_max_records, args.store_max_record), (5, 1024));
        let args = parse(&["--client-rate", "256KiB", "--client-burst", "0"]).unwrap();
        assert_eq!((args.client_rate, args.client_burst), (256 * 1024, 0));
        let args = parse(&["--client-queue", "1048576"]).unwrap();
        assert_eq!(args.client_queue, 1 << 20);
        let args = parse(&["--port", "0", "--bind", "::1", "--dist", "/tmp/d"]).unwrap();
        assert_eq!((args.port, args.dist), (0, PathBuf::from("/tmp/d")));
        let args = parse(&["--dist", "a", "--port", "1", "--dist", "b", "--port", "2"]).unwrap();
        assert_eq!((args.port, args.dist), (2, PathBuf::from("b")));
        let args = parse(&["--stun", "stun:a", "--stun", "stun:b"]).unwrap();
        assert_eq!(args.stun, ["stun:a", "stun:b"]);
        for bad in [
            &["--port"][..],
            &["--port", "70000"],
            &["--bind", "localhost"],
            &["--verbose"],
            &["8080"],
            &["--turn-user", "u"],
            &["--turn-secret", "s", "--turn-user", "u", "--turn-pass", "p"],
            &["--tls-cert", "c.pem"],
            &["--turn-ttl", "0"],
            &["--turn-ttl", "12d"],
            &["--client-rate", "0"],
            &["--client-rate", "1MB"],
            &["--client-rate", "-1"],
            &["--client-burst", "99999999999999999999"],
            &["--client-burst", "17179869184GiB"],
            &["--client-queue", "0MiB"],
            &["--client-queue", "MiB"],
            &["--store-quota", "0"],
            &["--store-max-records", "0"],
            &["--store-max-record", "2GiB"],
            &["--store-rate", "0"],
            &["--no-store=maybe"],
            &["--header-timeout", "0"],
            &["--header-timeout", "5ms"],
            &["--max-connections", "0"],
            &["--max-connections", "-1"],
            &["--max-topics", "0"],
            &["--max-topics", "many"],
            &["--redis"],
            &["--redis", "redis://127.0.0.1:6379/0", "--no-store"],
            &["--metrics=yes-please"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ice_servers_from_flags() {
        let args = parse(&[
            "--stun",
            "stun:198.18.0.1:3478",
            "--turn",
            "turn:198.18.0.1:3478?transport=udp",
            "--turn",
            "turns:198.18.0.1:5349?transport=tcp",
            "--turn-secret",
            "s",
            "--turn-ttl",
            "90m",
        ])
        .unwrap();
        let ice = args.ice().unwrap();
        assert_eq!(ice.turn.len(), 2);
        assert_eq!(
            ice.auth,
            TurnAuth::Secret {
                secret: "s".into(),
                ttl: Duration::from_secs(90 * 60)
            }
        );
        assert!(
            parse(&["--turn", "turn:x"]).unwrap().ice().is_err(),
            "TURN needs credentials"
        );
        assert!(parse(&["--stun", "http://x"]).unwrap().ice().is_err());
    }

    #[test]
    fn help_documents_every_flag() {
        use clap::CommandFactory;
        let help = Args::command().render_long_help().to_string();
        for flag in [
            "--port",
            "--bind",
            "--dist",
            "--stun",
            "--turn",
            "--turn-secret",
            "--turn-user",
            "--turn-pass",
            "--turn-ttl",
            "--tls-cert",
            "--tls-key",
            "--client-rate",
            "--client-burst",
            "--client-queue",
            "COMMONPLACE_TURN_SECRET",
            "COMMONPLACE_CLIENT_RATE",
            "--data",
            "--no-store",
            "--store-quota",
            "--store-max-records",
            "--store-max-record",
            "--store-rate",
            "--store-burst",
            "COMMONPLACE_DATA",
            "--header-timeout",
            "COMMONPLACE_HEADER_TIMEOUT",
            "--max-connections",
            "COMMONPLACE_MAX_CONNECTIONS",
            "--max-topics",
            "COMMONPLACE_MAX_TOPICS",
            "--redis",
            "COMMONPLACE_REDIS",
            "--metrics",
            "COMMONPLACE_METRICS",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
        }
    }
}
