//! One room, seen from one peer: a sans-IO state machine.
//!
//! The shell feeds in what happened ([`Input`]: frames from the signaling server, signals and
//! frames from WebRTC connections, local edits, the clock) and carries out what comes back
//! ([`Output`]: frames to send, connections to open or close, splices to show). It speaks
//! y-webrtc's protocols on both sides, so a stock Yjs + y-webrtc peer can share the room.
//!
//! Peers form a full mesh. Like y-webrtc, a peer relays an update it learned from one peer to
//! the others, once, and only if it was new: that keeps a room converging when some pairs
//! cannot connect directly, and costs nothing when they can (a known update is not new).
//!
//! Tabs of one browser also meet on a BroadcastChannel named after the room (y-webrtc's
//! format), with no network at all; tabs that know each other that way skip WebRTC. Every
//! change to the document, local or remote, is handed to the shell to store
//! ([`Output::Store`]); [`Room::load`] reads it back.
//!
//! A room with a key ([`RoomConfig::key`]) encrypts what it publishes through the signaling
//! server and posts on the BroadcastChannel, as y-webrtc does with a password; data channels
//! stay as they are (DTLS already encrypts them).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use commonplace_protocol::chunk::{self, Reassembled, Reassembler};
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::frame;
use commonplace_protocol::signaling::{ClientMessage, RoomSignal, ServerMessage, SignalData};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::Value;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::undo::UndoManager;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, Update};

mod pages;
mod peer_sync;
mod presence;

use peer_sync::{Nudge, PeerSync};
pub use peer_sync::{ANSWERER_WAIT_MS, RESYNC_MS, SYNC_RETRY_MAX_MS, SYNC_RETRY_MS};
pub use presence::{Person, RemoteCursor};

use crate::notebook::Notebook;
use crate::peer_message;
use crate::text::diff::Splice;

/// y-webrtc's peer id: a random UUID per session, used only to address signals.
pub type PeerId = String;

/// A connection that has not opened by then is abandoned and the room re-announced.
pub const CONNECT_TIMEOUT_MS: u64 = 20_000;
/// y-protocols' awareness timing: states are renewed every 15 s and forgotten after 30 s.
pub const AWARENESS_RENEW_MS: u64 = 15_000;
pub const AWARENESS_TIMEOUT_MS: u64 = 30_000;
/// lib0's WebSocket client timing: ping the signaling server after 15 s of silence, give the
/// connection up after 30 s (a half-open socket can look alive for minutes).
pub const SIGNALING_PING_MS: u64 = 15_000;
pub const SIGNALING_TIMEOUT_MS: u64 = 30_000;
/// A keyed room that hears from someone it cannot read, or who cannot read it, announces
/// itself again at most this often: a newcomer with another secret, or none, then sees that
/// the room is there but encrypted ([`Status::undecryptable`]) instead of an empty room.
pub const STRANGER_ANNOUNCE_MS: u64 = 10_000;

const LOCAL: &str = "local";
const REMOTE: &str = "remote";
const STORED: &str = "stored";
/// Bounds on updates held back for missing predecessors (a hostile peer could send many).
const MAX_HELD_UPDATES: usize = 1_024;
const MAX_HELD_BYTES: usize = 16 << 20;
/// An update that changed nothing: no structs, no deletions.
const EMPTY_UPDATE: [u8; 2] = [0, 0];

