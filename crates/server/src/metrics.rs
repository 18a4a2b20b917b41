//! What the server reports about itself for operators: `GET /metrics` in Prometheus's text
//! exposition format (version 0.0.4), with `--metrics`, and `GET /healthz` for load balancers.
//!
//! By hand rather than with the `prometheus-client` crate: the metrics are few and fixed, and
//! every label value comes from one of the enums below, so a struct of atomics and one function
//! that writes them out are all it takes. Counting is one relaxed atomic add where it happens
//! (a frame read, a connection accepted): no lock, no allocation, no registry lookup, and no
//! dependency. A registry pays off with many metrics registered from many places, or
//! histograms; if those come, `prometheus-client` is the one to take (the test's parser checks
//! the format either way).
//!
//! *Cardinality, and what may not be shown:* no label carries a room, a topic, a store id, an
//! address or anything else a client chose. Each label value is one of a small fixed set
//! ([`CloseReason`], [`DropReason`], [`StoreOp`], [`Outcome`], [`RedisUse`]), and every series
//! exists from the start (at 0), so the output has the same lines for the life of the process.
//! A label per topic or per client would grow without bound (a series kept for every room ever
//! opened) and would show room names, which are the rooms' addresses, to whoever reads it.
//!
//! *`/healthz`* is answered from what the server knows already, never by asking a database:
//! load balancers poll it every few seconds. `200 ok` while every Redis the server uses is
//! serving (or there is none), `503` with one line saying which one is lost otherwise; the
//! store on Redis keeps its state current with a probe of its own (`store/redis.rs`).

use axum::extract::ws::Message;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use commonplace_protocol::hub::{Delivery, Rejected};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The exposition format's media type, as Prometheus asks for it.
pub const CONTENT_TYPE_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A fixed set of label values: an enum, its values in order (`ALL`), how many (`COUNT`), and
/// each one's label.
macro_rules! label_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub const COUNT: usize = $name::ALL.len();

            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)*
                }
            }
        }
    };
}

label_set! {
    /// Why a connection ended (`commonplace_connections_closed_total{reason}`). Every accepted
    /// connection is counted once: a WebSocket when it ends, any other when its last request is
    /// done.
    CloseReason {
        /// Plain HTTP: the client closed it, or it closed after its last request, or at
        /// shutdown.
        Done => "done",
        /// No whole request headers within `--header-timeout` (a slow or unfinished request,
        /// slowloris; or a connection opened and never used).
        HeaderTimeout => "header_timeout",
        /// A keep-alive connection idle for `--header-timeout` after a request (or that slow to
        /// send the next one).
        IdleTimeout => "idle_timeout",
        /// The TLS handshake failed or took longer than `--header-timeout`.
        TlsHandshake => "tls_handshake",
        /// Another HTTP error: a malformed request, a reset in the middle of one.
        HttpError => "http_error",
        /// Answered 101 but the upgrade to a WebSocket did not complete.
        UpgradeFailed => "upgrade_failed",
        /// A WebSocket the client closed (a close frame, or the end of the stream).
        ClientClosed => "client_closed",
        /// A message over the limit (close code 1009).
        TooBig => "too_big",
        /// A text frame that is not UTF-8 (1007).
        InvalidUtf8 => "invalid_utf8",
        /// A WebSocket protocol violation (1002).
        ProtocolError => "protocol_error",
        /// Reading failed otherwise (a reset connection).
        ReadError => "read_error",
        WriteError => "write_error",
        /// A write took longer than the ping interval: the client stopped reading.
        WriteStalled => "write_stalled",
        /// No pong to the previous ping.
        NoPong => "no_pong",
        /// More than `--client-queue` bytes waited for it: it read slower than others wrote to
        /// it (1008, "reading too slowly").
        SlowReader => "slow_reader",
        /// The server shut down (1001).
        Shutdown => "shutdown",
    }
}

label_set! {
    /// Why a signaling frame was not acted on (`commonplace_signal_frames_dropped_total`).
    DropReason {
        /// Not a JSON object with a string `type`, or fields of the wrong shape.
        Malformed => "malformed",
        UnknownType => "unknown_type",
        /// A subscribe past the topics one connection may hold.
        TooManyTopics => "too_many_topics",
        /// A subscribe that would create topics past `--max-topics`, the server's bound over
        /// all connections (subscribing to an existing topic is still allowed).
        TooManyTopicsOverall => "too_many_topics_overall",
        /// A subscribe with a topic name over the limit.
        TopicTooLong => "topic_too_long",
        /// A binary frame that is not UTF-8 (y-webrtc reads binary frames as text).
        NotUtf8 => "not_utf8",
        /// A frame from a connection being closed.
        SenderClosing => "sender_closing",
        /// A frame for a receiver whose queue was full: that receiver is closed
        /// (`slow_reader`), and what it was sent is dropped.
        ReceiverTooSlow => "receiver_too_slow",
    }
}

