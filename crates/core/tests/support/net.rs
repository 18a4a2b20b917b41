//! The one way the tests wire rooms together: a network of peers, each a real [`Room`] with an
//! editor mirror, as in the browser, and everything between them through the real protocols.
//! Signaling frames go through the real `Hub` ([`super::server`]), data-channel frames over a
//! fake WebRTC that behaves like a browser's ([`super::rtc`]), and tabs of one browser share a
//! BroadcastChannel. The net carries out every output a room gives, keeps what the shell would
//! keep (stored updates, what the editor shows) and wakes each room when it asks.
//!
//! When things arrive is the [`Schedule`]'s: at once and in order for the deterministic tests
//! ([`Net::tabs`], [`Net::browsers`]), held for the test to deliver (trace replays, reordering by
//! hand), or with the simulator's random latencies and faults ([`super::sim`]).
//!
//! One seed, one run: the net draws from a single [`SmallRng`] and keeps ordered collections only.

use std::collections::{BTreeMap, BTreeSet};

use commonplace_core::room::{Effect, Event, Input, Output, Room, Transmit};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::EditorText;
use commonplace_protocol::hub::{ConnId, Hub, Limits};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::peer::Peer;
use super::rtc::{Conn, Link};
use super::schedule::{Ev, Fifo, Queue, Schedule};
use super::store::SimStore;

/// What a peer's shell opens when it joins.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    /// The room's BroadcastChannel, to this browser's other tabs.
    pub broadcast: bool,
    /// The signaling socket, to the hub.
    pub signaling: bool,
}

impl Shell {
    /// The browser app: the BroadcastChannel at once, then the signaling socket.
    pub const APP: Shell = Shell {
        broadcast: true,
        signaling: true,
    };
    /// Tabs of one browser that only talk among themselves.
    pub const TAB: Shell = Shell {
        broadcast: true,
        signaling: false,
    };
    /// A browser with one tab that needs no BroadcastChannel.
    pub const BROWSER: Shell = Shell {
        broadcast: false,
        signaling: true,
    };
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub events: u64,
    /// Data-channel frames delivered, and their bytes.
    pub frames: u64,
    pub frame_bytes: u64,
    pub frames_lost: u64,
    /// Frames an answerer sent before its end of the channel could send (Chromium drops them).
    pub frames_sent_too_early: u64,
    pub signaling_frames: u64,
    pub signaling_lost: u64,
    pub links: u64,
    pub link_failures: u64,
    pub conn_failures: u64,
    pub stale_closes: u64,
    pub offers_to_linked: u64,
    /// `Output::Effect(Effect::Disconnect)`s: connections the rooms abandoned.
    pub disconnects: u64,
    /// `Output::Effect(Effect::ReconnectSignaling)`s.
    pub signaling_reconnects: u64,
    /// `Event::PageChanged`s, of any page.
    pub page_changes: u64,
    /// Requests that reached the server's store.
    pub store_requests: u64,
    /// Browsers killed and started again.
    pub restarts: u64,
}

pub struct Net {
    pub schedule: Schedule,
    pub shell: Shell,
    /// The room peers join when the net makes their rooms.
    pub room_name: String,
    pub now: u64,
    rng: SmallRng,
    pub(super) queue: Queue,
    pub(super) hub: Hub,
    pub(super) hub_owner: BTreeMap<ConnId, usize>,
    pub peers: Vec<Peer>,
    index: BTreeMap<String, usize>,
    /// The fake `RTCPeerConnection` each peer holds for another: (peer, remote).
    pub(super) conns: BTreeMap<(usize, usize), Conn>,
    pub(super) links: BTreeMap<u64, Link>,
    pub(super) next_conn: u64,
    pub(super) next_link: u64,
    /// Half-open signaling connections: (peer, generation).
    pub(super) stalled: BTreeSet<(usize, u64)>,
    pub(super) next_group: u32,
    pub stats: Stats,
    /// Things the simulated browsers saw that honest peers must never cause.
    pub errors: Vec<String>,
    /// Every frame the signaling server received: what it could read.
    pub hub_log: Vec<String>,
    /// Check a peer's editor mirror against its page after every event that changed the page
    /// (the simulator does; in-order tests check their editors where they mean to, a full
    /// check per frame would cost a replay a copy of the page each time).
    pub check_mirrors: bool,
    /// Dropped input (`Event::Dropped`) and a mirror that differs from its page fail at once.
    pub strict: bool,
    /// Print every event to stderr (or set `SIM_TRACE=1`).
    pub trace: bool,
    /// When `Some`, every output of every room, in order, as (peer, output).
    pub recorded: Option<Vec<(usize, Output)>>,
    /// Keyed rooms keep a copy in the server's store ([`super::store`]) once loaded.
    pub server_store: bool,
    /// A peer whose open page is gone is shown the home page, as the app does when it hears
    /// that the page list changed (the simulator's peers; other tests see to it themselves).
    pub home_when_page_gone: bool,
    /// The server's stores, by id.
    pub(super) stores: BTreeMap<String, SimStore>,
}