#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub name: String,
    pub peer_id: PeerId,
    /// The Yjs client id of this peer's edits.
    pub client_id: u64,
    /// 32 bytes of OS entropy: seeds the CSPRNG that draws the IVs of encrypted messages
    /// (they must be unpredictable and never repeat) and the glare tokens' fractions.
    pub entropy: [u8; 32],
    /// At most this many connections, like y-webrtc's `maxConns`.
    pub max_conns: usize,
    /// The key from the room's secret ([`RoomKey::derive`]); `None`: an open room.
    pub key: Option<RoomKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// The signaling WebSocket opened.
    SignalingOpen,
    /// The signaling WebSocket closed; open peer connections carry on without it.
    SignalingClosed,
    /// A text frame from the signaling server.
    SignalingFrame(&'a str),
    /// This peer's WebRTC connection to `peer` produced an offer, answer or candidate.
    LocalSignal { peer: &'a str, signal: SignalData },
    /// The data channel to `peer` is open. `announced`: the other side created it and this
    /// end learned of it from a `datachannel` event (see [`ANSWERER_WAIT_MS`]).
    ChannelOpen { peer: &'a str, announced: bool },
    /// A frame arrived on the data channel from `peer`.
    PeerFrame { peer: &'a str, bytes: &'a [u8] },
    /// The connection to `peer` closed or failed.
    PeerClosed { peer: &'a str },
    /// The room's BroadcastChannel is open: greet the other tabs.
    BroadcastOpen,
    /// A frame from another tab on the BroadcastChannel.
    BroadcastFrame(&'a [u8]),
    /// Time passed; call every second or so.
    Tick,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this text frame to the signaling server (dropped if it is not connected).
    Signaling(String),
    /// The signaling connection has been silent too long: close it and connect again.
    ReconnectSignaling,
    /// Open a WebRTC connection to `peer`; the initiator creates the data channel and offers.
    Connect {
        peer: PeerId,
        initiator: bool,
    },
    /// Give the connection to `peer` this signal from the other side.
    Signal {
        peer: PeerId,
        signal: SignalData,
    },
    /// Close the connection to `peer`.
    Disconnect {
        peer: PeerId,
    },
    /// A large message from `peer` is arriving in chunks: `received` of `total` bytes so far
    /// (the last report has `received == total`).
    Receiving {
        peer: PeerId,
        received: usize,
        total: usize,
    },
    /// Send this frame on the data channel to `peer`.
    Send {
        peer: PeerId,
        bytes: Vec<u8>,
    },
    /// Post this frame on the room's BroadcastChannel.
    Broadcast(Vec<u8>),
    /// Store this update (a Yjs v1 update) durably: it changed the document.
    Store(Vec<u8>),
    /// The list of pages changed: one was added, removed, renamed or moved (by anyone).
    PagesChanged,
    /// Someone else (a peer, a stored update, undo or redo) changed a page's text: apply these
    /// splices, in order, to what the editor shows of it. Local edits are not echoed.
    PageChanged {
        page: String,
        splices: Vec<Splice>,
    },
    /// Someone's presence (name, colour, page, caret) changed, or someone came or went.
    PresenceChanged,
    StatusChanged(Status),
    /// Bad input was dropped; worth a log line, never a crash.
    Dropped(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// The signaling server is connected.
    pub online: bool,
    /// Peers with an open data channel.
    pub peers: usize,
    /// Other tabs of this browser in the room (over the BroadcastChannel).
    pub tabs: usize,
    /// Every open peer has sent us its state (sync step 2) since we last asked for it; until
    /// then the room is still syncing.
    pub synced: bool,
    /// Messages for this room arrived that this peer cannot read: someone in it uses another
    /// secret, or none. Stays set for the life of the room.
    pub undecryptable: bool,
}

#[derive(Debug)]
struct Peer {
    /// y-webrtc's glare token: set when this side sends its first signal, cleared once an
    /// offer or answer from the other side is accepted.
    glare_token: Option<f64>,
    open: bool,
    /// The sync handshake over the open channel.
    sync: PeerSync,
    created_at: u64,
    /// The largest message the peer reassembles from chunks; `None`: a y-webrtc peer.
    chunks: Option<usize>,
    next_chunked_id: u64,
    reassembler: Reassembler,
}

pub struct Room {
    config: RoomConfig,
    awareness: Awareness,
    clock: Arc<AtomicU64>,
    last_awareness_renewal: u64,
    peers: BTreeMap<PeerId, Peer>,
    /// Other tabs of this browser in the room, by peer id.
    tabs: BTreeSet<PeerId>,
    /// Updates waiting for earlier ones (see [`Room::hold`]), and their encoded size.
    held: Vec<(Update, usize)>,
    held_bytes: usize,
    broadcast_open: bool,
    online: bool,
    /// When the signaling server last sent a frame, and when we last pinged it.
    last_signaling_frame: u64,
    last_signaling_ping: u64,
    /// When this room last announced itself to someone it cannot read.
    last_stranger_announce: Option<u64>,
    /// When this room last asked the other tabs for their state because of a gap.
    last_tab_ask: Option<u64>,
    now: u64,
    rng: ChaCha20Rng,
    undecryptable: bool,
    outputs: VecDeque<Output>,
    notebook: Notebook,
    /// What transactions changed, filled by the notebook's observers during a commit.
    changes: Rc<RefCell<pages::Changes>>,
    /// Undo and redo of this person's edits, per page (created on a page's first edit).
    undo: HashMap<String, UndoManager<()>>,
    presence: presence::Presence,
    status: Status,
}

impl Room {
    /// A room over `doc`, which must come from [`notebook::new_doc`] (UTF-16 offsets).
    pub fn new(config: RoomConfig, doc: Doc, now: u64) -> Room {
        let clock = Arc::new(AtomicU64::new(now));
        let clock_reader = clock.clone();
        let mut awareness =
            Awareness::with_clock(doc, move || clock_reader.load(Ordering::Relaxed));
        // y-protocols starts every peer with an empty state: it tells others "I am here".
        awareness.set_local_state_raw("{}");
        let notebook = Notebook::new(awareness.doc());
        let changes = pages::observe(awareness.doc(), &notebook);
        Room {
            rng: ChaCha20Rng::from_seed(config.entropy),
            config,
            awareness,
            clock,
            last_awareness_renewal: now,
            peers: BTreeMap::new(),
            tabs: BTreeSet::new(),
            held: Vec::new(),
            held_bytes: 0,
            broadcast_open: false,
            online: false,
            last_signaling_frame: now,
            last_signaling_ping: now,
            last_stranger_announce: None,
            last_tab_ask: None,
            now,
            undecryptable: false,
            outputs: VecDeque::new(),
            notebook,
            changes,
            undo: HashMap::new(),
            presence: presence::Presence::default(),
            status: Status::default(),
        }
    }

    pub fn peer_id(&self) -> &str {
        &self.config.peer_id
    }

    pub fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The next thing for the shell to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Where syncing with each peer stands, for a person debugging a room (and for tests that
    /// print it when a peer is left behind).
    pub fn sync_report(&self) -> String {
        use std::fmt::Write as _;
        let mut report = format!("{:?}; {} updates held back", self.status, self.held.len());
        for (id, peer) in &self.peers {
            let _ = write!(report, "\npeer {id}: open {}, {:?}", peer.open, peer.sync);
        }
        report
    }

    /// When the room next wants [`Input::Tick`] sooner than the regular second: a peer's sync
    /// handshake is due for its next step (see `peer_sync`).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.peers
            .values()
            .filter(|p| p.open)
            .filter_map(|p| p.sync.poll_timeout())
            .min()
    }

    pub fn handle(&mut self, now: u64, input: Input<'_>) {
        self.set_time(now);
        match input {
            Input::SignalingOpen => {
                self.online = true;
                self.last_signaling_frame = now;
                self.announce();
            }
            Input::SignalingClosed => self.online = false,
            Input::SignalingFrame(text) => {
                self.last_signaling_frame = now;
                self.on_signaling_frame(text);
            }
            Input::LocalSignal { peer, signal } => self.on_local_signal(peer, signal),
            Input::ChannelOpen { peer, announced } => self.on_channel_open(peer, announced),
            Input::PeerFrame { peer, bytes } => self.on_peer_frame(peer, bytes),
            Input::PeerClosed { peer } => {
                if self.peers.remove(peer).is_some() {
                    self.announce();
                }
            }
            Input::BroadcastOpen => self.on_broadcast_open(),
            Input::BroadcastFrame(bytes) => self.on_broadcast_frame(bytes),
            Input::Tick => self.on_tick(),
        }
        self.update_status();
    }

    /// Applies stored updates (oldest first) before anything else happens, as one transaction.
    /// They are not stored again; the editor hears of them as [`Output::PageChanged`].
    pub fn load(&mut self, now: u64, updates: &[Vec<u8>]) {
        self.set_time(now);
        let mut dropped = Vec::new();
        {
            let mut txn = self.doc().transact_mut_with(STORED);
            for (i, bytes) in updates.iter().enumerate() {
                let applied = Update::decode_v1(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|update| txn.apply_update(update).map_err(|e| e.to_string()));
                if let Err(error) = applied {
                    dropped.push(format!("stored update {i}: {error}"));
                }
            }
        }
        self.take_changes();
        for why in dropped {
            self.drop_input(why);
        }
    }

    /// The whole document as one update: what a compacted store holds.
    pub fn encode_state(&self) -> Vec<u8> {
        let txn = self.doc().transact();
        txn.encode_state_as_update_v1(&StateVector::default())
    }

    /// Says goodbye before the page goes: other tabs forget this one, peers drop its presence.
    pub fn leave(&mut self, now: u64) {
        self.set_time(now);
        if self.broadcast_open {
            let goodbye = frame::encode_bc_peer_id(false, &self.config.peer_id);
            self.post(goodbye);
        }
        let own = self.awareness.client_id();
        self.awareness.remove_state(own);
        if let Ok(update) = self.awareness.update_with_clients([own]) {
            self.broadcast(&Message::Awareness(update), None);
        }
        if self.online {
            let topics = vec![self.config.name.clone()];
            self.send_signaling(&ClientMessage::Unsubscribe { topics });
        }
    }

    fn set_time(&mut self, now: u64) {
        self.now = now;
        self.clock.store(now, Ordering::Relaxed);
    }

    fn update_status(&mut self) {
        let open = self.peers.values().filter(|p| p.open);
        let status = Status {
            online: self.online,
            peers: open.clone().count(),
            tabs: self.tabs.len(),
            synced: open.clone().all(|p| p.sync.synced()),
            undecryptable: self.undecryptable,
        };
        if status != self.status {
            self.status = status;
            self.outputs.push_back(Output::StatusChanged(status));
        }
    }

    // Signaling.

    /// y-webrtc's `announceSignalingInfo`: (re)subscribe, and invite connections while there is room.
    fn announce(&mut self) {
        if !self.online {
            return;
        }
        self.send_signaling(&ClientMessage::Subscribe {
            topics: vec![self.config.name.clone()],
        });
        if self.peers.len() < self.config.max_conns {
            self.publish(RoomSignal::Announce {
                from: self.config.peer_id.clone(),
            });
        }
    }

    /// Someone in the room does not share our key (see [`STRANGER_ANNOUNCE_MS`]). Rate-limited,
    /// so two rooms with different keys answer each other once, not forever.
    fn announce_to_stranger(&mut self) {
        let now = self.now;
        let due = self
            .last_stranger_announce
            .is_none_or(|last| now.saturating_sub(last) >= STRANGER_ANNOUNCE_MS);
        if self.config.key.is_some() && due {
            self.last_stranger_announce = Some(now);
            self.announce();
        }
    }

    fn publish(&mut self, signal: RoomSignal) {
        let mut data = serde_json::to_value(signal).expect("room signals always serialize");
        if let Some(key) = &self.config.key {
            data = Value::String(key.encrypt_signal(&data, next_iv(&mut self.rng)));
        }
        self.send_signaling(&ClientMessage::Publish {
            topic: self.config.name.clone(),
            data,
        });
    }

    fn send_signaling(&mut self, message: &ClientMessage) {
        self.outputs.push_back(Output::Signaling(message.to_json()));
    }

    fn on_signaling_frame(&mut self, text: &str) {
        let Some(ServerMessage::Publish { topic, data, .. }) = ServerMessage::parse(text) else {
            return; // pongs, and frames that are not ours to read
        };
        if topic != self.config.name {
            return;
        }
        // y-webrtc: a keyed room reads only encrypted (string) data, an open room only objects.
        let data = match data {
            Value::String(sealed) => {
                let opened = match &self.config.key {
                    Some(key) => key.decrypt_signal(&sealed).map_err(|e| e.to_string()),
                    None => Err("encrypted, and this room has no secret".to_owned()),
                };
                match opened {
                    Ok(data) => data,
                    Err(why) => {
                        self.announce_to_stranger();
                        return self.undecryptable(format!("room signal: {why}"));
                    }
                }
            }
            _ if self.config.key.is_some() => return self.announce_to_stranger(),
            data => data,
        };
        match serde_json::from_value::<RoomSignal>(data) {
            Ok(signal) => self.on_room_signal(signal),
            Err(error) => self.drop_input(format!("room signal: {error}")),
        }
    }

    fn on_room_signal(&mut self, signal: RoomSignal) {
        match signal {
            RoomSignal::Announce { from } => {
                if from == self.config.peer_id
                    || self.peers.contains_key(&from)
                    || self.tabs.contains(&from)
                {
                    return;
                }
                if self.peers.len() < self.config.max_conns {
                    self.add_peer(from, true);
                }
            }
            RoomSignal::Signal {
                from,
                to,
                token,
                signal,
                chunks,
            } => {
                // Tabs of this browser talk over the BroadcastChannel instead.
                if to != self.config.peer_id
                    || from == self.config.peer_id
                    || self.tabs.contains(&from)
                {
                    return;
                }
                self.on_remote_signal(from.clone(), token, signal);
                if let (Some(peer), Some(max)) = (self.peers.get_mut(&from), chunks) {
                    peer.chunks = Some(usize::try_from(max).unwrap_or(usize::MAX));
                }
            }
        }
    }

    /// y-webrtc's glare rule: when both sides offered, the offer with the larger token wins.
    fn on_remote_signal(&mut self, from: PeerId, token: Option<f64>, signal: SignalData) {
        if signal == SignalData::Unsupported {
            return;
        }
        if let Some(peer) = self.peers.get_mut(&from) {
            match signal {
                SignalData::Offer { .. } => {
                    if peer
                        .glare_token
                        .is_some_and(|local| local > token.unwrap_or(0.0))
                    {
                        return;
                    }
                    peer.glare_token = None;
                }
                SignalData::Answer { .. } => peer.glare_token = None,
                _ => {}
            }
        } else if self.peers.len() < self.config.max_conns {
            self.add_peer(from.clone(), false);
        } else {
            return;
        }
        self.outputs
            .push_back(Output::Signal { peer: from, signal });
    }

    fn add_peer(&mut self, peer: PeerId, initiator: bool) {
        let state = Peer {
            glare_token: None,
            open: false,
            sync: PeerSync::new(self.now, false),
            created_at: self.now,
            chunks: None,
            next_chunked_id: 0,
            reassembler: Reassembler::new(chunk::MAX_MESSAGE),
        };
        self.peers.insert(peer.clone(), state);
        self.outputs.push_back(Output::Connect { peer, initiator });
    }

    fn on_local_signal(&mut self, peer_id: &str, signal: SignalData) {
        let now = self.now as f64;
        let fraction = self.random_fraction();
        let Some(peer) = self.peers.get_mut(peer_id) else {
            return; // a signal from a connection this room already gave up
        };
        let token = *peer.glare_token.get_or_insert(now + fraction);
        self.publish(RoomSignal::Signal {
            from: self.config.peer_id.clone(),
            to: peer_id.to_owned(),
            token: Some(token),
            signal,
            chunks: Some(chunk::MAX_MESSAGE as u64),
        });
    }

    // Peers.

    fn on_channel_open(&mut self, peer_id: &str, announced: bool) {
        let now = self.now;
        let Some(peer) = self.peers.get_mut(peer_id) else {
            return;
        };
        if peer.open {
            return;
        }
        peer.open = true;
        peer.sync = PeerSync::new(now, announced);
        self.nudge(peer_id);
    }

    /// Sends a peer what its sync handshake calls for now (see [`PeerSync`]).
    fn nudge(&mut self, peer_id: &str) {
        let now = self.now;
        while let Some(nudge) = self
            .peers
            .get_mut(peer_id)
            .filter(|p| p.open)
            .and_then(|p| p.sync.poll(now))
        {
            let state_vector = self.doc().transact().state_vector();
            let step1 = Message::Sync(SyncMessage::SyncStep1(state_vector));
            match nudge {
                Nudge::Greet => {
                    self.send(peer_id, &step1);
                    let clients: Vec<ClientID> = self.awareness.iter().map(|(id, _)| id).collect();
                    if let Ok(update) = self.awareness.update_with_clients(clients) {
                        self.send(peer_id, &Message::Awareness(update));
                    }
                    if let Some(peer) = self.peers.get_mut(peer_id) {
                        peer.sync.on_greeted(now);
                    }
                }
                Nudge::Resync => self.send(peer_id, &step1),
                Nudge::AskAgain => {
                    self.send(peer_id, &step1);
                    // Whatever went missing may have been their presence too.
                    self.send(peer_id, &Message::AwarenessQuery);
                }
                Nudge::SendState => {
                    let state = self.encode_state();
                    self.send(peer_id, &Message::Sync(SyncMessage::SyncStep2(state)));
                }
            }
        }
    }

    fn on_peer_frame(&mut self, peer_id: &str, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(peer_id) else {
            // A connection the room gave up (or never asked for): the shell closes those.
            return self.drop_input(format!("frame from {peer_id}, who has no connection"));
        };
        // A frame can only come over an open channel, and proves this end of it open too
        // (see ANSWERER_WAIT_MS): greet the peer first if that was still to do.
        if !peer.open {
            self.on_channel_open(peer_id, false);
        }
        if let Some(peer) = self.peers.get_mut(peer_id) {
            peer.sync.on_frame();
            if !peer.sync.greeted() {
                self.nudge(peer_id);
            }
        }
        if bytes.first() == Some(&chunk::MSG_CHUNK) {
            return self.on_chunk(peer_id, bytes);
        }
        match peer_message::decode(bytes) {
            Ok(message) => self.on_message(Source::Peer(peer_id), message),
            Err(error) => self.drop_input(format!("frame from {peer_id}: {error:?}")),
        }
    }

    fn on_chunk(&mut self, peer_id: &str, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(peer_id) else {
            return;
        };
        match peer.reassembler.push(bytes) {
            Ok(Reassembled::Partial { received, total }) => {
                self.outputs.push_back(Output::Receiving {
                    peer: peer_id.to_owned(),
                    received,
                    total,
                });
            }
            // A chunk of chunks would recurse: nobody honest sends one.
            Ok(Reassembled::Complete(frame)) if frame.first() == Some(&chunk::MSG_CHUNK) => {
                self.drop_input(format!("chunk from {peer_id}: nested chunks"));
            }
            Ok(Reassembled::Complete(frame)) => {
                let total = frame.len();
                self.outputs.push_back(Output::Receiving {
                    peer: peer_id.to_owned(),
                    received: total,
                    total,
                });
                self.on_peer_frame(peer_id, &frame);
            }
            Err(error) => self.drop_input(format!("chunk from {peer_id}: {error:?}")),
        }
    }

    // The BroadcastChannel.

    /// y-webrtc's `Room.connect` on the BroadcastChannel: who I am, what I have, who is there.
    fn on_broadcast_open(&mut self) {
        self.broadcast_open = true;
        let hello = frame::encode_bc_peer_id(true, &self.config.peer_id);
        self.post(hello);
        let state_vector = self.doc().transact().state_vector();
        let own = self.awareness.client_id();
        let mut greeting = vec![
            Message::Sync(SyncMessage::SyncStep1(state_vector)),
            Message::Sync(SyncMessage::SyncStep2(self.encode_state())),
            Message::AwarenessQuery,
        ];
        if let Ok(update) = self.awareness.update_with_clients([own]) {
            greeting.push(Message::Awareness(update));
        }
        for message in &greeting {
            self.post(peer_message::encode(message));
        }
    }

    fn on_broadcast_frame(&mut self, bytes: &[u8]) {
        if !self.broadcast_open {
            return;
        }
        let opened;
        let bytes = match &self.config.key {
            Some(key) => match key.decrypt(bytes) {
                Ok(plain) => {
                    opened = plain;
                    &opened[..]
                }
                Err(error) => return self.undecryptable(format!("broadcast frame: {error}")),
            },
            None => bytes,
        };
        if bytes.first() == Some(&frame::MSG_BC_PEER_ID) {
            return match frame::decode_bc_peer_id(bytes) {
                Ok((add, peer)) => self.on_tab(add, peer),
                Err(error) => self.drop_input(format!("tab id: {error:?}")),
            };
        }
        match peer_message::decode(bytes) {
            Ok(message) => self.on_message(Source::Broadcast, message),
            Err(error) => self.drop_input(format!("broadcast frame: {error:?}")),
        }
    }

    /// Another tab joined or left; a newcomer learns of this tab from its answer.
    fn on_tab(&mut self, add: bool, peer: PeerId) {
        if peer == self.config.peer_id {
            return;
        }
        let changed = if add {
            self.tabs.insert(peer)
        } else {
            self.tabs.remove(&peer)
        };
        if changed {
            let hello = frame::encode_bc_peer_id(true, &self.config.peer_id);
            self.post(hello);
        }
    }

    // y-protocols messages, from a peer or a tab.

    fn on_message(&mut self, from: Source<'_>, message: Message) {
        let now = self.now;
        match message {
            Message::Sync(SyncMessage::SyncStep1(remote)) => {
                let (diff, ahead) = {
                    let txn = self.doc().transact();
                    let known = txn.state_vector();
                    let ahead = remote
                        .iter()
                        .any(|(client, &clock)| clock > known.get(client));
                    (txn.encode_diff_v1(&remote), ahead)
                };
                self.reply(from, &Message::Sync(SyncMessage::SyncStep2(diff)));
                if let Source::Peer(peer_id) = from {
                    if let Some(peer) = self.peers.get_mut(peer_id) {
                        peer.sync.on_asked();
                    }
                }
                if ahead {
                    self.ask_for_missing(from);
                }
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                self.apply_remote_update(from, &update);
                if let Source::Peer(peer_id) = from {
                    if let Some(peer) = self.peers.get_mut(peer_id) {
                        peer.sync.on_their_state(now);
                    }
                }
            }
            Message::Sync(SyncMessage::Update(update)) => self.apply_remote_update(from, &update),
            Message::AwarenessQuery => {
                let clients: Vec<ClientID> = self.awareness.iter().map(|(id, _)| id).collect();
                if let Ok(update) = self.awareness.update_with_clients(clients) {
                    self.reply(from, &Message::Awareness(update));
                }
            }
            Message::Awareness(mut update) => {
                // Only this peer speaks for itself: a peer replaying our client id (with a
                // higher clock) would otherwise replace our name, and we would pass it on.
                update.clients.remove(&self.awareness.client_id());
                self.on_awareness(from, update);
            }
            Message::Auth(_) | Message::Custom(..) => {}
        }
    }

    fn on_awareness(&mut self, from: Source<'_>, update: AwarenessUpdate) {
        match self.awareness.apply_update_summary(update) {
            Ok(Some(_)) => self.outputs.push_back(Output::PresenceChanged),
            Ok(None) => {}
            Err(error) => self.drop_input(format!("awareness from {from}: {error}")),
        }
    }

    fn reply(&mut self, to: Source<'_>, message: &Message) {
        match to {
            Source::Peer(peer) => self.send(peer, message),
            Source::Broadcast => self.post(peer_message::encode(message)),
        }
    }

    fn apply_remote_update(&mut self, from: Source<'_>, bytes: &[u8]) {
        let update = match Update::decode_v1(bytes) {
            Ok(update) => update,
            Err(error) => return self.drop_input(format!("update from {from}: {error}")),
        };
        if !self.follows_known_state(&update) {
            return self.hold(from, update, bytes.len());
        }
        self.integrate(from, update);
        // Each integration may fill the gap a held update was waiting for.
        while let Some(i) = self
            .held
            .iter()
            .position(|(update, _)| self.follows_known_state(update))
        {
            let (update, size) = self.held.remove(i);
            self.held_bytes -= size;
            self.integrate(from, update);
        }
    }

    /// Whether the update starts, for every client, at or before what this document has.
    fn follows_known_state(&self, update: &Update) -> bool {
        let known = self.doc().transact().state_vector();
        let lower = update.state_vector_lower();
        lower
            .iter()
            .all(|(client, clock)| known.get(client) >= *clock)
    }

    /// Keeps an update that starts past what we know until the gap is filled, as Yjs does.
    /// yrs 0.28 would integrate it behind a placeholder, and a later update overlapping that
    /// range crashes it; the text it showed would also be missing from what we relay and store.
    fn hold(&mut self, from: Source<'_>, update: Update, size: usize) {
        self.ask_for_missing(from);
        self.held.push((update, size));
        self.held_bytes += size;
        while self.held.len() > MAX_HELD_UPDATES || self.held_bytes > MAX_HELD_BYTES {
            let (_, size) = self.held.remove(0);
            self.held_bytes -= size;
            self.drop_input(format!(
                "update from {from}: too many waiting for missing ones"
            ));
        }
    }

    /// `from` has something this room lacks (a state vector ahead of ours, or an update that
    /// needs one we never got): ask it for its state, unless a question is already out.
    fn ask_for_missing(&mut self, from: Source<'_>) {
        let now = self.now;
        let ask = match from {
            Source::Peer(peer_id) => self
                .peers
                .get_mut(peer_id)
                .is_some_and(|p| p.open && p.sync.on_missing(now)),
            Source::Broadcast => {
                let due = self
                    .last_tab_ask
                    .is_none_or(|last| now.saturating_sub(last) >= SYNC_RETRY_MS);
                if due {
                    self.last_tab_ask = Some(now);
                }
                due
            }
        };
        if ask {
            let state_vector = self.doc().transact().state_vector();
            self.reply(from, &Message::Sync(SyncMessage::SyncStep1(state_vector)));
        }
    }

    fn integrate(&mut self, from: Source<'_>, update: Update) {
        let result = {
            let mut txn = self.doc().transact_mut_with(REMOTE);
            txn.apply_update(update).map(|()| txn.encode_update_v1())
        };
        self.take_changes();
        match result {
            Ok(new) if new != EMPTY_UPDATE => {
                self.broadcast(&Message::Sync(SyncMessage::Update(new.clone())), Some(from));
                self.outputs.push_back(Output::Store(new));
            }
            Ok(_) => {}
            Err(error) => self.drop_input(format!("update from {from}: {error}")),
        }
    }

    fn broadcast_own_awareness(&mut self) {
        self.last_awareness_renewal = self.now;
        let own = self.awareness.client_id();
        if let Ok(update) = self.awareness.update_with_clients([own]) {
            self.broadcast(&Message::Awareness(update), None);
        }
    }

    fn on_tick(&mut self) {
        let now = self.now;
        self.keep_signaling_alive();
        let stale: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.open && now.saturating_sub(p.created_at) >= CONNECT_TIMEOUT_MS)
            .map(|(id, _)| id.clone())
            .collect();
        for peer in &stale {
            self.peers.remove(peer);
            self.outputs
                .push_back(Output::Disconnect { peer: peer.clone() });
        }
        if !stale.is_empty() {
            self.announce();
        }
        let open: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.open)
            .map(|(id, _)| id.clone())
            .collect();
        for peer in &open {
            self.nudge(peer);
        }
        if now.saturating_sub(self.last_awareness_renewal) >= AWARENESS_RENEW_MS {
            self.broadcast_own_awareness();
        }
        let own = self.awareness.client_id();
        let outdated: Vec<ClientID> = self
            .awareness
            .iter()
            .map(|(id, _)| id)
            .filter(|&id| id != own)
            .filter(|&id| {
                self.awareness
                    .meta(id)
                    .is_some_and(|(_, seen)| now.saturating_sub(seen) >= AWARENESS_TIMEOUT_MS)
            })
            .collect();
        if !outdated.is_empty() {
            self.outputs.push_back(Output::PresenceChanged);
        }
        for id in outdated {
            self.awareness.remove_state(id);
        }
    }

    fn keep_signaling_alive(&mut self) {
        if !self.online {
            return;
        }
        let silent = self.now.saturating_sub(self.last_signaling_frame);
        if silent >= SIGNALING_TIMEOUT_MS {
            self.online = false;
            self.outputs.push_back(Output::ReconnectSignaling);
        } else if silent >= SIGNALING_PING_MS
            && self.now.saturating_sub(self.last_signaling_ping) >= SIGNALING_PING_MS
        {
            self.last_signaling_ping = self.now;
            self.send_signaling(&ClientMessage::Ping);
        }
    }

    fn send(&mut self, peer: &str, message: &Message) {
        let bytes = peer_message::encode(message);
        self.send_frame(peer, bytes);
    }

    /// Sends a frame to a peer, in chunks if it is large and the peer reassembles them.
    fn send_frame(&mut self, peer_id: &str, bytes: Vec<u8>) {
        let Some(peer) = self.peers.get_mut(peer_id) else {
            return;
        };
        let chunked =
            bytes.len() > chunk::CHUNK_SIZE && peer.chunks.is_some_and(|max| bytes.len() <= max);
        if !chunked {
            let peer = peer_id.to_owned();
            return self.outputs.push_back(Output::Send { peer, bytes });
        }
        let id = peer.next_chunked_id;
        peer.next_chunked_id += 1;
        for chunk in chunk::split(id, &bytes, chunk::CHUNK_SIZE) {
            self.outputs.push_back(Output::Send {
                peer: peer_id.to_owned(),
                bytes: chunk,
            });
        }
    }

    /// Sends to every open peer and to the other tabs, except where it came from.
    fn broadcast(&mut self, message: &Message, except: Option<Source<'_>>) {
        let bytes = peer_message::encode(message);
        let to: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(id, peer)| peer.open && except != Some(Source::Peer(id)))
            .map(|(id, _)| id.clone())
            .collect();
        for peer in to {
            self.send_frame(&peer, bytes.clone());
        }
        if self.broadcast_open && except != Some(Source::Broadcast) {
            self.post(bytes);
        }
    }

    /// Posts a frame on the BroadcastChannel, encrypted in a keyed room.
    fn post(&mut self, mut bytes: Vec<u8>) {
        if let Some(key) = &self.config.key {
            bytes = key.encrypt(&bytes, next_iv(&mut self.rng));
        }
        self.outputs.push_back(Output::Broadcast(bytes));
    }

    fn drop_input(&mut self, why: String) {
        self.outputs.push_back(Output::Dropped(why));
    }

    fn undecryptable(&mut self, why: String) {
        self.undecryptable = true;
        self.drop_input(why);
    }

    /// Uniform in [0, 1), like `Math.random()`.
    fn random_fraction(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn next_iv(rng: &mut ChaCha20Rng) -> [u8; 12] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notebook;

    fn keyed_tab(peer_id: &str, client_id: u64, key: Option<RoomKey>) -> Room {
        let config = RoomConfig {
            name: "r".into(),
            peer_id: peer_id.into(),
            client_id,
            entropy: [client_id as u8; 32],
            max_conns: 20,
            key,
        };
        Room::new(config, notebook::new_doc(client_id), 0)
    }

    pub(super) fn tab(peer_id: &str, client_id: u64) -> Room {
        keyed_tab(peer_id, client_id, None)
    }

    fn drain(room: &mut Room) -> Vec<Output> {
        std::iter::from_fn(|| room.poll_output()).collect()
    }

    /// Two browsers in one room: signaling relayed as the hub would, a data channel opened
    /// once offer and answer are through, frames delivered in order until both are quiet.
    /// Returns everything else they asked for.
    fn pair(rooms: &mut [Room; 2]) -> Vec<(usize, Output)> {
        for room in rooms.iter_mut() {
            room.handle(0, Input::SignalingOpen);
        }
        let mut rest = Vec::new();
        let mut answered = false;
        loop {
            let mut delivered = false;
            for from in 0..2 {
                let to = 1 - from;
                for output in drain(&mut rooms[from]) {
                    match output {
                        Output::Signaling(text) => {
                            let ClientMessage::Publish { topic, data } =
                                serde_json::from_str(&text).unwrap()
                            else {
                                continue;
                            };
                            let frame = serde_json::json!({"type": "publish", "topic": topic, "data": data});
                            rooms[to].handle(0, Input::SignalingFrame(&frame.to_string()));
                            delivered = true;
                        }
                        // The browser offers as initiator and answers an offer.
                        Output::Connect { peer, initiator } if initiator => {
                            let signal = SignalData::Offer { sdp: "v=0".into() };
                            rooms[from].handle(
                                0,
                                Input::LocalSignal {
                                    peer: &peer,
                                    signal,
                                },
                            );
                            delivered = true;
                        }
                        Output::Signal {
                            peer,
                            signal: SignalData::Offer { .. },
                        } => {
                            let signal = SignalData::Answer { sdp: "v=0".into() };
                            rooms[from].handle(
                                0,
                                Input::LocalSignal {
                                    peer: &peer,
                                    signal,
                                },
                            );
                            delivered = true;
                        }
                        Output::Signal {
                            signal: SignalData::Answer { .. },
                            ..
                        } if !answered => {
                            answered = true;
                            let ids =
                                [rooms[0].peer_id().to_owned(), rooms[1].peer_id().to_owned()];
                            let (a, b) = (&ids[1], &ids[0]);
                            rooms[0].handle(
                                0,
                                Input::ChannelOpen {
                                    peer: a,
                                    announced: false,
                                },
                            );
                            rooms[1].handle(
                                0,
                                Input::ChannelOpen {
                                    peer: b,
                                    announced: true,
                                },
                            );
                            delivered = true;
                        }
                        Output::Send { bytes, .. } => {
                            let peer = rooms[from].peer_id().to_owned();
                            rooms[to].handle(
                                0,
                                Input::PeerFrame {
                                    peer: &peer,
                                    bytes: &bytes,
                                },
                            );
                            rest.push((from, Output::Send { peer, bytes }));
                            delivered = true;
                        }
                        other => rest.push((from, other)),
                    }
                }
            }
            if !delivered {
                return rest;
            }
        }
    }

    #[test]
    fn large_messages_travel_in_chunks_between_commonplace_peers() {
        let mut rooms = [tab("a", 1), tab("b", 2)];
        let big = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
        rooms[0].edit(0, notebook::HOME, &[splice(0, &big)]);
        drain(&mut rooms[0]);
        let rest = pair(&mut rooms);
        assert_eq!(rooms[1].text(), big);
        let sizes: Vec<usize> = rest
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Send { bytes, .. } => Some(bytes.len()),
                _ => None,
            })
            .collect();
        assert!(
            sizes.iter().all(|&n| n <= chunk::CHUNK_SIZE + 32),
            "{sizes:?}"
        );
        let progress: Vec<(usize, usize)> = rest
            .iter()
            .filter_map(|(i, o)| match o {
                Output::Receiving {
                    received, total, ..
                } if *i == 1 => Some((*received, *total)),
                _ => None,
            })
            .collect();
        assert!(progress.len() >= 16, "{progress:?}");
        assert_eq!(progress.last().map(|(r, t)| r == t), Some(true));
    }

    /// Delivers every broadcast frame to every other tab until all are quiet, as a
    /// BroadcastChannel does; returns everything else the tabs asked for.
    /// Tabs of one browser: BroadcastChannel frames delivered until all are quiet. Returns
    /// everything else they asked for.
    pub(super) fn settle(tabs: &mut [Room]) -> Vec<(usize, Output)> {
        let mut rest = Vec::new();
        loop {
            let mut frames = Vec::new();
            for (i, tab) in tabs.iter_mut().enumerate() {
                for output in drain(tab) {
                    match output {
                        Output::Broadcast(bytes) => frames.push((i, bytes)),
                        other => rest.push((i, other)),
                    }
                }
            }
            if frames.is_empty() {
                return rest;
            }
            for (from, bytes) in frames {
                for (i, tab) in tabs.iter_mut().enumerate() {
                    if i != from {
                        tab.handle(1, Input::BroadcastFrame(&bytes));
                    }
                }
            }
        }
    }

    fn splice(index: u32, insert: &str) -> Splice {
        Splice {
            index,
            delete: 0,
            insert: insert.into(),
        }
    }

    #[test]
    fn tabs_sync_over_the_broadcast_channel_and_skip_webrtc() {
        let mut tabs = [tab("a", 1), tab("b", 2)];
        tabs[0].edit(0, notebook::HOME, &[splice(0, "written offline")]);
        for tab in &mut tabs {
            tab.handle(1, Input::BroadcastOpen);
        }
        let rest = settle(&mut tabs);
        assert_eq!(tabs[1].text(), "written offline");
        assert!(rest
            .iter()
            .any(|(i, o)| *i == 1 && matches!(o, Output::Store(_))));
        assert_eq!(tabs[0].status().tabs, 1);
        assert_eq!(tabs[1].status().tabs, 1);

        tabs[1].edit(2, notebook::HOME, &[splice(0, "> ")]);
        settle(&mut tabs);
        assert_eq!(tabs[0].text(), "> written offline");

        // The other tab is known: its announce over signaling starts no WebRTC connection.
        tabs[0].handle(3, Input::SignalingOpen);
        drain(&mut tabs[0]);
        let announce = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
        tabs[0].handle(3, Input::SignalingFrame(announce));
        assert!(!drain(&mut tabs[0])
            .iter()
            .any(|o| matches!(o, Output::Connect { .. })));

        tabs[1].leave(4);
        settle(&mut tabs);
        assert_eq!(tabs[0].status().tabs, 0);
    }

    #[test]
    fn every_change_is_stored_once_and_loads_back() {
        let mut writer = tab("a", 1);
        writer.edit(0, notebook::HOME, &[splice(0, "héllo 👋")]);
        writer.edit(0, notebook::HOME, &[splice(0, "¡")]);
        let stored: Vec<Vec<u8>> = drain(&mut writer)
            .into_iter()
            .filter_map(|o| match o {
                Output::Store(update) => Some(update),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 2);

        let mut reader = tab("b", 2);
        reader.load(1, &stored);
        assert_eq!(reader.text(), "¡héllo 👋");
        let outputs = drain(&mut reader);
        assert!(!outputs.iter().any(|o| matches!(o, Output::Store(_))));
        assert!(outputs
            .iter()
            .any(|o| matches!(o, Output::PageChanged { .. })));

        let mut compacted = tab("c", 3);
        compacted.load(1, &[reader.encode_state()]);
        assert_eq!(compacted.text(), "¡héllo 👋");

        let mut damaged = tab("d", 4);
        damaged.load(1, &[vec![1, 2, 3], writer.encode_state()]);
        assert_eq!(damaged.text(), "¡héllo 👋");
        assert!(drain(&mut damaged)
            .iter()
            .any(|o| matches!(o, Output::Dropped(_))));
    }

    #[test]
    fn a_silent_signaling_server_is_pinged_then_given_up() {
        let mut room = tab("me", 1);
        room.handle(0, Input::SignalingOpen);
        drain(&mut room);
        room.handle(10_000, Input::Tick);
        assert!(drain(&mut room)
            .iter()
            .all(|o| !matches!(o, Output::Signaling(_))));
        room.handle(15_000, Input::Tick);
        assert!(drain(&mut room).contains(&Output::Signaling(r#"{"type":"ping"}"#.into())));
        room.handle(16_000, Input::Tick);
        assert!(!drain(&mut room)
            .iter()
            .any(|o| matches!(o, Output::Signaling(_))));
        room.handle(29_000, Input::SignalingFrame(r#"{"type":"pong"}"#));
        room.handle(45_000, Input::Tick);
        assert!(!drain(&mut room).contains(&Output::ReconnectSignaling));
        room.handle(59_000, Input::Tick);
        let outputs = drain(&mut room);
        assert!(outputs.contains(&Output::ReconnectSignaling), "{outputs:?}");
        assert!(!room.status().online);
    }

    #[test]
    fn keyed_tabs_encrypt_the_broadcast_channel() {
        let key = || Some(RoomKey::from_bytes([1; 32]));
        let mut tabs = [
            keyed_tab("a", 1, key()),
            keyed_tab("b", 2, key()),
            keyed_tab("c", 3, Some(RoomKey::from_bytes([2; 32]))),
        ];
        tabs[0].edit(0, notebook::HOME, &[splice(0, "secret words")]);
        for tab in &mut tabs {
            tab.handle(1, Input::BroadcastOpen);
        }
        let frames: Vec<Vec<u8>> = drain(&mut tabs[0])
            .into_iter()
            .filter_map(|o| match o {
                Output::Broadcast(bytes) => Some(bytes),
                _ => None,
            })
            .collect();
        assert!(!frames.is_empty());
        for bytes in &frames {
            assert!(bytes.starts_with(b"\x07AES-GCM"), "{bytes:?}");
            assert!(!bytes.windows(6).any(|w| w == b"secret"));
            for tab in &mut tabs[1..] {
                tab.handle(1, Input::BroadcastFrame(bytes));
            }
        }
        settle(&mut tabs);
        assert_eq!(tabs[1].text(), "secret words");
        assert_eq!((tabs[0].status().tabs, tabs[1].status().tabs), (1, 1));
        assert_eq!(tabs[2].text(), "");
        assert_eq!(tabs[2].status().tabs, 0);
        // Every tab learns that someone in the room holds another key.
        assert!(tabs.iter().all(|t| t.status().undecryptable));
    }

    #[test]
    fn keyed_rooms_publish_ciphertext_and_read_only_ciphertext() {
        let key = RoomKey::from_bytes([1; 32]);
        let mut keyed = keyed_tab("me", 1, Some(key.clone()));
        keyed.handle(0, Input::SignalingOpen);
        let publishes: Vec<String> = drain(&mut keyed)
            .into_iter()
            .filter_map(|o| match o {
                Output::Signaling(frame) if frame.contains("publish") => Some(frame),
                _ => None,
            })
            .collect();
        assert_eq!(publishes.len(), 1);
        let publish: Value = serde_json::from_str(&publishes[0]).unwrap();
        let data = publish["data"].as_str().expect("a string");
        assert_eq!(
            key.decrypt_signal(data).unwrap(),
            serde_json::json!({"type": "announce", "from": "me"})
        );

        // A clear announce starts nothing; the room answers it (once) with its own, encrypted.
        let clear = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
        keyed.handle(1, Input::SignalingFrame(clear));
        let answer = drain(&mut keyed);
        assert!(!answer.iter().any(|o| matches!(o, Output::Connect { .. })));
        assert_eq!(answer.len(), 2, "{answer:?}"); // subscribe, announce
        assert!(matches!(&answer[1], Output::Signaling(f) if !f.contains("announce")));
        // Another key's signals are dropped and flagged; answered again only after a while.
        let announce = serde_json::json!({"type": "announce", "from": "b"});
        let frame = |key: &RoomKey| {
            let data = key.encrypt_signal(&announce, [9; 12]);
            serde_json::json!({"type": "publish", "topic": "r", "data": data}).to_string()
        };
        let other = RoomKey::from_bytes([2; 32]);
        keyed.handle(2, Input::SignalingFrame(&frame(&other)));
        assert!(
            matches!(drain(&mut keyed)[..], [Output::Dropped(_), Output::StatusChanged(s)] if s.undecryptable)
        );
        keyed.handle(
            STRANGER_ANNOUNCE_MS + 1,
            Input::SignalingFrame(&frame(&other)),
        );
        assert_eq!(drain(&mut keyed).len(), 3); // subscribe, announce, dropped
        keyed.handle(
            STRANGER_ANNOUNCE_MS + 2,
            Input::SignalingFrame(&frame(&key)),
        );
        assert!(drain(&mut keyed).contains(&Output::Connect {
            peer: "b".into(),
            initiator: true
        }));

        let mut open = tab("me", 1);
        open.handle(0, Input::SignalingOpen);
        drain(&mut open);
        open.handle(1, Input::SignalingFrame(&frame(&key)));
        let outputs = drain(&mut open);
        assert!(!outputs.iter().any(|o| matches!(o, Output::Connect { .. })));
        assert!(open.status().undecryptable);
    }
}