impl DropReason {
    pub fn of(rejected: &Rejected) -> DropReason {
        match rejected {
            Rejected::UnknownConn => DropReason::SenderClosing,
            Rejected::Malformed(_) => DropReason::Malformed,
            Rejected::UnknownType => DropReason::UnknownType,
            Rejected::TooManyTopics { .. } => DropReason::TooManyTopics,
            Rejected::TooManyTopicsOverall { .. } => DropReason::TooManyTopicsOverall,
            Rejected::TopicTooLong { .. } => DropReason::TopicTooLong,
        }
    }
}

label_set! {
    /// A store operation (`commonplace_store_operations_total{op}`).
    StoreOp {
        Append => "append",
        Read => "read",
        Snapshot => "snapshot",
        Delete => "delete",
    }
}

label_set! {
    /// How a store request ended (`commonplace_store_operations_total{outcome}`), by its status.
    Outcome {
        /// 2xx: done.
        Ok => "ok",
        /// 4xx, and 507: the request was answered no (no such store yet, as on a room's first
        /// visit; a bad request, a wrong token, a store removed, a snapshot race lost, a client
        /// over its rate, a store over its quota).
        Refused => "refused",
        /// Any other 5xx: the server could not do it (the database failed, Redis was lost, the
        /// server was shutting down).
        Failed => "failed",
    }
}

impl Outcome {
    pub fn of(status: StatusCode) -> Outcome {
        if status.is_success() {
            Outcome::Ok
        } else if status.is_client_error() || status == StatusCode::INSUFFICIENT_STORAGE {
            Outcome::Refused
        } else {
            Outcome::Failed
        }
    }
}

label_set! {
    /// What a Redis is used for (`commonplace_redis_up{use}`).
    RedisUse {
        /// The encrypted store (`--redis`).
        Store => "store",
        /// Signaling shared between instances (`--redis`).
        Signaling => "signaling",
    }
}

