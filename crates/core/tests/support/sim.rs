//! A deterministic discrete-event simulator of N peers sharing one room.
//!
//! Every peer is a real [`Room`] with an [`EditorText`] mirror, as in the browser. Everything
//! between them goes through the real protocols: signaling frames through the real [`Hub`], over
//! per-peer WebSocket links with random latency, and data-channel frames over fake WebRTC
//! connections that behave like a browser's (offer, answer with implicit rollback, the channel
//! opening on both sides, closing on failure). Faults come from the seed: partitions, failed data
//! channels, signaling drops and half-open signaling sockets, peers joining late. Peers may be
//! tabs of one browser, sharing a BroadcastChannel. Rooms may have keys, alike or not. Every peer's `Output::Effect(Effect::Store)`d updates are
//! kept and reloaded at the end.
//!
//! One seed, one run: the simulation uses a single [`SmallRng`] and ordered collections only.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;
use std::sync::Arc;

use commonplace_core::notebook;
use commonplace_core::room::{Effect, Event, Input, Output, Room, Status, Transmit};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::EditorText;
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::hub::{ConnId, Hub, Limits};
use commonplace_protocol::signaling::{IceCandidate, SignalData};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use yrs::{ReadTxn, StateVector, Transact};

pub const SECOND: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub peers: usize,
    pub room: String,
    /// One-way latency of a signaling WebSocket frame, ms (inclusive range).
    pub signaling_latency: (u64, u64),
    /// One-way latency of a data-channel frame, ms.
    pub link_latency: (u64, u64),
    /// Frames on one data channel may overtake each other (real channels are ordered).
    pub reorder_within_link: bool,
    /// How long the fake WebRTC takes to make an offer or answer, open a channel or notice a close, ms.
    pub webrtc_delay: (u64, u64),
    /// Fake connections also emit an ICE candidate after each offer and answer.
    pub candidates: bool,
    /// How long after the answerer's channel is announced open its own end can send, ms.
    /// Chromium fires `datachannel` (and `open`) for a channel the other side created before
    /// its own end of it has finished the open handshake, and silently drops whatever is sent
    /// in between ("Send failed INVALID_STATE" in its log, no exception, no close). Frames to
    /// that end arrive only once it can send: Chromium queues them until then.
    pub announce_gap: (u64, u64),
    /// Random edits delete more than they insert once a page is this long (chars).
    pub max_text: usize,
    /// Check every peer's editor mirror against its room after every event that touched it.
    pub check_mirrors: bool,
    /// Print every event to stderr (or set `SIM_TRACE=1`).
    pub trace: bool,
    /// Probability that a data-channel frame silently vanishes: a broken transport, for checking
    /// that the simulator notices lost updates. Zero for every honest run.
    pub lose_frames: f64,
    /// Only frames sent by this peer are lost (with probability `lose_frames`).
    pub lose_only_from: Option<usize>,
    /// Peers `0..k` are tabs of one browser, `k..2k` of the next, and so on: tabs of a browser
    /// share a BroadcastChannel (and a fate in partitions).
    pub tabs_per_browser: usize,
    /// Peer i's room key; peers past the end have none.
    pub keys: Vec<Option<RoomKey>>,
}

impl SimConfig {
    pub fn new(seed: u64, peers: usize) -> SimConfig {
        SimConfig {
            seed,
            peers,
            room: "notebook".into(),
            signaling_latency: (5, 150),
            link_latency: (5, 200),
            reorder_within_link: false,
            webrtc_delay: (1, 400),
            candidates: true,
            announce_gap: (0, 30),
            max_text: 400,
            check_mirrors: true,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            lose_frames: 0.0,
            lose_only_from: None,
            tabs_per_browser: 1,
            keys: Vec::new(),
        }
    }

