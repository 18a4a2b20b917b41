//! What a room asks of its shell, in three kinds (str0m's and quinn-proto's shape): bytes to
//! send somewhere ([`Transmit`]), things to do ([`Effect`]) and things a person sees
//! ([`Event`]). The shell drains [`super::Room::poll_output`] after every input.

use std::collections::VecDeque;

use crate::text::Splice;
use commonplace_protocol::signaling::SignalData;

use super::server_store::{ServerCopy, StoreRequest};
use super::PeerId;

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Transmit(Transmit),
    Effect(Effect),
    Event(Event),
}

/// Bytes for one of the room's three ways out.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// A text frame for the signaling server (dropped if it is not connected).
    Server(String),
    /// A frame for the data channel to `peer`.
    Peer { peer: PeerId, bytes: Vec<u8> },
    /// A frame for the room's BroadcastChannel: this browser's other tabs.
    Tabs(Vec<u8>),
    /// A request for the server's encrypted store (`docs/store.md`), addressed with
    /// [`super::Room::store_keys`]; its answer comes back as [`super::Input::StoreReply`].
    Store(StoreRequest),
    /// A request for the version history's store, addressed with
    /// [`super::Room::history_store_keys`]; its answer comes back as
    /// [`super::Input::HistoryStoreReply`].
    HistoryStore(StoreRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The signaling connection has been silent too long: close it and connect again.
    ReconnectSignaling,
    /// Open a WebRTC connection to `peer`; the initiator creates the data channel and offers.
    Connect { peer: PeerId, initiator: bool },
    /// Give the connection to `peer` this signal from the other side.
    Signal { peer: PeerId, signal: SignalData },
    /// Close the connection to `peer`.
    Disconnect { peer: PeerId },
    /// Store this update (a Yjs v1 update) durably: it changed the document.
    Store(Vec<u8>),
    /// Store this update of the version history durably (this browser's history database).
    StoreHistory(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The list of pages changed: one was added, removed, renamed or moved (by anyone); or the
    /// notebook was renamed.
    PagesChanged,
    /// Someone else (a peer, a stored update, undo or redo) changed a page's text: apply these
    /// splices, in order, to what the editor shows of it. Local edits are not echoed.
    PageChanged {
        page: String,
        splices: Vec<Splice>,
    },
    /// Versions were made, thinned, or arrived from the server's store.
    HistoryChanged,
    /// Someone else's presence (name, colour, page, caret) changed, or someone came or went.
    /// This person's own changes are not echoed.
    PresenceChanged,
    StatusChanged(Status),
    /// A large message from `peer` is arriving in chunks: `received` of `total` bytes so far
    /// (the last report has `received == total`).
    Receiving {
        peer: PeerId,
        received: usize,
        total: usize,
    },
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
    /// Where the server's encrypted copy stands.
    pub server_copy: ServerCopy,
}

/// The queue the room's parts write to, with a short way to say each kind of thing.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    queue: VecDeque<Output>,
    /// Frames for peers reached through the server: the room turns them into publishes.
    relayed: Vec<(PeerId, Vec<u8>)>,
}

impl Outputs {
    pub fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    /// A frame for `peer`, through the server.
    pub fn relay(&mut self, peer: &str, bytes: Vec<u8>) {
        self.relayed.push((peer.to_owned(), bytes));
    }

    pub fn take_relayed(&mut self) -> Vec<(PeerId, Vec<u8>)> {
        std::mem::take(&mut self.relayed)
    }

    pub fn transmit(&mut self, transmit: Transmit) {
        self.queue.push_back(Output::Transmit(transmit));
    }

    pub fn frame_to(&mut self, peer: &str, bytes: Vec<u8>) {
        self.transmit(Transmit::Peer {
            peer: peer.to_owned(),
            bytes,
        });
    }

    pub fn effect(&mut self, effect: Effect) {
        self.queue.push_back(Output::Effect(effect));
    }

    pub fn event(&mut self, event: Event) {
        self.queue.push_back(Output::Event(event));
    }

    pub fn dropped(&mut self, why: String) {
        self.event(Event::Dropped(why));
    }
}