/// Whether a Redis is serving, from what its user already knows: `Some(true)` serving,
/// `Some(false)` known lost, `None` not in use. Called at every scrape and every `/healthz`, so
/// it must not ask Redis anything.
pub type RedisState = Box<dyn Fn() -> Option<bool> + Send + Sync>;

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn inc(&self) {
        self.add(1);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One server's counters and gauges. Made by `serve`, one per server (tests run several in one
/// process).
pub struct Metrics {
    /// Unix time in seconds.
    start_time: f64,
    max_connections: u64,
    connections_open: Counter,
    connections_accepted: Counter,
    connections_refused: Counter,
    connections_closed: [Counter; CloseReason::COUNT],
    websockets_open: Counter,
    topics: Counter,
    /// `--max-topics`.
    max_topics: u64,
    received_messages: Counter,
    received_bytes: Counter,
    sent_messages: Counter,
    sent_bytes: Counter,
    publishes: Counter,
    publish_bytes: Counter,
    dropped: [Counter; DropReason::COUNT],
    store_ops: [[Counter; Outcome::COUNT]; StoreOp::COUNT],
    store_written_bytes: Counter,
    store_read_bytes: Counter,
    redis: [OnceLock<RedisState>; RedisUse::COUNT],
}

/// Holds one place in a gauge (an open connection, an open WebSocket) until dropped.
pub struct Open {
    metrics: Arc<Metrics>,
    gauge: fn(&Metrics) -> &Counter,
}

impl Drop for Open {
    fn drop(&mut self) {
        (self.gauge)(&self.metrics)
            .0
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the hub answers a ping with: one delivery, to the sender. Every other frame that comes
/// back from the hub is a publish (which always carries `clients`, so it never equals this).
const PONG: &str = r#"{"type":"pong"}"#;

impl Metrics {
    /// `max_connections`: `--max-connections`, reported beside the open ones; `max_topics`:
    /// `--max-topics`, beside the topics held.
    pub fn new(max_connections: usize, max_topics: usize) -> Self {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Metrics {
            start_time,
            max_connections: max_connections as u64,
            connections_open: Counter::default(),
            connections_accepted: Counter::default(),
            connections_refused: Counter::default(),
            connections_closed: Default::default(),
            websockets_open: Counter::default(),
            topics: Counter::default(),
            max_topics: max_topics as u64,
            received_messages: Counter::default(),
            received_bytes: Counter::default(),
            sent_messages: Counter::default(),
            sent_bytes: Counter::default(),
            publishes: Counter::default(),
            publish_bytes: Counter::default(),
            dropped: Default::default(),
            store_ops: Default::default(),
            store_written_bytes: Counter::default(),
            store_read_bytes: Counter::default(),
            redis: Default::default(),
        }
    }

    fn hold(self: &Arc<Self>, gauge: fn(&Metrics) -> &Counter) -> Open {
        gauge(self).inc();
        Open {
            metrics: self.clone(),
            gauge,
        }
    }

    /// A connection was accepted (given a place under `--max-connections`); it counts as open
    /// until the returned guard is dropped with its socket.
    pub fn connection_accepted(self: &Arc<Self>) -> Open {
        self.connections_accepted.inc();
        self.hold(|m| &m.connections_open)
    }

    /// A connection past `--max-connections` was refused.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn connection_closed(&self, reason: CloseReason) {
        self.connections_closed[reason as usize].inc();
    }

    /// A WebSocket is open until the returned guard is dropped.
    pub fn websocket_opened(self: &Arc<Self>) -> Open {
        self.hold(|m| &m.websockets_open)
    }

    /// Topics with at least one subscriber on this server.
    pub fn set_topics(&self, topics: usize) {
        self.topics.0.store(topics as u64, Ordering::Relaxed);
    }

    /// A WebSocket message read: text and binary count, control frames do not.
    pub fn signal_received(&self, message: &Result<Message, axum::Error>) {
        let len = match message {
            Ok(Message::Text(text)) => text.len(),
            Ok(Message::Binary(bytes)) => bytes.len(),
            _ => return,
        };
        self.received_messages.inc();
        self.received_bytes.add(len as u64);
    }

    /// A text frame written to a WebSocket.
    pub fn signal_sent(&self, bytes: usize) {
        self.sent_messages.inc();
        self.sent_bytes.add(bytes as u64);
    }

    /// What the hub made of a frame of `len` bytes: a publish that reached anyone (its sender
    /// included) is counted with its length as received.
    pub fn hub_delivered(&self, len: usize, deliveries: &[Delivery]) {
        if deliveries.first().is_some_and(|d| &*d.frame != PONG) {
            self.publishes.inc();
            self.publish_bytes.add(len as u64);
        }
    }

    pub fn frame_dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].inc();
    }

    /// A store request answered `status`; `bytes`: what was written (a record, a snapshot) or
    /// read (the reply), counted only if it was done.
    pub fn store_request(&self, op: StoreOp, status: StatusCode, bytes: usize) {
        let outcome = Outcome::of(status);
        self.store_ops[op as usize][outcome as usize].inc();
        if outcome == Outcome::Ok {
            match op {
                StoreOp::Append | StoreOp::Snapshot => self.store_written_bytes.add(bytes as u64),
                StoreOp::Read => self.store_read_bytes.add(bytes as u64),
                StoreOp::Delete => {}
            }
        }
    }

    /// Reports a Redis the server uses, for `commonplace_redis_up` and `/healthz`. Once per use;
    /// a second `state` for the same use is ignored.
    pub fn watch_redis(&self, used_for: RedisUse, state: RedisState) {
        let _ = self.redis[used_for as usize].set(state);
    }

    /// Each Redis in use and whether it serves.
    fn redis_states(&self) -> impl Iterator<Item = (RedisUse, bool)> + '_ {
        RedisUse::ALL.iter().filter_map(|&used_for| {
            let state = self.redis[used_for as usize].get()?;
            state().map(|up| (used_for, up))
        })
    }

    /// Everything, in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = Exposition(String::with_capacity(8 * 1024));
        let o = &mut out;

        o.family(
            "commonplace_build_info",
            "gauge",
            "Always 1; the server's version is its label.",
        );
        o.sample(
            "commonplace_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );
        o.family(
            "commonplace_process_start_time_seconds",
            "gauge",
            "When the server started, in seconds since the Unix epoch.",
        );
        o.sample_f64("commonplace_process_start_time_seconds", self.start_time);

        o.single(
            "commonplace_connections_open",
            "gauge",
            "TCP connections open (HTTP, WebSockets, and closed ones still lingering to read what the client was sending).",
            self.connections_open.get(),
        );
        o.single(
            "commonplace_connections_max",
            "gauge",
            "Connections that may be open at once (--max-connections).",
            self.max_connections,
        );
        o.single(
            "commonplace_connections_accepted_total",
            "counter",
            "Connections accepted (given a place under --max-connections).",
            self.connections_accepted.get(),
        );
        o.single(
            "commonplace_connections_refused_total",
            "counter",
            "Connections refused because --max-connections were open (503 over HTTP, closed over TLS).",
            self.connections_refused.get(),
        );
        o.family(
            "commonplace_connections_closed_total",
            "counter",
            "Accepted connections that ended, once each, by why: a WebSocket when it ends (client_closed, too_big, invalid_utf8, protocol_error, read_error, write_error, write_stalled, no_pong, slow_reader, shutdown, upgrade_failed), any other connection when HTTP is done with it (done, header_timeout, idle_timeout, tls_handshake, http_error).",
        );
        for &reason in CloseReason::ALL {
            o.sample(
                "commonplace_connections_closed_total",
                &[("reason", reason.label())],
                self.connections_closed[reason as usize].get(),
            );
        }
        o.single(
            "commonplace_websockets_open",
            "gauge",
            "Signaling WebSockets open.",
            self.websockets_open.get(),
        );

        o.single(
            "commonplace_signal_topics",
            "gauge",
            "Signaling topics (rooms) with at least one subscriber on this server.",
            self.topics.get(),
        );
        o.single(
            "commonplace_signal_topics_max",
            "gauge",
            "Topics the server may hold at once (--max-topics); past it, a subscribe that would create a topic is refused.",
            self.max_topics,
        );
        o.single(
            "commonplace_signal_messages_received_total",
            "counter",
            "Signaling messages (text and binary WebSocket messages) received from clients.",
            self.received_messages.get(),
        );
        o.single(
            "commonplace_signal_received_bytes_total",
            "counter",
            "Payload bytes of the signaling messages received.",
            self.received_bytes.get(),
        );
        o.single(
            "commonplace_signal_messages_sent_total",
            "counter",
            "Signaling messages written to clients (a publish once per receiver, pongs; not WebSocket pings).",
            self.sent_messages.get(),
        );
        o.single(
            "commonplace_signal_sent_bytes_total",
            "counter",
            "Payload bytes of the signaling messages written to clients.",
            self.sent_bytes.get(),
        );
        o.single(
            "commonplace_signal_publishes_total",
            "counter",
            "Publish messages received that reached at least one subscriber (the sender included).",
            self.publishes.get(),
        );
        o.single(
            "commonplace_signal_publish_bytes_total",
            "counter",
            "Bytes of those publishes, once each as received. Data-channel frames relayed between peers no direct path joins are publishes too, and the server cannot tell them from the others (in a keyed room they are ciphertext): this counts all publishes, an upper bound on relayed bytes.",
            self.publish_bytes.get(),
        );
        o.family(
            "commonplace_signal_frames_dropped_total",
            "counter",
            "Signaling frames not acted on, by why (the connection stays open, except that a receiver_too_slow drop closes that receiver).",
        );
        for &reason in DropReason::ALL {
            o.sample(
                "commonplace_signal_frames_dropped_total",
                &[("reason", reason.label())],
                self.dropped[reason as usize].get(),
            );
        }

        o.family(
            "commonplace_store_operations_total",
            "counter",
            "Store requests by operation and outcome: ok (2xx), refused (4xx and 507: no such store yet, as on a room's first visit; bad request, wrong token, removed, snapshot race lost, rate, quota), failed (other 5xx: database failed, Redis lost, shutting down).",
        );
        for &op in StoreOp::ALL {
            for &outcome in Outcome::ALL {
                o.sample(
                    "commonplace_store_operations_total",
                    &[("op", op.label()), ("outcome", outcome.label())],
                    self.store_ops[op as usize][outcome as usize].get(),
                );
            }
        }
        o.single(
            "commonplace_store_written_bytes_total",
            "counter",
            "Bytes of records and snapshots stored (ciphertext).",
            self.store_written_bytes.get(),
        );
        o.single(
            "commonplace_store_read_bytes_total",
            "counter",
            "Bytes of read replies sent.",
            self.store_read_bytes.get(),
        );

        o.family(
            "commonplace_redis_up",
            "gauge",
            "1 while a Redis the server uses serves, 0 while it is known lost (checked every 2 s); one series per use, none without Redis.",
        );
        for (used_for, up) in self.redis_states() {
            o.sample(
                "commonplace_redis_up",
                &[("use", used_for.label())],
                u64::from(up),
            );
        }
        out.0
    }
}

