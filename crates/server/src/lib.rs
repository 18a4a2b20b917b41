//! Commonplace's server: serves the built app and relays y-webrtc signaling at `/signal`.
//!
//! Peers exchange documents directly over WebRTC; the server only introduces them, so it
//! never sees document content (and in rooms with a key, not even who signals whom).

pub mod ice;
pub mod listen;
mod signal;
mod static_files;

use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use commonplace_protocol::hub::Limits;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::trace::TraceLayer;

use ice::IceConfig;

/// What the server serves and how much it lets each signaling connection use.
#[derive(Clone)]
pub struct Options {
    /// The built app (Trunk's output).
    pub dist: PathBuf,
    pub limits: Limits,
    /// Largest WebSocket message or frame accepted; a bigger one closes the connection.
    pub max_message: usize,
    /// Frames queued for one connection; a connection that falls this far behind is closed.
    pub queue_len: usize,
    /// Each connection is pinged this often and closed if it did not answer the previous ping.
    pub ping_interval: Duration,
    /// What `GET /config` tells the app: how to reach peers across networks.
    pub ice: IceConfig,
    /// HTTPS (and WSS) instead of plain HTTP.
    pub tls: Option<TlsAcceptor>,
}

impl Options {
    pub fn new(dist: impl Into<PathBuf>) -> Self {
        Options {
            dist: dist.into(),
            limits: Limits::default(),
            max_message: 256 * 1024,
            queue_len: 256,
            ping_interval: Duration::from_secs(30),
            ice: IceConfig::none(),
            tls: None,
        }
    }
}

/// Serves until `shutdown` completes, then closes the signaling connections and returns.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let signaling = Arc::new(signal::Signaling::new(&options));
    let ice = Arc::new(options.ice);
    let app = Router::new()
        .route("/signal", get(signal::upgrade))
        .with_state(signaling.clone())
        .route("/config", get(move || client_config(ice.clone())))
        .fallback_service(static_files::service(options.dist))
        .layer(TraceLayer::new_for_http());
    listen::run(listener, options.tls, app, shutdown).await;
    // Upgraded connections are no longer requests: they outlive the listener's shutdown.
    signaling.close_all().await;
    Ok(())
}

/// `GET /config`: fresh (and, with a TURN secret, newly made) each time, never cached.
async fn client_config(ice: Arc<IceConfig>) -> impl IntoResponse {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut id = [0u8; 9];
    let _ = getrandom::fill(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let config = ice.client_config(now, &id);
    ([(CACHE_CONTROL, "no-store")], Json(config))
}
