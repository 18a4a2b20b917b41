//! One tab in a [`Net`](super::net::Net): its room, what its editor shows, and what its shell
//! saw and kept.

use std::collections::VecDeque;

use commonplace_core::notebook::HOME;
use commonplace_core::room::{Room, Status};
use commonplace_core::text::editor::EditorText;
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::hub::ConnId;

use super::schedule::Ev;

pub struct Peer {
    pub id: String,
    pub client_id: u64,
    /// Tabs of one browser share a BroadcastChannel (and a fate in partitions).
    pub browser: usize,
    /// What the room is made from when the peer joins (unless it is given one): the seed of
    /// its entropy, and its key.
    pub seed: u64,
    pub key: Option<RoomKey>,
    pub room: Option<Room>,
    /// The page the editor shows (home unless the test opens another).
    pub page: String,
    /// What this peer's editor shows: local edits go in through `EditorText::input` (or are
    /// applied as the room takes them), remote splices through `EditorText::apply`, exactly as
    /// the browser does.
    pub editor: EditorText,
    /// The signaling connection and its generation, while it is up.
    pub(super) sig: Option<(ConnId, u64)>,
    pub(super) sig_gen: u64,
    /// The partition this peer is in; `None` is the main network, with the signaling server.
    pub(super) group: Option<u32>,
    /// `Event::Dropped`s, with when.
    pub drops: Vec<(u64, String)>,
    pub statuses: Vec<(u64, Status)>,
    /// `Event::PagesChanged`s (the page list or the notebook's title).
    pub pages_changed: u64,
    /// `Output::Effect(Effect::Connect)`s: (time, remote, initiator).
    pub connects: Vec<(u64, usize, bool)>,
    /// `Input::ChannelOpen`s given to the room: (time, remote).
    pub opens: Vec<(u64, usize)>,
    /// `Input::PeerClosed`s given to the room: (time, remote).
    pub closes: Vec<(u64, usize)>,
    pub edits: u64,
    /// Every `Output::Effect(Effect::Store)`d update, in order: what the browser's store holds.
    pub stored: Vec<Vec<u8>>,
    /// When a `Wake` is scheduled for this room.
    pub(super) wake: Option<u64>,
    /// Frames for this peer that wait for the test (held schedules), oldest first.
    pub inbox: VecDeque<Held>,
    /// Written on every frame this peer sends while its frames are held, for a replay to
    /// deliver "everything up to" some point of the sender's history.
    pub tag: u64,
    /// Its stored updates are loaded (a restarted tab's editor waits for them, as the app's
    /// stays read-only until then).
    pub loaded: bool,
    /// The tab that took this one's place when its browser restarted.
    pub successor: Option<usize>,
    /// What the person set as their name and colour, if anything.
    pub user: Option<(String, String)>,
}

impl Peer {
    pub fn new(id: String, client_id: u64, browser: usize, seed: u64) -> Peer {
        Peer {
            id,
            client_id,
            browser,
            seed,
            key: None,
            room: None,
            page: HOME.to_owned(),
            editor: EditorText::default(),
            sig: None,
            sig_gen: 0,
            group: None,
            drops: Vec::new(),
            statuses: Vec::new(),
            pages_changed: 0,
            connects: Vec::new(),
            opens: Vec::new(),
            closes: Vec::new(),
            edits: 0,
            stored: Vec::new(),
            wake: None,
            inbox: VecDeque::new(),
            tag: 0,
            loaded: true,
            successor: None,
            user: None,
        }
    }

    pub fn room(&self) -> &Room {
        self.room.as_ref().expect("peer has joined")
    }

    pub fn room_mut(&mut self) -> &mut Room {
        self.room.as_mut().expect("peer has joined")
    }

    /// The editor shows `page` afresh, as the app does when the person picks a page.
    pub fn open(&mut self, page: &str) {
        let text = self.room().page_text(page).expect("an existing page");
        self.page = page.to_owned();
        self.editor = EditorText::new(&text);
    }
}

/// A frame parked in its receiver's inbox: the event that delivers it, once the test says.
#[derive(Debug)]
pub struct Held {
    /// The sender's [`Peer::tag`] when it sent the frame.
    pub tag: u64,
    pub ev: Ev,
}

impl Held {
    pub fn bytes(&self) -> &[u8] {
        match &self.ev {
            Ev::Frame { bytes, .. } | Ev::BcDeliver { bytes, .. } => bytes,
            _ => unreachable!("only frames are held"),
        }
    }
}