/// Writes the text format. Names, help texts and label values are all this file's own
/// constants, none with a backslash, a quote or a newline (a test checks), so nothing needs
/// escaping.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.0.push_str(name);
        for (at, (label, value)) in labels.iter().enumerate() {
            let open = if at == 0 { "{" } else { "," };
            let _ = write!(self.0, "{open}{label}=\"{value}\"");
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
    }

    /// A family of one sample without labels.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.0, " {value}");
    }

    fn sample_f64(&mut self, name: &str, value: f64) {
        self.labels(name, &[]);
        let _ = writeln!(self.0, " {value:.3}");
    }
}

/// `GET /healthz`, and `GET /metrics` if `endpoint` (`--metrics`); without it `/metrics` is
/// 404 with a sentence saying how to turn it on.
pub fn routes(metrics: Arc<Metrics>, endpoint: bool) -> Router {
    let health = metrics.clone();
    let router = Router::new().route("/healthz", get(move || healthz(health.clone())));
    if endpoint {
        router.route("/metrics", get(move || exposition(metrics.clone())))
    } else {
        router.route("/metrics", get(|| async { off() }))
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn exposition(metrics: Arc<Metrics>) -> Response {
    text(StatusCode::OK, CONTENT_TYPE_0_0_4, metrics.render())
}

fn off() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "metrics are off: start the server with --metrics\n".into(),
    )
}