    /// Every peer's room has `key`.
    pub fn with_key(mut self, key: RoomKey) -> SimConfig {
        self.keys = vec![Some(key); self.peers];
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// An initiator that has not produced its offer yet.
    Offering,
    /// A non-initiator waiting for an offer.
    Idle,
    HaveLocalOffer,
    /// Producing the answer to the offer of the remote connection `offer`.
    Answering {
        offer: u64,
    },
    Answered {
        offer: u64,
    },
    Linked {
        link: u64,
    },
}

/// The fake `RTCPeerConnection` one peer holds for another.
#[derive(Debug)]
struct Conn {
    id: u64,
    state: ConnState,
    /// `Input::ChannelOpen` was given to the room.
    opened: bool,
}

/// An established data channel between two connection objects.
#[derive(Debug)]
struct Link {
    /// (peer, connection id) on each side.
    ends: [(usize, u64); 2],
    alive: bool,
    /// When each side's `ChannelOpen` is due: frames to that side arrive no earlier.
    open_at: [u64; 2],
    /// From when each side's end can send (see [`SimConfig::announce_gap`]): frames it sends
    /// earlier vanish, frames to it arrive no earlier.
    sendable_at: [u64; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fifo {
    /// Peer to hub, per signaling connection.
    SigUp(usize, u64),
    /// Hub to peer, per signaling connection.
    SigDown(usize, u64),
    /// One direction of one data channel: (link, sender).
    Data(u64, usize),
    /// BroadcastChannel, from one tab to another.
    Bc(usize, usize),
}

#[derive(Debug)]
enum Ev {
    Join(usize),
    SigUp(usize),
    SigDown(usize),
    /// The signaling connection goes half-open: frames vanish both ways, nothing says so.
    SigStall(usize),
    /// The room asked for a new signaling connection.
    SigReconnect(usize),
    HubRecv {
        from: usize,
        gen: u64,
        frame: String,
    },
    SigDeliver {
        to: usize,
        gen: u64,
        frame: Arc<str>,
    },
    /// The room asked to be woken now (`Room::poll_timeout`): the only timer a room has.
    Wake(usize),
    Edit(usize),
    MakeOffer {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    MakeAnswer {
        peer: usize,
        remote: usize,
        conn: u64,
        offer: u64,
    },
    MakeCandidate {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    ChannelOpen {
        peer: usize,
        remote: usize,
        conn: u64,
        link: u64,
    },
    Frame {
        to: usize,
        from: usize,
        link: u64,
        bytes: Vec<u8>,
    },
    /// The connection `conn` of `peer` to `remote` closed (the remote side went away).
    PeerClosed {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    /// The connection `conn` of `peer` to `remote` failed on its own (bad answer, ICE failure).
    ConnFail {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    PartitionStart {
        group: u32,
        peers: Vec<usize>,
    },
    PartitionEnd {
        group: u32,
    },
    LinkFailure {
        all: bool,
    },
    /// A frame on the BroadcastChannel of `from`'s browser reaches tab `to`.
    BcDeliver {
        to: usize,
        bytes: Vec<u8>,
    },
}

impl Ev {
    /// Events that belong to the scenario (not to the machinery it set going).
    fn is_scenario(&self) -> bool {
        matches!(
            self,
            Ev::Join(_)
                | Ev::Edit(_)
                | Ev::PartitionStart { .. }
                | Ev::PartitionEnd { .. }
                | Ev::LinkFailure { .. }
                | Ev::SigDown(_)
                | Ev::SigStall(_)
        )
    }
}

struct Scheduled {
    time: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

pub struct SimPeer {
    pub id: String,
    pub client_id: u64,
    pub room: Option<Room>,
    /// What this peer's editor shows: local edits go in through `EditorText::input`, remote
    /// splices through `EditorText::apply`, exactly as the browser does.
    pub mirror: EditorText,
    /// The signaling connection and its generation, while it is up.
    sig: Option<(ConnId, u64)>,
    sig_gen: u64,
    /// The partition this peer is in; `None` is the main network, with the signaling server.
    group: Option<u32>,
    pub drops: Vec<(u64, String)>,
    pub statuses: Vec<(u64, Status)>,
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
    wake: Option<u64>,
}

/// Marker bookkeeping: every random insert may carry a unique marker `⟦p<peer>.<n>⟧`; edits
/// never cut into a marker, so a marker is in the final page exactly when nobody deleted it.
#[derive(Debug, Default)]
pub struct Markers {
    pub inserted: BTreeSet<String>,
    pub deleted: BTreeSet<String>,
    next: BTreeMap<usize, u64>,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub events: u64,
    pub frames: u64,
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
}

pub struct Sim {
    pub cfg: SimConfig,
    pub now: u64,
    rng: SmallRng,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    pending_scenario: usize,
    hub: Hub,
    hub_owner: BTreeMap<ConnId, usize>,
    pub peers: Vec<SimPeer>,
    index: BTreeMap<String, usize>,
    conns: BTreeMap<(usize, usize), Conn>,
    links: BTreeMap<u64, Link>,
    fifo: BTreeMap<Fifo, u64>,
    /// Half-open signaling connections: (peer, generation).
    stalled: BTreeSet<(usize, u64)>,
    next_conn: u64,
    next_link: u64,
    next_group: u32,
    pub markers: Markers,
    pub stats: Stats,
    /// Things the simulated browsers saw that honest peers must never cause.
    pub errors: Vec<String>,
    /// Every frame the signaling server received: what it could read.
    pub hub_log: Vec<String>,
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let mut used = BTreeSet::new();
        let peers = (0..cfg.peers)
            .map(|i| {
                // Yjs client ids are random 53-bit numbers; their order decides concurrent inserts.
                let client_id = loop {
                    let id = rng.random_range(1..(1u64 << 53));
                    if used.insert(id) {
                        break id;
                    }
                };
                SimPeer {
                    id: format!("{:08x}-sim-peer-{i}", rng.random::<u32>()),
                    client_id,
                    room: None,
                    mirror: EditorText::default(),
                    sig: None,
                    sig_gen: 0,
                    group: None,
                    drops: Vec::new(),
                    statuses: Vec::new(),
                    connects: Vec::new(),
                    opens: Vec::new(),
                    closes: Vec::new(),
                    edits: 0,
                    stored: Vec::new(),
                    wake: None,
                }
            })
            .collect::<Vec<_>>();
        let index = peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Sim {
            cfg,
            now: 0,
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            pending_scenario: 0,
            hub: Hub::new(Limits::default()),
            hub_owner: BTreeMap::new(),
            peers,
            index,
            conns: BTreeMap::new(),
            links: BTreeMap::new(),
            fifo: BTreeMap::new(),
            stalled: BTreeSet::new(),
            next_conn: 1,
            next_link: 1,
            next_group: 1,
            markers: Markers::default(),
            stats: Stats::default(),
            errors: Vec::new(),
            hub_log: Vec::new(),
        }
    }

    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }

    pub fn room(&self, i: usize) -> &Room {
        self.peers[i].room.as_ref().expect("peer has joined")
    }

    pub fn joined(&self, i: usize) -> bool {
        self.peers[i].room.is_some()
    }

    // Scenario.

    pub fn join_at(&mut self, peer: usize, time: u64) {
        self.schedule(time, Ev::Join(peer));
    }

    /// `count` random edits by `peer` at random times in `from..until`.
    pub fn edits(&mut self, peer: usize, count: usize, from: u64, until: u64) {
        for _ in 0..count {
            let time = self.rng.random_range(from..until.max(from + 1));
            self.schedule(time, Ev::Edit(peer));
        }
    }

    /// `peers` lose the signaling server and every peer outside the set from `from` to `until`.
    pub fn partition(&mut self, peers: Vec<usize>, from: u64, until: u64) {
        let group = self.next_group;
        self.next_group += 1;
        self.schedule(from, Ev::PartitionStart { group, peers });
        self.schedule(until.max(from + 1), Ev::PartitionEnd { group });
    }

    /// A random open data channel fails at `time`.
    pub fn fail_link_at(&mut self, time: u64) {
        self.schedule(time, Ev::LinkFailure { all: false });
    }

    /// Every open data channel fails at `time`.
    pub fn fail_all_links_at(&mut self, time: u64) {
        self.schedule(time, Ev::LinkFailure { all: true });
    }

    /// `peer`'s signaling WebSocket drops at `from` and reconnects at `until`.
    pub fn signaling_flap(&mut self, peer: usize, from: u64, until: u64) {
        self.schedule(from, Ev::SigDown(peer));
        self.schedule(until.max(from + 1), Ev::SigUp(peer));
    }

    /// `peer`'s signaling connection goes half-open at `time`; the room must notice by itself.
    pub fn signaling_stall(&mut self, peer: usize, time: u64) {
        self.schedule(time, Ev::SigStall(peer));
    }

    /// A random scenario from the seed: peers join (some late), everyone edits until `until`,
    /// with partitions, data-channel failures and signaling drops along the way; all faults
    /// heal by `until`.
    pub fn random_scenario(&mut self, edits_per_peer: usize, until: u64) {
        let n = self.cfg.peers;
        for i in 0..n {
            let late = i > 0 && self.rng.random_bool(0.3);
            let at = if late {
                self.rng.random_range(0..until * 2 / 3)
            } else {
                self.rng.random_range(0..500)
            };
            self.join_at(i, at);
            self.edits(i, edits_per_peer, at, until);
        }
        for _ in 0..self.rng.random_range(0..=2) {
            let size = self.rng.random_range(1..n);
            let mut members: Vec<usize> = (0..n).collect();
            for k in 0..members.len() {
                let j = self.rng.random_range(k..members.len());
                members.swap(k, j);
            }
            members.truncate(size);
            members.sort();
            let from = self.rng.random_range(0..until * 3 / 4);
            let length = self.rng.random_range(SECOND..30 * SECOND);
            self.partition(members, from, (from + length).min(until));
        }
        for _ in 0..self.rng.random_range(0..=4) {
            let at = self.rng.random_range(0..until);
            self.fail_link_at(at);
        }
        for _ in 0..self.rng.random_range(0..=2) {
            let peer = self.rng.random_range(0..n);
            let from = self.rng.random_range(0..until * 3 / 4);
            let length = self.rng.random_range(100..10 * SECOND);
            self.signaling_flap(peer, from, (from + length).min(until));
        }
        if self.rng.random_bool(0.25) {
            let peer = self.rng.random_range(0..n);
            let at = self.rng.random_range(0..until * 3 / 4);
            self.signaling_stall(peer, at);
        }
    }

    // Running.

    pub fn run_until(&mut self, time: u64) {
        while self.queue.peek().is_some_and(|s| s.time <= time) {
            let Scheduled { time, ev, .. } = self.queue.pop().expect("peeked");
            self.now = time;
            if ev.is_scenario() || matches!(ev, Ev::SigUp(_)) {
                self.pending_scenario = self.pending_scenario.saturating_sub(1);
            }
            self.stats.events += 1;
            self.dispatch(ev);
        }
        self.now = self.now.max(time);
    }

    /// Runs second by second until [`Sim::settled`], or until `max_time`; true if settled.
    pub fn run_until_quiet(&mut self, max_time: u64) -> bool {
        loop {
            if self.settled() {
                return true;
            }
            if self.now >= max_time {
                return false;
            }
            self.run_until(self.now + SECOND);
        }
    }

    /// All rooms show the same page.
    pub fn converged(&self) -> bool {
        let texts = self.texts();
        texts.windows(2).all(|w| w[0] == w[1])
    }

    pub fn texts(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter_map(|p| p.room.as_ref())
            .map(Room::text)
            .collect()
    }

    fn state_vector(&self, i: usize) -> StateVector {
        self.room(i).doc().transact().state_vector()
    }

    /// Nothing left to happen: no scenario event pending (joins included), every joined peer
    /// online, connected to every other peer of another browser both ways and synced, knowing
    /// the other tabs of its own browser, the same document everywhere.
    pub fn settled(&self) -> bool {
        let joined: Vec<usize> = (0..self.peers.len()).filter(|&i| self.joined(i)).collect();
        if self.pending_scenario > 0
            || joined.is_empty()
            || joined.iter().any(|&i| self.peers[i].sig.is_none())
        {
            return false;
        }
        for &i in &joined {
            let status = self.room(i).status();
            let tabs = joined
                .iter()
                .filter(|&&j| j != i && self.same_browser(i, j))
                .count();
            let mut open = 0;
            for &j in joined.iter().filter(|&&j| j != i) {
                let linked = match (self.conns.get(&(i, j)), self.conns.get(&(j, i))) {
                    (Some(a), Some(b)) => {
                        matches!((a.state, b.state), (ConnState::Linked { link: x }, ConnState::Linked { link: y }) if x == y)
                            && a.opened
                            && b.opened
                    }
                    _ => false,
                };
                open += usize::from(linked);
                // Tabs of one browser meet on the BroadcastChannel instead.
                if !linked && !self.same_browser(i, j) {
                    return false;
                }
            }
            if status.peers != open || status.tabs != tabs || !status.synced || !status.online {
                return false;
            }
        }
        let sv = self.state_vector(joined[0]);
        self.converged() && joined.iter().all(|&i| self.state_vector(i) == sv)
    }

    pub fn same_browser(&self, a: usize, b: usize) -> bool {
        let k = self.cfg.tabs_per_browser.max(1);
        a / k == b / k
    }

    /// Everything the run must satisfy once settled; the message names the seed.
    pub fn check(&self) -> Result<(), String> {
        let seed = self.cfg.seed;
        let mut problems = String::new();
        if !self.errors.is_empty() {
            let _ = writeln!(
                problems,
                "simulated browsers saw errors: {:#?}",
                self.errors
            );
        }
        for (i, peer) in self.peers.iter().enumerate() {
            if !peer.drops.is_empty() {
                let _ = writeln!(problems, "peer {i} dropped honest input: {:#?}", peer.drops);
            }
            if let Some(room) = &peer.room {
                if peer.mirror.text() != room.text() {
                    let _ = writeln!(
                        problems,
                        "peer {i}'s editor mirror differs from its page:\n  mirror {:?}\n  page   {:?}",
                        peer.mirror.text(),
                        room.text()
                    );
                }
                // A reload from what was stored gives back the page.
                let mut reloaded = super::new_room(&self.cfg.room, "reloaded", 1, 1, self.now);
                reloaded.load(self.now, &peer.stored);
                if reloaded.text() != room.text() {
                    let _ = writeln!(
                        problems,
                        "peer {i}'s stored updates reload as {:?}, not its page {:?}",
                        reloaded.text(),
                        room.text()
                    );
                }
            }
        }
        let texts = self.texts();
        if !self.converged() {
            let _ = writeln!(problems, "pages differ: {texts:#?}");
        } else if let Some(text) = texts.first() {
            if let Err(e) = self.check_markers(text) {
                let _ = writeln!(problems, "{e}");
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "seed {seed} ({} peers): {problems}\n{}",
                self.cfg.peers,
                self.summary()
            ))
        }
    }

    fn check_markers(&self, text: &str) -> Result<(), String> {
        let chars: Vec<char> = text.chars().collect();
        let mut found = BTreeSet::new();
        for (start, end) in marker_spans(&chars) {
            let marker: String = chars[start..end].iter().collect();
            if end - start < 2 || chars[end - 1] != '⟧' || !found.insert(marker.clone()) {
                return Err(format!("broken or repeated marker {marker:?} in {text:?}"));
            }
        }
        let expected: BTreeSet<String> = self
            .markers
            .inserted
            .difference(&self.markers.deleted)
            .cloned()
            .collect();
        if found != expected {
            let missing: Vec<_> = expected.difference(&found).collect();
            let extra: Vec<_> = found.difference(&expected).collect();
            return Err(format!(
                "markers: missing {missing:?}, unexpected {extra:?} in {text:?}"
            ));
        }
        Ok(())
    }

    pub fn summary(&self) -> String {
        let mut s = format!("t={}ms {:?}\n", self.now, self.stats);
        for (i, p) in self.peers.iter().enumerate() {
            let status = p.room.as_ref().map(Room::status);
            let _ = writeln!(
                s,
                "  peer {i} {}: {status:?} edits {} connects {:?} opens {:?} closes {:?} sig {:?} group {:?}",
                p.id, p.edits, p.connects, p.opens, p.closes, p.sig, p.group
            );
        }
        for ((i, j), c) in &self.conns {
            let _ = writeln!(s, "  conn {i}->{j}: {c:?}");
        }
        s
    }

    // Machinery.

    fn schedule(&mut self, time: u64, ev: Ev) {
        if ev.is_scenario() || matches!(ev, Ev::SigUp(_)) {
            self.pending_scenario += 1;
        }
        self.seq += 1;
        self.queue.push(Scheduled {
            time,
            seq: self.seq,
            ev,
        });
    }

    fn delay(&mut self, (lo, hi): (u64, u64)) -> u64 {
        self.rng.random_range(lo..=hi)
    }

    /// The delivery time of a frame sent now on an ordered channel: never before an earlier one.
    fn fifo_time(&mut self, key: Fifo, latency: u64, not_before: u64, ordered: bool) -> u64 {
        let mut time = (self.now + latency).max(not_before);
        let last = self.fifo.entry(key).or_insert(0);
        if ordered {
            time = time.max(*last);
        }
        *last = (*last).max(time);
        time
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.cfg.trace {
            eprintln!("[{:>7}] {}", self.now, what());
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.peers[a].group == self.peers[b].group
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Join(i) => self.join(i),
            Ev::SigUp(i) => self.sig_up(i),
            Ev::SigDown(i) => self.sig_down(i),
            Ev::SigStall(i) => {
                if let Some((_, gen)) = self.peers[i].sig {
                    self.trace(|| format!("signaling {i} stalls"));
                    self.stalled.insert((i, gen));
                }
            }
            Ev::SigReconnect(i) => {
                self.stats.signaling_reconnects += 1;
                self.sig_down(i);
                let at = self.now + self.delay((10, 2 * SECOND));
                self.schedule(at, Ev::SigUp(i));
            }
            Ev::HubRecv { from, gen, frame } => self.hub_receive(from, gen, &frame),
            Ev::SigDeliver { to, gen, frame } => {
                if self.peers[to].sig.is_some_and(|(_, g)| g == gen)
                    && !self.stalled.contains(&(to, gen))
                {
                    self.stats.signaling_frames += 1;
                    self.trace(|| format!("sig -> {to}: {frame}"));
                    self.feed(to, Input::SignalingFrame(&frame));
                } else {
                    self.stats.signaling_lost += 1;
                }
            }
            Ev::Wake(i) => {
                if self.peers[i].wake == Some(self.now) {
                    self.peers[i].wake = None;
                    // Browsers' timers fire a little late, never early.
                    self.feed(i, Input::Timeout);
                }
            }
            Ev::Edit(i) => {
                if self.joined(i) {
                    self.random_edit(i);
                }
            }
            Ev::MakeOffer { peer, remote, conn } => {
                if self.conn_is(peer, remote, conn, |s| s == ConnState::Offering) {
                    self.set_state(peer, remote, ConnState::HaveLocalOffer);
                    let signal = SignalData::Offer {
                        sdp: format!("sim-offer {conn}"),
                    };
                    self.local_signal(peer, remote, signal);
                    self.maybe_candidate(peer, remote, conn);
                }
            }
            Ev::MakeAnswer {
                peer,
                remote,
                conn,
                offer,
            } => {
                if self.conn_is(peer, remote, conn, |s| s == ConnState::Answering { offer }) {
                    self.set_state(peer, remote, ConnState::Answered { offer });
                    let signal = SignalData::Answer {
                        sdp: format!("sim-answer {conn} {offer}"),
                    };
                    self.local_signal(peer, remote, signal);
                    self.maybe_candidate(peer, remote, conn);
                }
            }
            Ev::MakeCandidate { peer, remote, conn } => {
                if self.conn_is(peer, remote, conn, |_| true) {
                    let candidate = IceCandidate {
                        candidate: format!(
                            "candidate:{conn} 1 udp 2122260223 192.0.2.{} 5000 typ host",
                            peer % 250
                        ),
                        sdp_m_line_index: Some(0),
                        sdp_mid: Some("0".into()),
                    };
                    self.local_signal(peer, remote, SignalData::Candidate { candidate });
                }
            }
            Ev::ChannelOpen {
                peer,
                remote,
                conn,
                link,
            } => {
                let alive = self.links.get(&link).is_some_and(|l| l.alive);
                if alive && self.conn_is(peer, remote, conn, |s| s == ConnState::Linked { link }) {
                    self.conns.get_mut(&(peer, remote)).expect("checked").opened = true;
                    self.peers[peer].opens.push((self.now, remote));
                    let id = self.peers[remote].id.clone();
                    self.trace(|| format!("open {peer} -> {remote} (conn {conn}, link {link})"));
                    // The offerer (the link's first end) created the channel.
                    let announced = self.links[&link].ends[1].0 == peer;
                    self.feed(
                        peer,
                        Input::ChannelOpen {
                            peer: &id,
                            announced,
                        },
                    );
                }
            }
            Ev::Frame {
                to,
                from,
                link,
                bytes,
            } => {
                let live = self.links.get(&link).filter(|l| l.alive).map(|l| l.ends);
                let current = live.is_some_and(|ends| {
                    ends.iter()
                        .any(|&(p, c)| p == to && self.conn_is(to, from, c, |_| true))
                });
                if current && self.conns[&(to, from)].opened {
                    self.stats.frames += 1;
                    let id = self.peers[from].id.clone();
                    self.feed(
                        to,
                        Input::PeerFrame {
                            peer: &id,
                            bytes: &bytes,
                        },
                    );
                } else {
                    self.stats.frames_lost += 1;
                }
            }
            Ev::PeerClosed { peer, remote, conn } => self.deliver_close(peer, remote, conn),
            Ev::ConnFail { peer, remote, conn } => {
                if self.conn_is(peer, remote, conn, |_| true) {
                    self.stats.conn_failures += 1;
                    let closed = self.conns.remove(&(peer, remote)).expect("checked");
                    if let ConnState::Linked { link } = closed.state {
                        self.kill_link(link, Some(peer));
                    }
                    self.deliver_close(peer, remote, conn);
                }
            }
            Ev::PartitionStart { group, peers } => {
                // A browser's tabs share its network.
                let members: Vec<usize> = (0..self.peers.len())
                    .filter(|&p| peers.iter().any(|&q| self.same_browser(p, q)))
                    .filter(|&p| self.joined(p) && self.peers[p].group.is_none())
                    .collect();
                self.trace(|| format!("partition {group}: {members:?}"));
                for &p in &members {
                    self.peers[p].group = Some(group);
                }
                let cut: Vec<u64> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.alive && !self.reachable(l.ends[0].0, l.ends[1].0))
                    .map(|(&id, _)| id)
                    .collect();
                for link in cut {
                    self.kill_link(link, None);
                }
                for p in members {
                    self.sig_down(p);
                }
            }
            Ev::PartitionEnd { group } => {
                self.trace(|| format!("partition {group} heals"));
                for p in 0..self.peers.len() {
                    if self.peers[p].group == Some(group) {
                        self.peers[p].group = None;
                        let at = self.now + self.delay((50, 3 * SECOND));
                        self.schedule(at, Ev::SigUp(p));
                    }
                }
            }
            Ev::BcDeliver { to, bytes } => self.feed(to, Input::BroadcastFrame(&bytes)),
            Ev::LinkFailure { all } => {
                let mut alive: Vec<u64> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.alive)
                    .map(|(&id, _)| id)
                    .collect();
                if !all && !alive.is_empty() {
                    alive = vec![alive[self.rng.random_range(0..alive.len())]];
                }
                for link in alive {
                    self.stats.link_failures += 1;
                    self.trace(|| format!("link {link} fails"));
                    self.kill_link(link, None);
                }
            }
        }
    }

    fn join(&mut self, i: usize) {
        if self.joined(i) {
            return;
        }
        let peer = &self.peers[i];
        let seed = splitmix(self.cfg.seed ^ splitmix(i as u64 + 1));
        let key = self.cfg.keys.get(i).cloned().flatten();
        let room = super::new_keyed_room(
            &self.cfg.room,
            &peer.id,
            peer.client_id,
            seed,
            key,
            self.now,
        );
        self.peers[i].room = Some(room);
        self.peers[i].mirror = EditorText::new("");
        self.trace(|| format!("peer {i} joins"));
        // The shell opens the room's BroadcastChannel at once, then the signaling socket.
        self.feed(i, Input::BroadcastOpen);
        self.sig_up(i);
    }

    fn sig_up(&mut self, i: usize) {
        let peer = &self.peers[i];
        if peer.room.is_none() || peer.sig.is_some() || peer.group.is_some() {
            return;
        }
        let conn = self.hub.connect();
        self.hub_owner.insert(conn, i);
        let peer = &mut self.peers[i];
        peer.sig_gen += 1;
        peer.sig = Some((conn, peer.sig_gen));
        self.trace(|| format!("signaling {i} up"));
        self.feed(i, Input::SignalingOpen);
    }

    fn sig_down(&mut self, i: usize) {
        if let Some((conn, _)) = self.peers[i].sig.take() {
            self.hub.disconnect(conn);
            self.trace(|| format!("signaling {i} down"));
            self.feed(i, Input::SignalingClosed);
        }
    }

    fn hub_receive(&mut self, from: usize, gen: u64, frame: &str) {
        let Some((conn, g)) = self.peers[from].sig else {
            self.stats.signaling_lost += 1;
            return;
        };
        if g != gen || self.stalled.contains(&(from, gen)) {
            self.stats.signaling_lost += 1;
            return;
        }
        self.hub_log.push(frame.to_owned());
        match self.hub.receive(conn, frame) {
            Ok(deliveries) => {
                for delivery in deliveries {
                    let to = self.hub_owner[&delivery.to];
                    let Some((_, gen)) = self.peers[to].sig else {
                        continue;
                    };
                    let latency = self.delay(self.cfg.signaling_latency);
                    let at = self.fifo_time(Fifo::SigDown(to, gen), latency, 0, true);
                    self.schedule(
                        at,
                        Ev::SigDeliver {
                            to,
                            gen,
                            frame: delivery.frame,
                        },
                    );
                }
            }
            Err(rejected) => self.errors.push(format!(
                "hub rejected {frame:?} from peer {from}: {rejected}"
            )),
        }
    }

    fn conn_is(
        &self,
        peer: usize,
        remote: usize,
        conn: u64,
        state: impl Fn(ConnState) -> bool,
    ) -> bool {
        self.conns
            .get(&(peer, remote))
            .is_some_and(|c| c.id == conn && state(c.state))
    }

    fn set_state(&mut self, peer: usize, remote: usize, state: ConnState) {
        self.conns
            .get_mut(&(peer, remote))
            .expect("connection exists")
            .state = state;
    }

    fn local_signal(&mut self, peer: usize, remote: usize, signal: SignalData) {
        let id = self.peers[remote].id.clone();
        self.feed(peer, Input::LocalSignal { peer: &id, signal });
    }

    fn maybe_candidate(&mut self, peer: usize, remote: usize, conn: u64) {
        if self.cfg.candidates {
            let at = self.now + self.delay((0, 50));
            self.schedule(at, Ev::MakeCandidate { peer, remote, conn });
        }
    }

    /// The data channel died: each side whose connection is still this one loses it and,
    /// after a while, hears of it. `except` already knows.
    fn kill_link(&mut self, link: u64, except: Option<usize>) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.alive {
            return;
        }
        l.alive = false;
        let ends = l.ends;
        let [(a, _), (b, _)] = ends;
        for (k, &(p, conn)) in ends.iter().enumerate() {
            let q = if k == 0 { b } else { a };
            if Some(p) == except || !self.conn_is(p, q, conn, |_| true) {
                continue;
            }
            self.conns.remove(&(p, q));
            let at = self.now + self.delay(self.cfg.webrtc_delay);
            self.schedule(
                at,
                Ev::PeerClosed {
                    peer: p,
                    remote: q,
                    conn,
                },
            );
        }
    }

    /// Tells `peer`'s room that its connection `conn` to `remote` closed, unless the room has
    /// moved on to a newer connection object (a shell drops events of replaced connections).
    fn deliver_close(&mut self, peer: usize, remote: usize, conn: u64) {
        if self
            .conns
            .get(&(peer, remote))
            .is_some_and(|c| c.id != conn)
        {
            self.stats.stale_closes += 1;
            return;
        }
        self.conns.remove(&(peer, remote));
        self.peers[peer].closes.push((self.now, remote));
        let id = self.peers[remote].id.clone();
        self.trace(|| format!("closed {peer} -> {remote} (conn {conn})"));
        self.feed(peer, Input::PeerClosed { peer: &id });
    }

    /// Gives `input` to peer `i`'s room, then carries out everything it asks for.
    fn feed(&mut self, i: usize, input: Input<'_>) {
        let now = self.now;
        let Some(room) = self.peers[i].room.as_mut() else {
            return;
        };
        room.handle(now, input);
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        let mut text_changed = false;
        while let Some(output) = self.peers[i].room.as_mut().and_then(Room::poll_output) {
            text_changed |= matches!(output, Output::Event(Event::PageChanged { .. }));
            self.on_output(i, output);
        }
        if text_changed && self.cfg.check_mirrors {
            self.check_mirror(i);
        }
        // As the browser's shell does: one timer, for when the room wants to be woken.
        let due = self.peers[i].room.as_ref().and_then(Room::poll_timeout);
        if let Some(at) = due.map(|t| t.max(self.now + 1)) {
            if self.peers[i].wake.is_none_or(|w| at < w || w <= self.now) {
                self.peers[i].wake = Some(at);
                self.schedule(at, Ev::Wake(i));
            }
        }
    }

    fn check_mirror(&mut self, i: usize) {
        let peer = &self.peers[i];
        let text = self.room(i).text();
        if peer.mirror.text() != text {
            let error = format!(
                "t={} peer {i}: mirror {:?} != page {:?}",
                self.now,
                peer.mirror.text(),
                text
            );
            self.errors.push(error);
            // Resynchronize so one divergence is reported once.
            self.peers[i].mirror = EditorText::new(&text);
        }
    }

    fn remote_index(&mut self, i: usize, peer: &str) -> Option<usize> {
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
        match output {
            Output::Transmit(Transmit::Server(frame)) => match self.peers[i].sig {
                Some((_, gen)) => {
                    let latency = self.delay(self.cfg.signaling_latency);
                    let at = self.fifo_time(Fifo::SigUp(i, gen), latency, 0, true);
                    self.trace(|| format!("sig {i} ->: {frame}"));
                    self.schedule(
                        at,
                        Ev::HubRecv {
                            from: i,
                            gen,
                            frame,
                        },
                    );
                }
                None => self.stats.signaling_lost += 1,
            },
            Output::Effect(Effect::ReconnectSignaling) => {
                self.trace(|| format!("peer {i} reconnects signaling"));
                self.schedule(self.now, Ev::SigReconnect(i));
            }
            Output::Effect(Effect::Connect { peer, initiator }) => {
                let Some(r) = self.remote_index(i, &peer) else {
                    return;
                };
                self.peers[i].connects.push((self.now, r, initiator));
                if let Some(old) = self.conns.remove(&(i, r)) {
                    // A shell replacing a connection closes the old one.
                    if let ConnState::Linked { link } = old.state {
                        self.kill_link(link, Some(i));
                    }
                }
                let id = self.next_conn;
                self.next_conn += 1;
                let state = if initiator {
                    ConnState::Offering
                } else {
                    ConnState::Idle
                };
                self.conns.insert(
                    (i, r),
                    Conn {
                        id,
                        state,
                        opened: false,
                    },
                );
                self.trace(|| format!("connect {i} -> {r} (conn {id}, initiator {initiator})"));
                if initiator {
                    let at = self.now + self.delay(self.cfg.webrtc_delay);
                    self.schedule(
                        at,
                        Ev::MakeOffer {
                            peer: i,
                            remote: r,
                            conn: id,
                        },
                    );
                }
            }
            Output::Effect(Effect::Signal { peer, signal }) => {
                let Some(r) = self.remote_index(i, &peer) else {
                    return;
                };
                self.on_remote_signal(i, r, signal);
            }
            Output::Effect(Effect::Disconnect { peer }) => {
                let Some(r) = self.remote_index(i, &peer) else {
                    return;
                };
                self.stats.disconnects += 1;
                self.trace(|| format!("disconnect {i} -> {r}"));
                if let Some(old) = self.conns.remove(&(i, r)) {
                    if let ConnState::Linked { link } = old.state {
                        self.kill_link(link, Some(i));
                    }
                }
            }
            Output::Transmit(Transmit::Peer { peer, bytes }) => {
                let Some(r) = self.remote_index(i, &peer) else {
                    return;
                };
                let Some(conn) = self.conns.get(&(i, r)) else {
                    // The channel failed and the room has not heard yet.
                    self.stats.frames_lost += 1;
                    return;
                };
                let (ConnState::Linked { link }, true) = (conn.state, conn.opened) else {
                    self.errors.push(format!(
                        "t={} peer {i} sent to {r} before its channel opened",
                        self.now
                    ));
                    return;
                };
                let l = &self.links[&link];
                let side = if l.ends[0].0 == r { 0 } else { 1 };
                let not_before = l.open_at[side].max(l.sendable_at[side]);
                if self.now < l.sendable_at[1 - side] {
                    self.stats.frames_sent_too_early += 1;
                    self.stats.frames_lost += 1;
                    self.trace(|| {
                        format!("{i} -> {r}: frame sent before its end could send, dropped")
                    });
                    return;
                }
                let latency = self.delay(self.cfg.link_latency);
                let lossy = self.cfg.lose_only_from.is_none_or(|from| from == i);
                if lossy && self.cfg.lose_frames > 0.0 && self.rng.random_bool(self.cfg.lose_frames)
                {
                    self.stats.frames_lost += 1;
                    return;
                }
                let ordered = !self.cfg.reorder_within_link;
                let at = self.fifo_time(Fifo::Data(link, i), latency, not_before, ordered);
                self.schedule(
                    at,
                    Ev::Frame {
                        to: r,
                        from: i,
                        link,
                        bytes,
                    },
                );
            }
            Output::Event(Event::PageChanged { splices, .. }) => {
                for splice in &splices {
                    self.peers[i].mirror.apply(splice);
                }
            }
            Output::Event(Event::StatusChanged(status)) => {
                self.peers[i].statuses.push((self.now, status))
            }
            Output::Effect(Effect::Store(update)) => self.peers[i].stored.push(update),
            Output::Event(Event::Receiving { .. })
            | Output::Event(Event::PagesChanged)
            | Output::Event(Event::PresenceChanged) => {}
            Output::Transmit(Transmit::Tabs(bytes)) => {
                let tabs: Vec<usize> = (0..self.peers.len())
                    .filter(|&j| j != i && self.joined(j) && self.same_browser(i, j))
                    .collect();
                for j in tabs {
                    let latency = self.delay((0, 3));
                    let at = self.fifo_time(Fifo::Bc(i, j), latency, 0, true);
                    let bytes = bytes.clone();
                    self.schedule(at, Ev::BcDeliver { to: j, bytes });
                }
            }
            Output::Event(Event::Dropped(why)) => {
                self.trace(|| format!("peer {i} dropped: {why}"));
                self.peers[i].drops.push((self.now, why));
            }
        }
    }

    /// The room hands its connection to `r` a signal from `r`: what a browser would do with it.
    fn on_remote_signal(&mut self, i: usize, r: usize, signal: SignalData) {
        self.trace(|| format!("signal {r} => {i}: {signal:?}"));
        let Some(conn) = self.conns.get(&(i, r)) else {
            // Only after a failure the room has not heard of yet: the shell has no connection.
            return;
        };
        let (id, state) = (conn.id, conn.state);
        match signal {
            SignalData::Offer { sdp } => {
                let Some(offer) = parse_sdp(&sdp, "sim-offer").and_then(|v| v.first().copied())
                else {
                    self.errors.push(format!("bad offer sdp {sdp:?}"));
                    return;
                };
                if let ConnState::Linked { .. } = state {
                    // Renegotiation by a stale remote connection: ignored until the close arrives.
                    self.stats.offers_to_linked += 1;
                    return;
                }
                // Implicit rollback of our own offer, if any, then answer.
                self.set_state(i, r, ConnState::Answering { offer });
                let at = self.now + self.delay(self.cfg.webrtc_delay);
                self.schedule(
                    at,
                    Ev::MakeAnswer {
                        peer: i,
                        remote: r,
                        conn: id,
                        offer,
                    },
                );
            }
            SignalData::Answer { sdp } => {
                let parsed = parse_sdp(&sdp, "sim-answer");
                let Some(&[answerer, offer]) = parsed.as_deref() else {
                    self.errors.push(format!("bad answer sdp {sdp:?}"));
                    return;
                };
                let remote_ready =
                    self.conn_is(r, i, answerer, |s| s == ConnState::Answered { offer });
                if state == ConnState::HaveLocalOffer
                    && offer == id
                    && remote_ready
                    && self.reachable(i, r)
                {
                    self.establish(i, id, r, answerer);
                } else {
                    // An answer in the wrong state, or to another offer: the connection fails.
                    let at = self.now + self.delay(self.cfg.webrtc_delay);
                    self.schedule(
                        at,
                        Ev::ConnFail {
                            peer: i,
                            remote: r,
                            conn: id,
                        },
                    );
                }
            }
            SignalData::Candidate { .. } | SignalData::Unsupported => {}
        }
    }

    fn establish(&mut self, a: usize, conn_a: u64, b: usize, conn_b: u64) {
        let link = self.next_link;
        self.next_link += 1;
        self.stats.links += 1;
        // `a` offered and created the channel; `b` answered, and is told of it by `datachannel`.
        let open_a = self.now + self.delay(self.cfg.webrtc_delay);
        let open_b = self.now + self.delay(self.cfg.webrtc_delay);
        let sendable_b = open_b + self.delay(self.cfg.announce_gap);
        self.links.insert(
            link,
            Link {
                ends: [(a, conn_a), (b, conn_b)],
                alive: true,
                open_at: [open_a, open_b],
                sendable_at: [open_a, sendable_b],
            },
        );
        self.set_state(a, b, ConnState::Linked { link });
        self.set_state(b, a, ConnState::Linked { link });
        self.trace(|| format!("link {link}: {a} (conn {conn_a}) <-> {b} (conn {conn_b})"));
        self.schedule(
            open_a,
            Ev::ChannelOpen {
                peer: a,
                remote: b,
                conn: conn_a,
                link,
            },
        );
        self.schedule(
            open_b,
            Ev::ChannelOpen {
                peer: b,
                remote: a,
                conn: conn_b,
                link,
            },
        );
    }

    // Random edits.

    /// One random edit by peer `i`, made as the browser makes it: change the editor's value,
    /// recover the splice with `EditorText::input`, give it to `Room::edit`. Sometimes two
    /// changes go into one `edit` call.
    fn random_edit(&mut self, i: usize) {
        let parts = if self.rng.random_bool(0.15) { 2 } else { 1 };
        let mut splices: Vec<Splice> = Vec::new();
        for _ in 0..parts {
            let text = self.peers[i].mirror.text();
            let (value, caret) = self.random_change(i, &text);
            if let Some(splice) = self.peers[i].mirror.input(&value, Some(caret)) {
                splices.push(splice);
            }
        }
        self.peers[i].edits += 1;
        self.trace(|| format!("edit {i}: {splices:?}"));
        let now = self.now;
        self.peers[i]
            .room
            .as_mut()
            .expect("joined")
            .edit(now, notebook::HOME, &splices, None);
        self.drain(i);
        if self.cfg.check_mirrors {
            self.check_mirror(i);
        }
    }

    /// A new editor value and the caret after the change, never cutting into a marker.
    fn random_change(&mut self, i: usize, text: &str) -> (String, u32) {
        let chars: Vec<char> = text.chars().collect();
        let spans = marker_spans(&chars);
        let cuts: Vec<usize> = (0..=chars.len())
            .filter(|&k| !spans.iter().any(|&(s, e)| s < k && k < e))
            .collect();
        let long = chars.len() > self.cfg.max_text;
        let roll = self.rng.random_range(0..100);
        let (delete, insert) = match roll {
            _ if chars.is_empty() => (false, true),
            0..=54 if !long => (false, true),
            55..=84 => (true, false),
            _ => (true, !long),
        };
        // The deleted range [start, end) as indexes into `cuts`.
        let a = self.rng.random_range(0..cuts.len());
        let b = if delete {
            (a + self.rng.random_range(1..=6)).min(cuts.len() - 1)
        } else {
            a
        };
        let (start, end) = (cuts[a], cuts[b]);
        for &(s, e) in &spans {
            if start <= s && e <= end {
                self.markers.deleted.insert(chars[s..e].iter().collect());
            }
        }
        let mut inserted = if insert {
            self.random_insert(i)
        } else {
            String::new()
        };
        // A replacement that starts like the text it replaces is diffed into a splice that keeps
        // the common prefix: the new marker would reuse an old one's characters, and a peer
        // deleting the old marker concurrently would cut the new one. Browsers do that too (it
        // is the textarea's diff), but it breaks the marker bookkeeping, so start differently.
        if start < end && inserted.starts_with(chars[start]) {
            inserted.insert(0, if chars[start] == 'a' { 'b' } else { 'a' });
        }
        let mut value: String = chars[..start].iter().collect();
        value.push_str(&inserted);
        let caret = super::utf16_len(&value) as u32;
        value.extend(&chars[end..]);
        (value, caret)
    }

    fn random_insert(&mut self, i: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "xyz",
            " ",
            "\n",
            "é",
            "ß",
            "Ω",
            "日本語",
            "😀",
            "🎉",
            "👩‍👩‍👧",
            "e\u{301}",
            "ℵ",
            "\t",
            "—",
        ];
        let pieces = self.rng.random_range(1..=4);
        let marker_at = self
            .rng
            .random_bool(0.7)
            .then(|| self.rng.random_range(0..=pieces));
        let mut out = String::new();
        for k in 0..=pieces {
            if marker_at == Some(k) {
                let n = self.markers.next.entry(i).or_insert(0);
                *n += 1;
                let marker = format!("⟦p{i}.{n}⟧");
                self.markers.inserted.insert(marker.clone());
                out.push_str(&marker);
            }
            if k < pieces {
                out.push_str(PIECES[self.rng.random_range(0..PIECES.len())]);
            }
        }
        out
    }
}

/// Char ranges `[start, end)` of markers: from a `⟦` to the next `⟧` (or to the end of the text,
/// or just before the next `⟦`, when broken).
pub fn marker_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == '⟦' {
            let start = k;
            k += 1;
            while k < chars.len() && chars[k] != '⟧' && chars[k] != '⟦' {
                k += 1;
            }
            if k < chars.len() && chars[k] == '⟧' {
                k += 1;
            }
            spans.push((start, k));
        } else {
            k += 1;
        }
    }
    spans
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn parse_sdp(sdp: &str, kind: &str) -> Option<Vec<u64>> {
    let mut words = sdp.split(' ');
    if words.next()? != kind {
        return None;
    }
    words.map(|w| w.parse().ok()).collect()
}
