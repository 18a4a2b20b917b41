//! One room, seen from one peer: a sans-IO state machine in str0m's and quinn-proto's shape.
//!
//! The shell feeds in what happened, with the time ([`Room::handle`] and the person's actions:
//! [`Room::edit`], [`Room::set_cursor`], page operations), drains what comes back
//! ([`Room::poll_output`]: [`Transmit`]s to send, [`Effect`]s to carry out, [`Event`]s to show)
//! and wakes the room when [`Room::poll_timeout`] says. It speaks y-webrtc's protocols on every
//! side, so a stock Yjs + y-webrtc peer can share the room.
//!
//! The room is made of parts that own their state, and routes between them:
//! - [`signaling`] — the signaling server: subscribe, announce, publish, keep-alive, secrets;
//! - [`mesh`] — WebRTC links to peers: glare, chunks, each link's sync handshake
//!   ([`peer_sync`]);
//! - [`tabs`] — this browser's other tabs on a BroadcastChannel;
//! - [`sync`] — others' updates into the document, held back while they have gaps;
//!   [`state_log`] — the updates that made it, sent as they are to whoever joins with nothing;
//! - [`pages`] — the notebook: pages, text, undo; [`presence`] — who is here, their carets.
//!
//! Peers form a full mesh. Like y-webrtc, a peer relays an update it learned from one peer to
//! the others, once, and only if it was new: that keeps a room converging when some pairs
//! cannot connect directly, and costs nothing when they can (a known update is not new).
//! Every change to the document, local or remote, goes to the store ([`Effect::Store`]);
//! [`Room::load`] reads it back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::frame::Frame;
use commonplace_protocol::signaling::RoomSignal;
use commonplace_protocol::store_crypto::StoreKeys;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use yrs::sync::{Awareness, Message};
use yrs::Doc;

mod history;
mod input;
mod mesh;
mod output;
mod pages;
mod peer_sync;
mod presence;
mod relay;
mod rename_repair;
mod server_copy;
pub mod server_store;
mod signaling;
mod state_log;
#[cfg(test)]
mod state_log_tests;
mod store_http;
mod sync;
mod tabs;

pub use history::{
    ChangedLine, VersionEntry, VersionTiming, VersionView, AUTO_EVERY_MS, AUTO_PAUSE_MS,
};
pub use input::Input;
pub use mesh::{Path, CONNECT_TIMEOUT_MS, DIRECT_RETRY_MS, RELAY_AFTER_MS, RELAY_SILENCE_MS};
pub use output::{Effect, Event, Output, Status, Transmit};
pub use peer_sync::{ANSWERER_WAIT_MS, RESYNC_MS, SYNC_RETRY_MAX_MS, SYNC_RETRY_MS};
pub use presence::{Person, RemoteCursor, AWARENESS_RENEW_MS, AWARENESS_TIMEOUT_MS};
pub use signaling::{SIGNALING_PING_MS, SIGNALING_TIMEOUT_MS, STRANGER_ANNOUNCE_MS};
pub use store_http::HttpRequest;

use crate::peer_message;
use mesh::Mesh;
use output::Outputs;
use pages::Pages;
use presence::Presence;
use server_store::{ServerCopy, ServerStore};
use signaling::{Heard, SignalingClient};
use state_log::StateLog;
use sync::DocSync;
use tabs::Tabs;

/// y-webrtc's peer id: a random UUID per session, used only to address signals.
pub type PeerId = String;

/// Transaction origins: this person's edits, others' updates, the store's.
const LOCAL: &str = "local";
const REMOTE: &str = "remote";
const STORED: &str = "stored";
/// An update that changed nothing: no structs, no deletions.
const EMPTY_UPDATE: [u8; 2] = [0, 0];

#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub name: String,
    pub peer_id: PeerId,
    /// The Yjs client id of this peer's edits.
    pub client_id: u64,
    /// 32 bytes of OS entropy: seeds the CSPRNGs that draw the IVs of encrypted messages
    /// (they must be unpredictable and never repeat), glare tokens' fractions and page ids.
    pub entropy: [u8; 32],
    /// At most this many connections, like y-webrtc's `maxConns`.
    pub max_conns: usize,
    /// The key from the room's secret ([`RoomKey::derive`]); `None`: an open room.
    pub key: Option<RoomKey>,
}

