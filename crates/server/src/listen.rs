//! Accepting connections: plain HTTP, or HTTPS with rustls when a certificate is given, each
//! connection served by hyper with WebSocket upgrades and a bounded wait for its headers.
//!
//! Our own loop rather than `axum::serve` because that one speaks plain TCP only.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

/// A client must send its request headers within this (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// And finish a TLS handshake within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight HTTP requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

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
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    // Every connection task holds a receiver: at shutdown it finishes its request and ends.
    let (closing, watcher) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, usually: let some close before trying again.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Signaling frames are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(addr));
                request
            });
        let watcher = watcher.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => serve_connection(stream, service, watcher).await,
                Some(tls) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, service, watcher).await,
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    }
                }
            };
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

async fn serve_connection<S, T>(
    stream: S,
    service: T,
    mut closing: watch::Receiver<bool>,
) -> Result<(), String>
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
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        served = &mut connection => return served.map_err(|e| e.to_string()),
        _ = closing.wait_for(|&closing| closing) => {}
    }
    connection.as_mut().graceful_shutdown();
    connection.await.map_err(|e| e.to_string())
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
