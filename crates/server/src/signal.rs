//! The `/signal` WebSocket endpoint: carries frames between sockets and the [`Hub`], and, with
//! `--redis`, between the hub and the other instances (`fanout.rs`).

use crate::accepted::Linger;
use crate::budget::Budget;
use crate::fanout::{Fanout, FanoutState, Joined, Local, Reached};
use crate::metrics::{CloseReason, DropReason, Metrics};
use crate::outbox::{outbox, Backlog, Outbox};
use crate::throttled_log::{self, ThrottledLog};
use crate::Options;
use axum::body::Bytes;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::Extension;
use commonplace_protocol::hub::{ConnId, Delivery, Hub, Rejected};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::{interval_at, sleep, timeout, Instant};
use tracing::{debug, info, warn};

/// How long a closing connection may take to accept its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// What the WebSocket reads the socket into at a time. tungstenite's default, 128 KiB, is
/// zero-filled up front and so held by every idle connection: 132 KB each, 1.3 GB for 10,000
/// (y-webrtc's server: 6.5–11 KB). Signaling frames are a few hundred bytes; a larger frame
/// grows the buffer for as long as it is read, in reads of this size. `scripts/load`, idle
/// WebSockets, RSS per connection at 5,000: 9.1 KiB with 4 KiB, 6.1 KiB with 1 KiB (y-webrtc
/// 10.2 KiB; 7.3 KiB at 10,000); fan-out figures unchanged within their noise.
const READ_BUFFER: usize = 1024;

pub struct Signaling {
    /// One lock for every frame: the hub's work under it (parse, route, queue) is small beside
    /// the per-frame socket writes done outside it. Measured with `scripts/load` (issue 13,
    /// 2 cores, saturating 500 topics of 4): held 12–18% of the time, the server's CPU mostly
    /// in `sendto` (`perf`: ~60%; the hub, serde_json and the queueing under the lock ~3%), so it
    /// does not limit fan-out.
    peers: Mutex<Peers>,
    /// With `--redis`: the link that shares the hub's topics with the other instances.
    fanout: Option<Fanout>,
    /// Becomes true at shutdown. Every connection task holds a receiver until it has ended.
    closing: watch::Sender<bool>,
    max_message: usize,
    client_rate: u64,
    client_burst: u64,
    client_queue: usize,
    ping_interval: Duration,
    metrics: Arc<Metrics>,
    /// Subscribes refused at `--max-topics`: one log for the server, since many connections
    /// (one client's, or everyone's while the server is full) hit it together.
    topics_full: Mutex<ThrottledLog>,
}

struct Peers {
    hub: Hub,
    conns: HashMap<ConnId, Conn>,
}

/// The way to a connection's task. Removing it closes the connection.
struct Conn {
    outbox: Outbox,
    /// Dropped with the connection, which wakes the task even while it is stuck writing.
    _evict: oneshot::Sender<()>,
}

/// Why a connection ended.
enum Ending {
    ClosedByPeer,
    /// A read error: oversized or invalid frame, or a broken socket.
    ReadFailed(axum::Error),
    WriteFailed(axum::Error),
    WriteStalled,
    NoPong,
    /// Its outbox went over its byte bound: it reads slower than others write to it.
    TooSlow,
    Shutdown,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::ClosedByPeer => write!(f, "closed by peer"),
            Ending::ReadFailed(e) => write!(f, "read failed: {e}"),
            Ending::WriteFailed(e) => write!(f, "write failed: {e}"),
            Ending::WriteStalled => write!(f, "a write took longer than the ping interval"),
            Ending::NoPong => write!(f, "no pong since the previous ping"),
            Ending::TooSlow => write!(f, "outgoing queue over its byte bound"),
            Ending::Shutdown => write!(f, "server shutting down"),
        }
    }
}

