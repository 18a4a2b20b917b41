//! Commonplace's server: serves the built app and relays y-webrtc signaling at `/signal`.
//!
//! Peers exchange documents directly over WebRTC; the server only introduces them, so it
//! never sees document content (and in rooms with a key, not even who signals whom).

mod signal;
mod static_files;

use axum::routing::get;
use axum::Router;
use commonplace_protocol::hub::Limits;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// What the server serves and how much it lets each signaling connection use.
#[derive(Clone, Debug)]
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
}

impl Options {
    pub fn new(dist: impl Into<PathBuf>) -> Self {
        Options {
            dist: dist.into(),
            limits: Limits::default(),
            max_message: 256 * 1024,
            queue_len: 256,
            ping_interval: Duration::from_secs(30),
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
    let app = Router::new()
        .route("/signal", get(signal::upgrade))
        .with_state(signaling.clone())
        .fallback_service(static_files::service(options.dist))
        .layer(TraceLayer::new_for_http());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    // Upgraded connections are no longer axum's: they outlive its graceful shutdown.
    signaling.close_all().await;
    Ok(())
}
