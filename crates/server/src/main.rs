//! `commonplace-server`: serves the built app and relays signaling until Ctrl-C or SIGTERM.

use commonplace_server::{serve, Options};
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
usage: commonplace-server [--port N] [--bind ADDR] [--dist DIR]

Serves the Commonplace app from DIR and relays its signaling at /signal.

  --port N     TCP port to listen on (default 8080; 0 picks a free one)
  --bind ADDR  IP address to listen on (default 127.0.0.1)
  --dist DIR   the built app (default dist)
  --help       show this help

Logs go to stderr; RUST_LOG sets their filter (default info).";

#[derive(Debug, PartialEq)]
struct Config {
    bind: IpAddr,
    port: u16,
    dist: PathBuf,
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        bind: Ipv4Addr::LOCALHOST.into(),
        port: 8080,
        dist: PathBuf::from("dist"),
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let value = value()?;
                config.port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {value}"))?;
            }
            "--bind" => {
                let value = value()?;
                config.bind = value
                    .parse()
                    .map_err(|_| format!("--bind: not an IP address: {value}"))?;
            }
            "--dist" => config.dist = value()?.into(),
            _ => return Err(format!("unknown argument: {flag}")),
        }
    }
    Ok(Some(config))
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("commonplace-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let listener = match TcpListener::bind((config.bind, config.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            error!("cannot listen on {}:{}: {e}", config.bind, config.port);
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
    if !config.dist.join("index.html").is_file() {
        warn!(dist = %config.dist.display(), "no index.html: the app is not built yet, only signaling works");
    }
    // The one line on stdout: scripts and tests read the URL (and with --port 0, the port) here.
    println!("Commonplace is running: open http://{addr}/");
    let _ = std::io::stdout().flush();

    match serve(listener, Options::new(config.dist), shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => drop(sigterm.recv().await),
            Err(e) => {
                warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Config>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let defaults = Config {
            bind: Ipv4Addr::LOCALHOST.into(),
            port: 8080,
            dist: "dist".into(),
        };
        assert_eq!(parse(&[]), Ok(Some(defaults)));
        assert_eq!(
            parse(&["--port", "0", "--bind", "::1", "--dist", "/tmp/d"]),
            Ok(Some(Config {
                bind: "::1".parse().unwrap(),
                port: 0,
                dist: "/tmp/d".into()
            }))
        );
        assert_eq!(parse(&["--port", "8080", "--help"]), Ok(None));
        for bad in [
            &["--port"][..],
            &["--port", "70000"],
            &["--bind", "localhost"],
            &["--verbose"],
            &["8080"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
