//! Accepting connections: plain HTTP, or HTTPS with rustls when a certificate is given, each
//! connection served by hyper with WebSocket upgrades and a bounded wait for its headers, and
//! at most `max_connections` of them at once (`accepted`).
//!
//! Our own loop rather than `axum::serve` because that one speaks plain TCP only.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::accepted::{Accepted, Refusals};
use crate::metrics::{CloseReason, Metrics};
use crate::throttled_log::{self, ThrottledLog};

/// In-flight HTTP requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection may take to say what it wants, and how many may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A client must finish its TLS handshake and send its request headers within this, each
    /// (slowloris: sockets that send a request a byte at a time, or never finish it). An idle
    /// keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// Connections open at once, WebSockets included. Past it a new one is answered 503 (over
    /// TLS, closed) while the open ones go on: the server keeps file descriptors for them
    /// instead of running out.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Ten seconds: a phone on a slow network sends its headers within one or two.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Ten thousand: about 100 MB of idle WebSockets, far below what a small machine has.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// TLS for the server, from PEM files: a certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` completes; in-flight requests then get
/// [`DRAIN_TIMEOUT`] to finish. (Upgraded WebSockets are not requests any more: their owner
/// closes them.)
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    app: Router,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    // Every connection task holds a receiver: at shutdown it finishes its request and ends.
    let (closing, watcher) = watch::channel(false);
    let places = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let refusals = Refusals::new();
    let mut refused = ThrottledLog::new(throttled_log::INTERVAL);
    let mut failed = ThrottledLog::new(throttled_log::INTERVAL);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, usually: let some close before trying again.
                    if let Some(count) = failed.event(Instant::now()) {
                        warn!(failed = count, "accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Signaling frames are small and latency matters more than packet count: without this a
        // frame written while the previous one is unacknowledged waits for the client's
        // delayed ack (up to 40 ms on Linux).
        let _ = stream.set_nodelay(true);
        let Ok(place) = places.clone().try_acquire_owned() else {
            if let Some(count) = refused.event(Instant::now()) {
                let max = limits.max_connections;
                warn!(
                    max,
                    refused = count,
                    "connections refused: --max-connections are open"
                );
            }
            metrics.connection_refused();
            refusals.refuse(stream, tls.is_some());
            continue;
        };
        let (stream, linger) = Accepted::new(stream, (place, metrics.connection_accepted()));
        let seen = Arc::new(Seen::default());
        let (asked, answered) = (seen.clone(), seen.clone());
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                asked.request.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(ConnectInfo(addr));
                request.extensions_mut().insert(linger.clone());
                request
            })
            .map_response(move |response: axum::response::Response| {
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    answered.upgraded.store(true, Ordering::Relaxed);
                }
                response
            });
        let metrics = metrics.clone();
        let watcher = watcher.clone();
        let tls = tls.clone();
        let timeout = limits.header_timeout;
        tokio::spawn(async move {
            let served = match tls {
                None => serve_connection(stream, service, timeout, watcher).await,
                Some(tls) => match tokio::time::timeout(timeout, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, service, timeout, watcher).await,
                    Ok(Err(e)) => Err(Ended::Handshake(e.to_string())),
                    Err(_) => Err(Ended::Handshake("TLS handshake timed out".into())),
                },
            };
            // An upgraded connection is the WebSocket's now, which counts how it ends.
            if !seen.upgraded.load(Ordering::Relaxed) {
                metrics.connection_closed(seen.reason(&served));
            }
            if let Err(e) = served {
                debug!(%addr, "connection ended: {e}");
            }
        });
    }
    drop(watcher);
    let _ = closing.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, closing.closed())
        .await
        .is_err()
    {
        debug!("some requests were still running at shutdown");
    }
}

/// What became of one connection, for `/metrics`: whether it sent a request, and whether it was
/// upgraded to a WebSocket.
#[derive(Default)]
struct Seen {
    request: AtomicBool,
    upgraded: AtomicBool,
}

impl Seen {
    /// Why a connection that was not upgraded closed. hyper's header timeout also closes a
    /// keep-alive connection that stays idle: after a request, that is counted as idle.
    fn reason(&self, served: &Result<(), Ended>) -> CloseReason {
        match served {
            Ok(()) => CloseReason::Done,
            Err(Ended::Handshake(_)) => CloseReason::TlsHandshake,
            Err(Ended::Http(e)) if e.is_timeout() => {
                if self.request.load(Ordering::Relaxed) {
                    CloseReason::IdleTimeout
                } else {
                    CloseReason::HeaderTimeout
                }
            }
            Err(Ended::Http(_)) => CloseReason::HttpError,
        }
    }
}

/// How serving a connection failed.
enum Ended {
    Handshake(String),
    Http(hyper::Error),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Handshake(e) => f.write_str(e),
            Ended::Http(e) => e.fmt(f),
        }
    }
}

async fn serve_connection<S, T>(
    stream: S,
    service: T,
    header_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) -> Result<(), Ended>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: tower::Service<Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    T::Future: Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        served = &mut connection => return served.map_err(Ended::Http),
        _ = closing.wait_for(|&closing| closing) => {}
    }
    connection.as_mut().graceful_shutdown();
    connection.await.map_err(Ended::Http)
}

/// The address as a URL the way a person would open it.
pub fn url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tls_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("cp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.join("missing.pem");
        let error = tls_acceptor(&missing, &missing).err().unwrap();
        assert!(error.starts_with("--tls-cert"), "{error}");
        let error = tls_acceptor(&empty, &empty).err().unwrap();
        assert!(error.contains("no certificate"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
