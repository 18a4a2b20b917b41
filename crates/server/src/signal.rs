//! The `/signal` WebSocket endpoint: carries frames between sockets and the [`Hub`].

use crate::Options;
use axum::body::Bytes;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use commonplace_protocol::hub::{ConnId, Hub, Rejected};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{interval_at, timeout, Instant};
use tracing::{debug, info, warn};

/// How long a closing connection may take to accept its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Signaling {
    peers: Mutex<Peers>,
    /// Becomes true at shutdown. Every connection task holds a receiver until it has ended.
    closing: watch::Sender<bool>,
    max_message: usize,
    queue_len: usize,
    ping_interval: Duration,
}

struct Peers {
    hub: Hub,
    outboxes: HashMap<ConnId, Outbox>,
}

/// The way to a connection's task. Removing it closes the connection.
struct Outbox {
    frames: mpsc::Sender<Arc<str>>,
    /// Dropped with the outbox, which wakes the task even while it is stuck writing.
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
    /// Its outbox filled up: it reads slower than others write to it.
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
            Ending::TooSlow => write!(f, "outgoing queue full"),
            Ending::Shutdown => write!(f, "server shutting down"),
        }
    }
}

impl Ending {
    /// The close frame to send, if the socket can still take one.
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Ending::ReadFailed(_) => (close_code::POLICY, "frame rejected"),
            Ending::Shutdown => (close_code::AWAY, "server shutting down"),
            _ => return None,
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(signaling): State<Arc<Signaling>>,
) -> Response {
    ws.max_message_size(signaling.max_message)
        .max_frame_size(signaling.max_message)
        .on_failed_upgrade(move |e| debug!(%remote, error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| signaling.run(socket, remote))
}

impl Signaling {
    pub fn new(options: &Options) -> Self {
        Signaling {
            peers: Mutex::new(Peers {
                hub: Hub::new(options.limits),
                outboxes: HashMap::new(),
            }),
            closing: watch::Sender::new(false),
            max_message: options.max_message,
            queue_len: options.queue_len,
            ping_interval: options.ping_interval,
        }
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
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        // The hub's state stays consistent between calls, so a panic elsewhere cannot corrupt it.
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(self: Arc<Self>, socket: WebSocket, remote: SocketAddr) {
        let mut closing = self.closing.subscribe();
        let (own_frames, mut outgoing) = mpsc::channel(self.queue_len);
        let (evict, mut evicted) = oneshot::channel();
        let id = {
            let mut peers = self.peers();
            let id = peers.hub.connect();
            peers.outboxes.insert(
                id,
                Outbox {
                    frames: own_frames.clone(),
                    _evict: evict,
                },
            );
            id
        };
        info!(conn = id.0, %remote, "connection opened");

        let (mut sink, mut stream) = socket.split();
        let pong = AtomicBool::new(true);
        let reader = async {
            loop {
                // Read only while our own queue has room for an echo: a peer that publishes
                // faster than it reads is slowed down instead of overflowing its own queue.
                let _ = own_frames.reserve().await;
                let Some(message) = stream.next().await else {
                    return Ending::ClosedByPeer;
                };
                match message {
                    Ok(Message::Text(text)) => self.receive(id, &text),
                    // server.js parses binary frames as text too.
                    Ok(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                        Ok(text) => self.receive(id, text),
                        Err(_) => debug!(conn = id.0, len = bytes.len(), "non-UTF-8 frame ignored"),
                    },
                    Ok(Message::Pong(_)) => pong.store(true, Ordering::Relaxed),
                    Ok(Message::Ping(_)) => {} // answered by the WebSocket layer
                    Ok(Message::Close(_)) => return Ending::ClosedByPeer,
                    Err(e) => return Ending::ReadFailed(e),
                }
            }
        };
        let writer = async {
            let mut keepalive =
                interval_at(Instant::now() + self.ping_interval, self.ping_interval);
            loop {
                let message = tokio::select! {
                    // `own_frames` keeps the queue open: eviction is signalled by `evicted`.
                    Some(frame) = outgoing.recv() => Message::Text((*frame).into()),
                    _ = keepalive.tick() => {
                        if !pong.swap(false, Ordering::Relaxed) {
                            return Ending::NoPong;
                        }
                        Message::Ping(Bytes::new())
                    }
                };
                // A peer that stopped reading would block this write, and with it the keepalive.
                match timeout(self.ping_interval, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ending::WriteFailed(e),
                    Err(_) => return Ending::WriteStalled,
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
            peers.outboxes.remove(&id);
        }
        if let Some(frame) = ending.close_frame() {
            let _ = timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
        }
        match ending {
            Ending::ClosedByPeer | Ending::Shutdown => {
                info!(conn = id.0, %remote, reason = %ending, "connection closed")
            }
            _ => warn!(conn = id.0, %remote, reason = %ending, "connection closed"),
        }
    }

    /// Feeds one frame to the hub and queues what it sends. A receiver whose queue is full is
    /// dropped, so one slow peer cannot make the server buffer without bound.
    fn receive(&self, from: ConnId, frame: &str) {
        let mut guard = self.peers();
        let peers = &mut *guard;
        let deliveries = match peers.hub.receive(from, frame) {
            Ok(deliveries) => deliveries,
            Err(rejected) => {
                drop(guard);
                let (conn, len) = (from.0, frame.len());
                match rejected {
                    Rejected::TooManyTopics { .. } | Rejected::TopicTooLong { .. } => {
                        warn!(conn, len, "frame rejected: {rejected}")
                    }
                    _ => debug!(conn, len, "frame ignored: {rejected}"),
                }
                return;
            }
        };
        for delivery in deliveries {
            let Some(outbox) = peers.outboxes.get(&delivery.to) else {
                continue;
            };
            if let Err(TrySendError::Full(_)) = outbox.frames.try_send(delivery.frame) {
                // Dropping the outbox ends that connection's task, which logs why.
                peers.hub.disconnect(delivery.to);
                peers.outboxes.remove(&delivery.to);
            }
        }
    }
}