pub struct Room {
    peer_id: PeerId,
    /// The time of the input being handled, also read by awareness and undo.
    now: u64,
    clock: Arc<AtomicU64>,
    /// Holds the document.
    awareness: Awareness,
    signaling: SignalingClient,
    mesh: Mesh,
    tabs: Tabs,
    sync: DocSync,
    /// The updates that made the document, for those who join with nothing.
    log: StateLog,
    pages: Pages,
    presence: Presence,
    server_store: Option<ServerStore>,
    /// Updates of a store read cut at its size bound, until the rest has come.
    store_read: Vec<Vec<u8>>,
    versions: history::Versions,
    /// A keyed room's store keys and its nonces' CSPRNG stream, until the shell opens the
    /// server store ([`Room::open_server_store`]).
    unopened_store: Option<(StoreKeys, ChaCha20Rng)>,
    undecryptable: bool,
    status: Status,
    out: Outputs,
}

impl Room {
    /// A room over `doc`, which must come from [`crate::notebook::new_doc`] (UTF-16 offsets).
    pub fn new(config: RoomConfig, doc: Doc, now: u64) -> Room {
        let clock = Arc::new(AtomicU64::new(now));
        let clock_reader = clock.clone();
        let mut awareness =
            Awareness::with_clock(doc, move || clock_reader.load(Ordering::Relaxed));
        // y-protocols starts every peer with an empty state: it tells others "I am here".
        awareness.set_local_state_raw("{}");
        // One CSPRNG stream per part: none can learn or repeat another's draws.
        let rng = |stream| {
            let mut rng = ChaCha20Rng::from_seed(config.entropy);
            rng.set_stream(stream);
            rng
        };
        let RoomConfig {
            name, peer_id, key, ..
        } = config;
        let unopened_store = key.as_ref().map(|key| (StoreKeys::derive(key), rng(5)));
        let history_store = key
            .as_ref()
            .map(|key| (StoreKeys::derive_history(key), rng(6)));
        Room {
            signaling: SignalingClient::new(name, key.clone(), rng(1)),
            mesh: Mesh::new(peer_id.clone(), config.max_conns, rng(2)),
            tabs: Tabs::new(peer_id.clone(), key, rng(3)),
            pages: Pages::new(awareness.doc(), rng(4)),
            presence: Presence::new(now, peer_id.clone()),
            server_store: None,
            store_read: Vec::new(),
            unopened_store,
            versions: history::Versions::new(config.client_id, history_store, rng(7)),
            sync: DocSync::default(),
            log: StateLog::new(awareness.doc()),
            peer_id,
            now,
            clock,
            awareness,
            undecryptable: false,
            status: Status::default(),
            out: Outputs::default(),
        }
    }

    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    pub fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The next thing for the shell to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.flush_relay();
        self.flush_server_store();
        self.flush_history_store();
        self.out.pop()
    }

    /// When the room next needs [`Input::Timeout`]: keep-alives, connection and sync
    /// deadlines, presence renewal and expiry. `None`: only when something else happens.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.signaling.poll_timeout(),
            self.mesh.poll_timeout(),
            self.presence.poll_timeout(),
            self.server_store
                .as_ref()
                .and_then(ServerStore::poll_timeout),
            self.versions.poll_timeout(),
            self.pages.own_renames.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle(&mut self, now: u64, input: Input<'_>) {
        self.set_time(now);
        match input {
            Input::SignalingOpen => {
                self.signaling.on_open(now);
                self.announce();
                // A sign of life from the network: the server's store need not wait out the
                // backoff of an earlier failure either.
                if let Some(store) = &mut self.server_store {
                    store.on_online(now);
                }
                self.history_store_online(now);
            }
            Input::SignalingClosed => self.signaling.on_closed(),
            Input::SignalingFrame(text) => match self.signaling.on_frame(now, text) {
                Heard::Nothing => {}
                Heard::Signal(signal) => self.on_room_signal(signal),
                Heard::Stranger => self.answer_stranger(),
                Heard::Unreadable(why) => {
                    self.answer_stranger();
                    self.undecryptable(why);
                }
                Heard::Malformed(why) => self.out.dropped(why),
            },
            Input::LocalSignal { peer, signal } => {
                if let Some(signal) = self.mesh.on_local_signal(now, peer, signal) {
                    self.signaling.publish(signal, &mut self.out);
                }
            }
            Input::ChannelOpen { peer, announced } => {
                if self.mesh.on_open(now, peer, announced) {
                    self.nudge();
                }
            }
            Input::PeerFrame { peer, bytes } => self.on_peer_frame(peer, Path::Direct, bytes),
            Input::PeerClosed { peer } => {
                if self.mesh.on_closed(now, peer) {
                    self.announce();
                }
            }
            Input::BroadcastOpen => self.on_broadcast_open(),
            Input::BroadcastFrame(bytes) => self.on_broadcast_frame(bytes),
            Input::Timeout => self.on_timeout(),
            Input::StoreReply(reply) => self.on_store_reply(reply),
            Input::HistoryStoreReply(reply) => self.on_history_store_reply(reply),
            Input::Online => {
                self.mesh.restart_direct(now, &mut self.out);
                if let Some(store) = &mut self.server_store {
                    store.on_online(now);
                }
                self.history_store_online(now);
            }
        }
        self.update_status();
    }

    /// Says goodbye before the page goes: other tabs forget this one, peers drop its presence.
    pub fn leave(&mut self, now: u64) {
        self.set_time(now);
        self.tabs.leave(&mut self.out);
        let own = self.awareness.client_id();
        self.awareness.remove_state(own);
        if let Ok(update) = self.awareness.update_with_clients([own]) {
            self.broadcast(&Message::Awareness(update), None);
        }
        self.relay_goodbye();
        self.flush_relay();
        self.signaling.leave(&mut self.out);
    }

    /// The peers frames reach now, and how: over a data channel or through the server.
    pub fn paths(&self) -> Vec<(PeerId, Path)> {
        self.mesh
            .paths()
            .map(|(peer, path)| (peer.clone(), path))
            .collect()
    }

    /// How long the last sync round trip with `peer` took (a question answered), ms.
    pub fn rtt(&self, peer: &str) -> Option<u64> {
        self.mesh.rtt(peer)
    }

    /// Where syncing with each peer stands, for a person debugging a room (and for tests that
    /// print it when a peer is left behind).
    pub fn sync_report(&self) -> String {
        let held = self.sync.held();
        let peers = self.mesh.report();
        // Written out, not `{:?}`: the browser app's build prints derived Debug as the type's
        // name alone (.cargo/config.toml, -Zfmt-debug=shallow); enums keep their variant names.
        let Status {
            online,
            peers: open,
            tabs,
            synced,
            undecryptable,
            server_copy,
        } = self.status;
        format!(
            "online {online}, {open} peers open, {tabs} tabs, synced {synced}, \
             undecryptable {undecryptable}, server copy {server_copy:?}; \
             {held} updates held back{peers}"
        )
    }

    fn set_time(&mut self, now: u64) {
        self.now = now;
        self.clock.store(now, Ordering::Relaxed);
    }

    fn update_status(&mut self) {
        let status = Status {
            online: self.signaling.online(),
            peers: self.mesh.paths().count(),
            tabs: self.tabs.count(),
            synced: self.mesh.all_synced(),
            undecryptable: self.undecryptable,
            server_copy: self
                .server_store
                .as_ref()
                .map_or(ServerCopy::None, ServerStore::server_copy),
        };
        if status != self.status {
            self.status = status;
            self.out.event(Event::StatusChanged(status));
        }
    }

    /// (Re)subscribes, and invites connections while there is room for them.
    fn announce(&mut self) {
        let invite = self.mesh.has_room();
        self.signaling
            .announce(&self.peer_id, invite, &mut self.out);
    }

    fn answer_stranger(&mut self) {
        if self.signaling.stranger_due(self.now) {
            self.announce();
        }
    }

    fn on_room_signal(&mut self, signal: RoomSignal) {
        match signal {
            // Tabs of this browser talk over the BroadcastChannel instead.
            RoomSignal::Announce { from } if !self.tabs.contains(&from) => {
                self.mesh.on_announce(self.now, from, &mut self.out);
            }
            RoomSignal::Signal {
                from,
                to,
                token,
                signal,
                chunks,
            } if to == self.peer_id && from != self.peer_id && !self.tabs.contains(&from) => {
                let out = &mut self.out;
                self.mesh
                    .on_remote_signal(self.now, from, token, signal, chunks, out);
            }
            RoomSignal::Relay { from, to, frame }
                if to == self.peer_id && from != self.peer_id && !self.tabs.contains(&from) =>
            {
                self.on_relayed_frame(&from, &frame);
            }
            _ => {}
        }
    }

    /// A frame from `peer` over `path` (a data channel, or the server).
    fn on_peer_frame(&mut self, peer: &str, path: Path, bytes: &[u8]) {
        if !self.mesh.knows(peer) {
            // A connection the room gave up (or never asked for): the shell closes those.
            return self
                .out
                .dropped(format!("frame from {peer}, who has no connection"));
        }
        // A frame on a data channel proves this end of it open (see ANSWERER_WAIT_MS): greet
        // the peer first if that was still to do.
        if path == Path::Direct {
            self.mesh.on_open(self.now, peer, false);
        }
        if let Some(sync) = self.mesh.sync_mut(peer) {
            sync.on_frame();
        }
        self.nudge();
        let Some(frame) = self
            .mesh
            .on_frame(self.now, peer, path, bytes, &mut self.out)
        else {
            return;
        };
        match peer_message::decode(&frame) {
            Ok(message) => self.on_message(Source::Peer(peer), message),
            Err(error) => self.out.dropped(format!("frame from {peer}: {error:?}")),
        }
    }

    fn on_timeout(&mut self) {
        self.signaling.on_timeout(self.now, &mut self.out);
        if self.mesh.on_timeout(self.now, &mut self.out) {
            self.announce();
        }
        self.nudge();
        let (renewal, expired) = self.presence.on_timeout(self.now, &mut self.awareness);
        if let Some(update) = renewal {
            self.broadcast(&Message::Awareness(update), None);
        }
        if expired {
            self.out.event(Event::PresenceChanged);
        }
        self.on_history_timeout();
        self.repair_lost_renames(self.now);
    }

    fn reply(&mut self, to: Source<'_>, message: &Message) {
        self.reply_frame(to, peer_message::encode(message));
    }

    fn reply_frame(&mut self, to: Source<'_>, bytes: Vec<u8>) {
        match to {
            Source::Peer(peer) => self.mesh.send(peer, bytes, &mut self.out),
            Source::Broadcast => self.tabs.post(bytes, &mut self.out),
        }
    }

    /// Sends to every open peer and to the other tabs, except where it came from.
    fn broadcast(&mut self, message: &Message, except: Option<Source<'_>>) {
        self.broadcast_with(|| peer_message::encode(message), except);
    }

    /// [`Room::broadcast`] of an update of the document, framed from where it lies.
    fn broadcast_update(&mut self, update: &[u8], except: Option<Source<'_>>) {
        self.broadcast_with(|| Frame::Update(update).encode(), except);
    }

    /// Encodes the frame only if someone is there to get it: a peer relays every update it
    /// receives, to nobody when it has no other peer or tab.
    fn broadcast_with(&mut self, encode: impl FnOnce() -> Vec<u8>, except: Option<Source<'_>>) {
        let except_peer = match except {
            Some(Source::Peer(peer)) => Some(peer),
            _ => None,
        };
        let tabs = except != Some(Source::Broadcast) && self.tabs.count() > 0;
        if !tabs && !self.mesh.reaches_any_but(except_peer) {
            return;
        }
        let bytes = encode();
        self.mesh.broadcast(&bytes, except_peer, &mut self.out);
        if tabs {
            self.tabs.post_to_known(bytes, &mut self.out);
        }
    }

    fn undecryptable(&mut self, why: String) {
        self.undecryptable = true;
        self.out.dropped(why);
    }
}