impl Net {
    pub fn new(schedule: Schedule, shell: Shell, room_name: &str, rng: SmallRng) -> Net {
        Net {
            schedule,
            shell,
            room_name: room_name.to_owned(),
            now: 0,
            rng,
            queue: Queue::default(),
            hub: Hub::new(Limits::default()),
            hub_owner: BTreeMap::new(),
            peers: Vec::new(),
            index: BTreeMap::new(),
            conns: BTreeMap::new(),
            links: BTreeMap::new(),
            next_conn: 1,
            next_link: 1,
            stalled: BTreeSet::new(),
            next_group: 1,
            stats: Stats::default(),
            errors: Vec::new(),
            hub_log: Vec::new(),
            check_mirrors: false,
            strict: false,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            recorded: None,
            server_store: false,
            home_when_page_gone: false,
            stores: BTreeMap::new(),
        }
    }

    /// `rooms` as tabs of one browser, each with its BroadcastChannel open, in order, with
    /// everything in flight delivered.
    pub fn tabs(rooms: Vec<Room>) -> Net {
        let mut net = Net::in_order(Schedule::in_order(), Shell::TAB);
        net.add_tabs(rooms);
        net.settle();
        net
    }

    /// `rooms` as browsers with one tab each, at `now`: they meet through the hub, connect over
    /// the fake WebRTC and sync; this returns when nothing is in flight.
    pub fn browsers(rooms: Vec<Room>, now: u64, schedule: Schedule) -> Net {
        let mut net = Net::in_order(schedule, Shell::BROWSER);
        net.now = now;
        net.add_browsers(rooms);
        net.settle();
        net
    }

    /// Two browsers of room "trace" (`duo-peer-a` and `-b`), connected and synced, with their
    /// frames held for the test: the pair the trace replays and the hostile-input tests use.
    pub fn held_pair(client_ids: [u64; 2]) -> Net {
        let ids = ["duo-peer-a", "duo-peer-b"];
        let rooms = (0..2)
            .map(|i| super::new_room("trace", ids[i], client_ids[i], 0x7ACE + i as u64, 0))
            .collect();
        let net = Net::browsers(rooms, 0, Schedule::held());
        for i in 0..2 {
            let status = net.room(i).status();
            assert!(
                status.peers == 1 && status.synced,
                "the pair connected and synced"
            );
        }
        net
    }

    /// An empty net with a schedule without timers, whose rng only draws latencies. Its peers
    /// are honest: dropped input fails the test unless the test says otherwise (`strict`).
    pub fn in_order(schedule: Schedule, shell: Shell) -> Net {
        assert!(!schedule.timers, "an in-order net leaves time to the test");
        let mut net = Net::new(schedule, shell, "", SmallRng::seed_from_u64(0));
        net.strict = true;
        net
    }

    /// Adds `rooms` as tabs of one browser and opens their shells (nothing is delivered yet).
    pub fn add_tabs(&mut self, rooms: Vec<Room>) {
        let browser = self.peers.len();
        self.add_rooms(rooms, |_| browser);
    }

    /// Adds `rooms` as browsers of one tab each and opens their shells.
    pub fn add_browsers(&mut self, rooms: Vec<Room>) {
        self.add_rooms(rooms, |i| i);
    }

    /// Every room is in place before any shell opens, so that all hear each other's first
    /// frames, as tabs and browsers that start together do.
    fn add_rooms(&mut self, rooms: Vec<Room>, browser: impl Fn(usize) -> usize) {
        let first = self.peers.len();
        for room in rooms {
            let i = self.peers.len();
            let client_id = room.doc().client_id().get();
            self.add_peer(Peer::new(
                room.peer_id().to_owned(),
                client_id,
                browser(i),
                0,
            ));
            self.place(i, room);
        }
        for i in first..self.peers.len() {
            self.open_shell(i);
        }
    }

