//! Commonplace's server: serves the built app and relays y-webrtc signaling at `/signal`.
//!
//! Peers exchange documents directly over WebRTC; the server only introduces them, so it
//! never sees document content (and in rooms with a key, not even who signals whom). It also
//! keeps an end-to-end encrypted store under `/store/` (`store/`): ciphertext it cannot read.

mod accepted;
mod app_page;
mod budget;
mod client_config;
pub mod fanout;
pub mod ice;
pub mod listen;
pub mod metrics;
mod outbox;
mod precompressed;
mod signal;
mod static_files;
pub mod store;
mod throttled_log;

use axum::routing::get;
use axum::Router;
use commonplace_protocol::hub::Limits;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use client_config::ConfigSource;
use fanout::RedisFanout;
use ice::IceConfig;
use listen::ConnectionLimits;
use metrics::{Metrics, RedisUse};
use store::StoreOptions;

/// 1 MiB/s: a notebook relayed through the server to a late joiner in a few seconds.
pub const DEFAULT_CLIENT_RATE: u64 = 1024 * 1024;
/// 4 MiB: a 1 MB notebook relayed (base64, encrypted: ~1.8 MB) passes without waiting.
pub const DEFAULT_CLIENT_BURST: u64 = 4 * 1024 * 1024;
/// 8 MiB: over 30 of the largest frames.
pub const DEFAULT_CLIENT_QUEUE: usize = 8 * 1024 * 1024;

/// What the server serves and how much it lets each signaling connection use.
#[derive(Clone)]
pub struct Options {
    /// The built app (Trunk's output).
    pub dist: PathBuf,
    pub limits: Limits,
    /// Largest WebSocket message or frame accepted; a bigger one closes the connection.
    pub max_message: usize,
    /// Bytes per second each connection may send (0 counts as 1); beyond it the server reads
    /// from that connection only as fast as this (it waits, dropping nothing). A publish counts
    /// once for every other connection it reaches (at least once): the bytes the server writes
    /// for it.
    pub client_rate: u64,
    /// Bytes a connection may send at once before `client_rate` applies.
    pub client_burst: u64,
    /// Bytes queued toward one connection; a connection that falls this far behind is closed.
    pub client_queue: usize,
    /// Each connection is pinged this often and closed if it did not answer the previous ping.
    pub ping_interval: Duration,
    /// What `GET /config` tells the app: how to reach peers across networks (and, from
    /// `store`, whether this server keeps notebooks).
    pub ice: IceConfig,
    /// HTTPS (and WSS) instead of plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// How long a connection may take to send its request, and how many may be open at once.
    pub connections: ConnectionLimits,
    /// The encrypted store under `/store/`; `None`: its routes answer 503.
    pub store: Option<StoreOptions>,
    /// Signaling shared with the other instances on this Redis (`--redis`); `None`: this
    /// instance's clients meet each other only.
    pub fanout: Option<RedisFanout>,
    /// Serve `GET /metrics` (`--metrics`); `/healthz` is always served.
    pub metrics: bool,
}

impl Options {
    pub fn new(dist: impl Into<PathBuf>) -> Self {
        Options {
            dist: dist.into(),
            limits: Limits::default(),
            max_message: 256 * 1024,
            client_rate: DEFAULT_CLIENT_RATE,
            client_burst: DEFAULT_CLIENT_BURST,
            client_queue: DEFAULT_CLIENT_QUEUE,
            ping_interval: Duration::from_secs(30),
            ice: IceConfig::none(),
            tls: None,
            connections: ConnectionLimits::default(),
            store: None,
            fanout: None,
            metrics: false,
        }
    }
}

/// Serves until `shutdown` completes, then closes the signaling connections and returns.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let metrics = Arc::new(Metrics::new(
        options.connections.max_connections,
        options.limits.max_topics,
    ));
    let signaling = signal::Signaling::new(&options, metrics.clone());
    if options.fanout.is_some() {
        let signaling = Arc::downgrade(&signaling);
        metrics.watch_redis(
            RedisUse::Signaling,
            Box::new(move || {
                let state = signaling.upgrade()?.redis_signaling_state()?;
                Some(matches!(state, fanout::FanoutState::Connected))
            }),
        );
    }
    let backend = options.store.as_ref().map(|store| store.backend.clone());
    let config = Arc::new(ConfigSource {
        ice: options.ice,
        keeps_store: backend.is_some(),
    });
    if let Some(backend) = backend.clone() {
        metrics.watch_redis(RedisUse::Store, Box::new(move || backend.redis_up()));
    }
    let app = Router::new()
        .route("/signal", get(signal::upgrade))
        .with_state(signaling.clone())
        .route("/config", {
            let config = config.clone();
            get(move || client_config::answer(config.clone()))
        })
        .merge(store::routes(options.store, metrics.clone()))
        .merge(metrics::routes(metrics.clone(), options.metrics))
        .fallback_service(static_files::service(options.dist, config))
        // A 5xx is no news by itself (a full store answers 507 to every append); the handlers
        // log real failures.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        );
    let (tls, limits) = (options.tls, options.connections);
    listen::run(listener, tls, limits, app, metrics, shutdown).await;
    // Upgraded connections are no longer requests: they outlive the listener's shutdown.
    signaling.close_all().await;
    // What was written is committed; the database is closed and its folder unlocked.
    if let Some(backend) = backend {
        let _ = backend.close().await;
    }
    Ok(())
}