/// 72 random bits, base64url: ids (of pages, of versions) that never collide in practice, short
/// enough for links.
pub(crate) fn random_id(rng: &mut ChaCha20Rng) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 9];
    rng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn next_iv(rng: &mut ChaCha20Rng) -> [u8; 12] {
    let mut iv = [0; 12];
    rng.fill_bytes(&mut iv);
    iv
}

/// Where a message came from, and where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source<'a> {
    Peer(&'a str),
    Broadcast,
}

impl std::fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Peer(peer) => write!(f, "peer {peer}"),
            Source::Broadcast => f.write_str("another tab"),
        }
    }
}

/// A room of its own (unkeyed, client 1, at time 0) for the crate's unit tests.
#[cfg(test)]
pub(crate) fn test_room() -> Room {
    test_room_as("me", 1)
}

/// [`test_room`] for another peer and client.
#[cfg(test)]
pub(crate) fn test_room_as(peer_id: &str, client_id: u64) -> Room {
    let config = RoomConfig {
        name: "r".into(),
        peer_id: peer_id.into(),
        client_id,
        entropy: [client_id as u8; 32],
        max_conns: 20,
        key: None,
    };
    Room::new(config, crate::notebook::new_doc(client_id), 0)
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn the_sync_report_is_written_out_not_debug() {
        let room = test_room();
        let report = room.sync_report();
        assert!(
            report.starts_with("online false, 0 peers open, 0 tabs, synced "),
            "{report}"
        );
        assert!(
            report.ends_with("server copy None; 0 updates held back"),
            "{report}"
        );
    }
}