    pub fn add_peer(&mut self, peer: Peer) -> usize {
        let i = self.peers.len();
        self.index.insert(peer.id.clone(), i);
        self.peers.push(peer);
        i
    }

    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }

    pub fn room(&self, i: usize) -> &Room {
        self.peers[i].room()
    }

    pub fn room_mut(&mut self, i: usize) -> &mut Room {
        self.peers[i].room_mut()
    }

    pub fn joined(&self, i: usize) -> bool {
        self.peers[i].room.is_some()
    }

    pub fn same_browser(&self, a: usize, b: usize) -> bool {
        self.peers[a].browser == self.peers[b].browser
    }

    /// The rooms, for a test that wires them anew.
    pub fn into_rooms(self) -> Vec<Room> {
        self.peers.into_iter().filter_map(|p| p.room).collect()
    }

    /// [`Net::drain`], returning what room `i` asked for (and recording it too, if recording).
    pub fn drain_outputs(&mut self, i: usize) -> Vec<Output> {
        let outer = self.recorded.replace(Vec::new());
        self.drain(i);
        let outputs = std::mem::replace(&mut self.recorded, outer).unwrap_or_default();
        if let Some(recorded) = &mut self.recorded {
            recorded.extend(outputs.iter().cloned());
        }
        outputs.into_iter().map(|(_, output)| output).collect()
    }

    pub(super) fn delay(&mut self, (lo, hi): (u64, u64)) -> u64 {
        self.rng.random_range(lo..=hi)
    }

    pub(super) fn trace(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{:>7}] {}", self.now, what());
        }
    }

    // Peers and their rooms.

    /// Peer `i` joins with a room of its own (the net's room, the peer's seed and key).
    pub fn join(&mut self, i: usize) {
        if self.joined(i) {
            return;
        }
        let peer = &self.peers[i];
        let room = super::new_keyed_room(
            &self.room_name,
            &peer.id,
            peer.client_id,
            peer.seed,
            peer.key.clone(),
            self.now,
        );
        self.join_with(i, room);
        if self.peers[i].loaded {
            self.open_server_copy(i);
        }
    }

    /// Once a tab's own copy is loaded, as the app does: its room keeps a copy on the server
    /// (if the net has a store and the room a key), under a writer id of this session's.
    pub fn open_server_copy(&mut self, i: usize) {
        if self.server_store {
            let writer: [u8; 16] = self.rng.random();
            let now = self.now;
            self.act(i, |room| room.open_server_store(now, writer));
        }
    }

    /// Peer `i` joins with `room`: its editor shows the page, its shell opens what
    /// [`Net::shell`] says.
    pub fn join_with(&mut self, i: usize, room: Room) {
        self.place(i, room);
        self.trace(|| format!("peer {i} joins"));
        self.open_shell(i);
    }

    fn place(&mut self, i: usize, room: Room) {
        let peer = &mut self.peers[i];
        peer.editor = EditorText::new(&room.page_text(&peer.page).unwrap_or_default());
        peer.room = Some(room);
    }

    fn open_shell(&mut self, i: usize) {
        if self.shell.broadcast {
            self.feed(i, Input::BroadcastOpen);
        }
        if self.shell.signaling {
            self.sig_up(i);
        }
    }

    /// Gives `input` to peer `i`'s room, then carries out everything it asks for.
    pub fn feed(&mut self, i: usize, input: Input<'_>) {
        let now = self.now;
        let Some(room) = self.peers[i].room.as_mut() else {
            return;
        };
        room.handle(now, input);
        self.drain(i);
    }

    /// Peer `i`'s person edits `page` at the net's time, not through the editor's value (the
    /// page is open elsewhere, or a replay makes the edit): the editor follows if it shows the
    /// page.
    pub fn edit(&mut self, i: usize, page: &str, splices: &[Splice]) {
        let now = self.now;
        let peer = &mut self.peers[i];
        if page == peer.page {
            for splice in splices {
                peer.editor.apply(splice);
            }
        }
        peer.room_mut().edit(now, page, splices, None);
        self.drain(i);
    }

    /// Does something to peer `i`'s room (a person's action), then carries out what it asks.
    pub fn act<T>(&mut self, i: usize, action: impl FnOnce(&mut Room) -> T) -> T {
        let result = action(self.room_mut(i));
        self.drain(i);
        result
    }

    /// Carries out everything room `i` asks for; then, as the browser's shell does, sets its
    /// one timer for when it wants to be woken.
    pub fn drain(&mut self, i: usize) {
        let mut text_changed = false;
        while let Some(output) = self.peers[i].room.as_mut().and_then(Room::poll_output) {
            text_changed |= matches!(output, Output::Event(Event::PageChanged { .. }));
            self.on_output(i, output);
        }
        if text_changed && self.check_mirrors {
            self.check_mirror(i);
        }
        if !self.schedule.timers {
            return;
        }
        let due = self.peers[i].room.as_ref().and_then(Room::poll_timeout);
        if let Some(at) = due.map(|t| t.max(self.now + 1)) {
            if self.peers[i].wake.is_none_or(|w| at < w || w <= self.now) {
                self.peers[i].wake = Some(at);
                self.queue.push(at, Ev::Wake(i));
            }
        }
    }

    /// The editor shows its page's text; a mismatch is an error (reported once: the editor is
    /// reset to the page). A page that is gone is the test's to handle.
    pub fn check_mirror(&mut self, i: usize) {
        let peer = &self.peers[i];
        let Some(text) = peer.room().page_text(&peer.page) else {
            return;
        };
        if peer.editor.text() != text {
            let error = format!(
                "t={} peer {i}: mirror {:?} != page {:?}",
                self.now,
                peer.editor.text(),
                text
            );
            assert!(!self.strict, "{error}");
            self.errors.push(error);
            self.peers[i].editor = EditorText::new(&text);
        }
    }

    /// The peer a room addressed by id; an unknown id (a peer outside the net) is an error.
    pub(super) fn remote_index(&mut self, i: usize, peer: &str) -> Option<usize> {
        let r = self.index.get(peer).copied();
        if r.is_none() || r == Some(i) {
            self.errors.push(format!(
                "peer {i} addressed unknown or own peer id {peer:?}"
            ));
            return None;
        }
        r
    }

    fn on_output(&mut self, i: usize, output: Output) {
        if let Some(recorded) = &mut self.recorded {
            recorded.push((i, output.clone()));
        }
        match output {
            Output::Transmit(Transmit::Server(frame)) => self.send_to_hub(i, frame),
            Output::Transmit(Transmit::Peer { peer, bytes }) => {
                if let Some(r) = self.remote_index(i, &peer) {
                    self.send_frame(i, r, bytes);
                }
            }
            Output::Transmit(Transmit::Tabs(bytes)) => self.post_to_tabs(i, bytes),
            Output::Effect(Effect::ReconnectSignaling) => {
                self.trace(|| format!("peer {i} reconnects signaling"));
                self.queue.push(self.now, Ev::SigReconnect(i));
            }
            Output::Effect(Effect::Connect { peer, initiator }) => {
                if let Some(r) = self.remote_index(i, &peer) {
                    self.connect(i, r, initiator);
                }
            }
            Output::Effect(Effect::Signal { peer, signal }) => {
                if let Some(r) = self.remote_index(i, &peer) {
                    self.on_remote_signal(i, r, signal);
                }
            }
            Output::Effect(Effect::Disconnect { peer }) => {
                if let Some(r) = self.remote_index(i, &peer) {
                    self.disconnect(i, r);
                }
            }
            Output::Effect(Effect::Store(update)) => self.peers[i].stored.push(update),
            // Unless the net runs a store ([`Net::server_store`]), its rooms keep no server
            // copy: the server store's machine has its own tests, against a store that keeps
            // records.
            Output::Transmit(Transmit::Store(request)) if self.server_store => {
                self.send_to_store(i, request)
            }
            Output::Transmit(Transmit::Store(request) | Transmit::HistoryStore(request)) => {
                panic!("peer {i} asked a server store the net does not run: {request:?}")
            }
            // Versions are made only once a room has read its history, which the net's never
            // do: the history has its own tests (`room/history/tests.rs`).
            Output::Effect(Effect::StoreHistory(_)) | Output::Event(Event::HistoryChanged) => {}
            Output::Event(Event::PageChanged { page, splices }) => {
                self.stats.page_changes += 1;
                let peer = &mut self.peers[i];
                if page == peer.page {
                    for splice in &splices {
                        peer.editor.apply(splice);
                    }
                }
            }
            Output::Event(Event::StatusChanged(status)) => {
                self.peers[i].statuses.push((self.now, status))
            }
            Output::Event(Event::Dropped(why)) => {
                self.trace(|| format!("peer {i} dropped: {why}"));
                assert!(!self.strict, "peer {i} dropped honest input: {why}");
                self.peers[i].drops.push((self.now, why));
            }
            Output::Event(Event::PagesChanged) => {
                self.peers[i].pages_changed += 1;
                // The app shows the home page when the open one is gone (deleted by anyone).
                let peer = &mut self.peers[i];
                let open = peer.room().pages().iter().any(|p| p.id == peer.page);
                if !open && self.home_when_page_gone {
                    self.trace(|| format!("peer {i}'s open page is gone: home"));
                    self.peers[i].open(commonplace_core::notebook::HOME);
                }
            }
            Output::Event(Event::Receiving { .. }) | Output::Event(Event::PresenceChanged) => {}
        }
    }

    /// A frame on `i`'s BroadcastChannel reaches every other joined tab of its browser.
    fn post_to_tabs(&mut self, i: usize, bytes: Vec<u8>) {
        let tabs: Vec<usize> = (0..self.peers.len())
            .filter(|&j| j != i && self.joined(j) && self.same_browser(i, j))
            .collect();
        for j in tabs {
            let ev = Ev::BcDeliver {
                to: j,
                bytes: bytes.clone(),
            };
            if self.schedule.hold_frames {
                self.hold(i, j, ev);
            } else {
                let latency = self.delay(self.schedule.broadcast_latency);
                let at = self
                    .queue
                    .fifo_time(Fifo::Bc(i, j), self.now, latency, 0, true);
                self.queue.push(at, ev);
            }
        }
    }
}