impl Ending {
    /// The close frame to send, if the socket can still take one.
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Ending::ReadFailed(e) => read_failure_close(e),
            // Rarely seen: the socket is backed up, which is why the queue grew.
            Ending::TooSlow => (close_code::POLICY, "reading too slowly"),
            Ending::Shutdown => (close_code::AWAY, "server shutting down"),
            _ => return None,
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }

    /// How `/metrics` counts it.
    fn metric(&self) -> CloseReason {
        match self {
            Ending::ClosedByPeer => CloseReason::ClientClosed,
            Ending::ReadFailed(e) => match read_failure_close(e).0 {
                close_code::SIZE => CloseReason::TooBig,
                close_code::INVALID => CloseReason::InvalidUtf8,
                close_code::PROTOCOL => CloseReason::ProtocolError,
                _ => CloseReason::ReadError,
            },
            Ending::WriteFailed(_) => CloseReason::WriteError,
            Ending::WriteStalled => CloseReason::WriteStalled,
            Ending::NoPong => CloseReason::NoPong,
            Ending::TooSlow => CloseReason::SlowReader,
            Ending::Shutdown => CloseReason::Shutdown,
        }
    }
}

/// RFC 6455's close code and a reason for what went wrong reading a frame. The error is
/// tungstenite's, behind axum's: a tungstenite other than axum's would not be recognised here,
/// and the tests of 1007 and 1009 would say so.
fn read_failure_close(error: &axum::Error) -> (u16, &'static str) {
    use tungstenite::Error;
    match error.source().and_then(|e| e.downcast_ref::<Error>()) {
        Some(Error::Utf8(_)) => (close_code::INVALID, "invalid UTF-8 in a text frame"),
        Some(Error::Capacity(_)) => (close_code::SIZE, "message too big"),
        Some(Error::Protocol(_)) => (close_code::PROTOCOL, "WebSocket protocol error"),
        _ => (close_code::POLICY, "frame rejected"),
    }
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    linger: Option<Extension<Linger>>,
    State(signaling): State<Arc<Signaling>>,
) -> Response {
    let linger = linger.map(|Extension(linger)| linger);
    let metrics = signaling.metrics.clone();
    ws.max_message_size(signaling.max_message)
        .max_frame_size(signaling.max_message)
        .read_buffer_size(READ_BUFFER)
        // Each frame is written out at once: the writer flushes after every frame anyway.
        .write_buffer_size(0)
        .on_failed_upgrade(move |e| {
            metrics.connection_closed(CloseReason::UpgradeFailed);
            debug!(%remote, error = %e, "WebSocket upgrade failed")
        })
        .on_upgrade(move |socket| signaling.run(socket, remote, linger))
}

impl Signaling {
    /// With [`Options::fanout`], starts the link to Redis too (on the current runtime).
    pub fn new(options: &Options, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new_cyclic(|this: &Weak<Signaling>| Signaling {
            peers: Mutex::new(Peers {
                hub: match options.fanout {
                    Some(_) => Hub::shared(options.limits),
                    None => Hub::new(options.limits),
                },
                conns: HashMap::new(),
            }),
            fanout: options.fanout.clone().map(|config| {
                let local: Weak<dyn Local> = this.clone();
                Fanout::start(config, local)
            }),
            closing: watch::Sender::new(false),
            max_message: options.max_message,
            client_rate: options.client_rate,
            client_burst: options.client_burst,
            client_queue: options.client_queue,
            ping_interval: options.ping_interval,
            metrics,
            topics_full: Mutex::new(ThrottledLog::new(throttled_log::INTERVAL)),
        })
    }

    /// How signaling across instances stands; `None` without `--redis` (`/metrics`,
    /// `/healthz`).
    pub fn redis_signaling_state(&self) -> Option<FanoutState> {
        self.fanout.as_ref().map(Fanout::redis_signaling_state)
    }