/// `200 ok`, or `503` and which Redis is lost.
async fn healthz(metrics: Arc<Metrics>) -> Response {
    let lost: Vec<&str> = metrics
        .redis_states()
        .filter(|&(_, up)| !up)
        .map(|(used_for, _)| used_for.label())
        .collect();
    if lost.is_empty() {
        return text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into());
    }
    let body = format!("degraded: Redis ({}) cannot be reached\n", lost.join(", "));
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonplace_protocol::hub::{Hub, Limits};

    #[test]
    fn the_hub_answers_a_ping_with_this_pong() {
        let mut hub = Hub::new(Limits::default());
        let me = hub.connect();
        let deliveries = hub.receive(me, r#"{"type":"ping"}"#).unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(&*deliveries[0].frame, PONG);
        let metrics = Metrics::new(1, 1);
        metrics.hub_delivered(15, &deliveries);
        assert_eq!(metrics.publishes.get(), 0);
        hub.receive(me, r#"{"type":"subscribe","topics":["t"]}"#)
            .unwrap();
        let published = r#"{"type":"publish","topic":"t","data":"x"}"#;
        let deliveries = hub.receive(me, published).unwrap();
        metrics.hub_delivered(published.len(), &deliveries);
        assert_eq!(metrics.publishes.get(), 1);
        assert_eq!(metrics.publish_bytes.get(), published.len() as u64);
    }

    #[test]
    fn nothing_needs_escaping() {
        let metrics = Metrics::new(10, 10);
        metrics.watch_redis(RedisUse::Store, Box::new(|| Some(true)));
        let text = metrics.render();
        assert!(!text.contains('\\'), "{text}");
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                assert!(!help.contains('"'), "{line}");
            }
        }
        assert!(text.contains("commonplace_redis_up{use=\"store\"} 1\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn outcomes_by_status() {
        assert_eq!(Outcome::of(StatusCode::CREATED), Outcome::Ok);
        assert_eq!(Outcome::of(StatusCode::NO_CONTENT), Outcome::Ok);
        assert_eq!(Outcome::of(StatusCode::CONFLICT), Outcome::Refused);
        assert_eq!(Outcome::of(StatusCode::TOO_MANY_REQUESTS), Outcome::Refused);
        assert_eq!(
            Outcome::of(StatusCode::INSUFFICIENT_STORAGE),
            Outcome::Refused
        );
        assert_eq!(
            Outcome::of(StatusCode::SERVICE_UNAVAILABLE),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::of(StatusCode::INTERNAL_SERVER_ERROR),
            Outcome::Failed
        );
    }

    #[test]
    fn gauges_follow_their_guards() {
        let metrics = Arc::new(Metrics::new(10, 10));
        let one = metrics.connection_accepted();
        let two = metrics.connection_accepted();
        let ws = metrics.websocket_opened();
        assert_eq!(metrics.connections_open.get(), 2);
        drop(one);
        drop(ws);
        assert_eq!(metrics.connections_open.get(), 1);
        assert_eq!(metrics.websockets_open.get(), 0);
        assert_eq!(metrics.connections_accepted.get(), 2);
        drop(two);
        assert_eq!(metrics.connections_open.get(), 0);
    }
}