    /// Closes every connection and waits (briefly) for their tasks to end.
    pub async fn close_all(&self) {
        self.closing.send_replace(true);
        if timeout(CLOSE_TIMEOUT * 2, self.closing.closed())
            .await
            .is_err()
        {
            warn!("some connections did not close in time");
        }
        if let Some(fanout) = &self.fanout {
            fanout.leave().await;
        }
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        // The hub's state stays consistent between calls, so a panic elsewhere cannot corrupt it.
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves one WebSocket until it ends. `linger`: the socket's lingering close, asked for when
    /// the server closes it (see `accepted`).
    async fn run(self: Arc<Self>, socket: WebSocket, remote: SocketAddr, linger: Option<Linger>) {
        let mut closing = self.closing.subscribe();
        let _open = self.metrics.websocket_opened();
        let (outbox, mut inbox) = outbox(self.client_queue);
        let backlog = outbox.backlog();
        let (evict, mut evicted) = oneshot::channel();
        let id = {
            let mut peers = self.peers();
            let id = peers.hub.connect();
            peers.conns.insert(
                id,
                Conn {
                    outbox,
                    _evict: evict,
                },
            );
            id
        };
        info!(conn = id.0, %remote, "connection opened");

        let (mut sink, mut stream) = socket.split();
        let pong = AtomicBool::new(true);
        let mut rejections = ThrottledLog::new(throttled_log::INTERVAL);
        let reader = async {
            let mut pacing = Pacing::new(self.client_rate, self.client_burst);
            loop {
                self.ready_to_read(id, &backlog, &mut pacing).await;
                let Some(message) = stream.next().await else {
                    return Ending::ClosedByPeer;
                };
                let len = message_len(&message);
                self.metrics.signal_received(&message);
                pacing.budget.spend(len, Instant::now());
                let received = match message {
                    Ok(Message::Text(text)) => self.receive(id, &text, &mut rejections),
                    // server.js parses binary frames as text too.
                    Ok(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                        Ok(text) => self.receive(id, text, &mut rejections),
                        Err(_) => {
                            self.metrics.frame_dropped(DropReason::NotUtf8);
                            debug!(conn = id.0, len = bytes.len(), "non-UTF-8 frame ignored");
                            Received::default()
                        }
                    },
                    Ok(Message::Pong(_)) => {
                        pong.store(true, Ordering::Relaxed);
                        Received::default()
                    }
                    // answered by the WebSocket layer
                    Ok(Message::Ping(_)) => Received::default(),
                    Ok(Message::Close(_)) => return Ending::ClosedByPeer,
                    Err(e) => return Ending::ReadFailed(e),
                };
                // What it made the server write to others counts too, beyond its own length.
                pacing
                    .budget
                    .spend(received.fanned_out.saturating_sub(len), Instant::now());
                if let Some(joined) = received.joined {
                    joined.wait().await;
                }
                if let Some(reached) = received.reached {
                    // As above: what it made the others write, beyond its own length.
                    let elsewhere = reached.bytes().await.saturating_sub(len);
                    pacing.budget.spend(elsewhere, Instant::now());
                }
            }
        };
        let writer = async {
            let mut keepalive =
                interval_at(Instant::now() + self.ping_interval, self.ping_interval);
            loop {
                let (message, frame) = tokio::select! {
                    // None once evicted, which `evicted` reports even mid-write.
                    Some(frame) = inbox.next() => (Message::Text((*frame).into()), Some(frame)),
                    _ = keepalive.tick() => {
                        if !pong.swap(false, Ordering::Relaxed) {
                            return Ending::NoPong;
                        }
                        (Message::Ping(Bytes::new()), None)
                    }
                };
                // A peer that stopped reading would block this write, and with it the keepalive.
                match timeout(self.ping_interval, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ending::WriteFailed(e),
                    Err(_) => return Ending::WriteStalled,
                }
                if let Some(frame) = frame {
                    inbox.sent(&frame);
                    self.metrics.signal_sent(frame.len());
                }
            }
        };
        let ending = tokio::select! {
            ending = reader => ending,
            ending = writer => ending,
            _ = &mut evicted => Ending::TooSlow,
            _ = closing.wait_for(|&closing| closing) => Ending::Shutdown,
        };

        {
            let mut peers = self.peers();
            peers.hub.disconnect(id);
            peers.conns.remove(&id);
            self.share_changes(&mut peers);
            self.metrics.set_topics(peers.hub.topic_count());
        }
        self.metrics.connection_closed(ending.metric());
        let unwritten = rejections.take_unwritten();
        if unwritten > 0 {
            warn!(
                conn = id.0,
                rejected = unwritten,
                "frames rejected since the last line, as it closes"
            );
        }
        if let Some(frame) = ending.close_frame() {
            // The client may still be sending (the rest of a 10 MB message): read and discard
            // it after the close frame, or the kernel's reset may destroy the frame unread.
            if let Some(linger) = &linger {
                linger.on_close();
            }
            let _ = timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
        }
        match ending {
            Ending::ClosedByPeer | Ending::Shutdown => {
                info!(conn = id.0, %remote, reason = %ending, "connection closed")
            }
            _ => warn!(conn = id.0, %remote, reason = %ending, "connection closed"),
        }
    }

    /// Feeds one frame to the hub and queues what it sends; returns the bytes queued for
    /// connections other than the sender. A receiver whose queue would go over its byte bound is
    /// dropped, so one slow peer cannot make the server buffer without bound.
    ///
    /// The sender's budget is charged those bytes (or its frame's length, if more): a publish
    /// into a topic of 50 costs 50 times its size. Charged only for what it sent, one client
    /// publishing at its 1 MiB/s put 50 MiB/s in front of 50 subscribers, and every subscriber
    /// reading slower than 1 MiB/s fell behind by 8 MiB and was closed within seconds (issue
    /// 13); charged for what it fans out, it is slowed to what the server may write for it, and
    /// the subscribers keep up. A pair relaying through the server pays as before: one receiver.
    /// With `--redis`, the subscribers on other instances count too (as last counted), since
    /// their servers write it to each of them.
    ///
    /// A rejected frame the client should not have sent is logged through `rejections`: a line
    /// now and then, with a count, not one per frame.
    fn receive(&self, from: ConnId, frame: &str, rejections: &mut ThrottledLog) -> Received {
        let mut guard = self.peers();
        let peers = &mut *guard;
        let handled = match peers.hub.handle(from, frame) {
            Ok(handled) => handled,
            Err(rejected) => {
                drop(guard);
                self.metrics.frame_dropped(DropReason::of(&rejected));
                let (conn, len) = (from.0, frame.len());
                match rejected {
                    Rejected::TooManyTopicsOverall { limit } => {
                        let mut log = self
                            .topics_full
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        if let Some(count) = log.event(Instant::now()) {
                            warn!(
                                conn,
                                limit,
                                rejected = count,
                                "subscribes rejected: the server holds --max-topics topics, \
                                 no new ones until some empty"
                            );
                        }
                    }
                    Rejected::TooManyTopics { .. } | Rejected::TopicTooLong { .. } => {
                        if let Some(count) = rejections.event(Instant::now()) {
                            warn!(
                                conn,
                                len,
                                rejected = count,
                                "frames rejected, the latest: {rejected}"
                            );
                        }
                    }
                    _ => debug!(conn, len, "frame ignored: {rejected}"),
                }
                return Received::default();
            }
        };
        self.metrics.hub_delivered(frame.len(), &handled.deliveries);
        self.metrics.set_topics(peers.hub.topic_count());
        // A publish to a topic with subscribers here is delivered to them, its sender included.
        let counted = !handled.deliveries.is_empty();
        let mut received = Received {
            fanned_out: peers.queue(handled.deliveries, Some(from), &self.metrics),
            ..Received::default()
        };
        if let Some(fanout) = &self.fanout {
            if let Some(forward) = handled.forward {
                let elsewhere = forward.frame.len().saturating_mul(forward.elsewhere);
                received.fanned_out = received.fanned_out.saturating_add(elsewhere);
                received.reached = fanout.forward(forward, counted);
            }
            received.joined = fanout.changed(peers.hub.take_changes());
        }
        received
    }

    /// Tells the link to Redis, if any, which topics' counts changed.
    fn share_changes(&self, peers: &mut Peers) {
        if let Some(fanout) = &self.fanout {
            // Leaving (or being closed) gives no topic its first subscriber: nobody waits.
            drop(fanout.changed(peers.hub.take_changes()));
        }
    }

    /// Waits until the connection may send more: until it is within its byte budget, and its
    /// own queue has room for an echo or a pong (a peer that publishes faster than it reads is
    /// slowed down instead of overflowing its own queue).
    async fn ready_to_read(&self, id: ConnId, backlog: &Backlog, pacing: &mut Pacing) {
        self.pace(id, pacing).await;
        backlog.room_for(self.max_message).await;
        if let Some(fanout) = &self.fanout {
            fanout.room().await;
        }
    }

    async fn pace(&self, id: ConnId, pacing: &mut Pacing) {
        let now = Instant::now();
        match pacing.budget.wait(now) {
            Some(wait) => {
                if pacing.since.is_none() {
                    pacing.since = Some(now);
                    info!(
                        conn = id.0,
                        rate = self.client_rate,
                        burst = self.client_burst,
                        "over its byte budget: reading from it paced"
                    );
                }
                // Not reading is the pacing: TCP holds the rest back at the sender.
                sleep(wait).await;
            }
            None => {
                if let Some(since) = pacing.since {
                    if pacing.budget.is_full(now) {
                        pacing.since = None;
                        let secs = now.duration_since(since).as_secs();
                        debug!(conn = id.0, secs, "back within its byte budget");
                    }
                }
            }
        }
    }
}

impl Peers {
    /// Queues `deliveries`; returns the bytes queued for connections other than `sender`. A
    /// receiver whose queue would go over its byte bound is dropped.
    fn queue(
        &mut self,
        deliveries: Vec<Delivery>,
        sender: Option<ConnId>,
        metrics: &Metrics,
    ) -> usize {
        let mut fanned_out = 0usize;
        for delivery in deliveries {
            if Some(delivery.to) != sender {
                fanned_out = fanned_out.saturating_add(delivery.frame.len());
            }
            let Some(conn) = self.conns.get(&delivery.to) else {
                continue;
            };
            if conn.outbox.push(delivery.frame).is_err() {
                // Dropping the connection's entry ends its task, which logs why.
                metrics.frame_dropped(DropReason::ReceiverTooSlow);
                self.hub.disconnect(delivery.to);
                self.conns.remove(&delivery.to);
            }
        }
        fanned_out
    }
}

/// What one frame from a connection made happen, for its reader.
#[derive(Default)]
struct Received {
    /// Bytes written to others for it (see [`Signaling::receive`]).
    fanned_out: usize,
    /// Its first subscription here to a topic, on its way to Redis.
    joined: Option<Joined>,
    /// Its publish to a topic without subscribers here, counted on the way through Redis.
    reached: Option<Reached>,
}

/// The hub as the link to Redis reaches it.
impl Local for Signaling {
    /// Into the receivers' bounded queues, as a local publish: one that falls too far behind is
    /// closed, whoever published.
    fn deliver(&self, frame: &str) {
        let mut peers = self.peers();
        match peers.hub.deliver(frame) {
            Ok(deliveries) => {
                peers.queue(deliveries, None, &self.metrics);
            }
            Err(rejected) => debug!(
                len = frame.len(),
                "a publish from another instance ignored: {rejected}"
            ),
        }
        self.share_changes(&mut peers);
    }

    fn set_elsewhere(&self, counts: Vec<(String, usize)>) {
        let mut peers = self.peers();
        for (topic, count) in counts {
            peers.hub.set_elsewhere(&topic, count);
        }
    }

    fn clear_elsewhere(&self) {
        self.peers().hub.clear_elsewhere();
    }
}

/// A connection's byte budget, and since when it has been paced (logged once per episode).
struct Pacing {
    budget: Budget,
    since: Option<Instant>,
}

impl Pacing {
    fn new(rate: u64, burst: u64) -> Self {
        Pacing {
            budget: Budget::new(rate, burst, Instant::now()),
            since: None,
        }
    }
}

/// What a message costs against the sender's budget: its payload.
fn message_len(message: &Result<Message, axum::Error>) -> usize {
    match message {
        Ok(Message::Text(text)) => text.len(),
        Ok(Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes)) => bytes.len(),
        Ok(Message::Close(_)) | Err(_) => 0,
    }
}
