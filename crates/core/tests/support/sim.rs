//! A deterministic discrete-event simulator of N peers sharing one room: a [`Net`] with
//! random latencies ([`Schedule::random`]), a scenario, and the checks a run must pass.
//!
//! Faults come from the seed: partitions, failed data channels, signaling drops and half-open
//! signaling sockets, peers joining late. Peers may be tabs of one browser, sharing a
//! BroadcastChannel. Rooms may have keys, alike or not. Every peer's stored updates are
//! reloaded at the end and must give back its page.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};

use commonplace_core::room::{Path, Room};
use commonplace_protocol::crypto::RoomKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use yrs::{ReadTxn, StateVector, Transact};

use super::edits::{marker_spans, random_edit, Markers};
use super::net::{Net, Shell};
use super::peer::Peer;
pub use super::schedule::SECOND;
use super::schedule::{Ev, Schedule};

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub peers: usize,
    pub room: String,
    /// Latencies and losses ([`Schedule::random`] unless a test changes them).
    pub schedule: Schedule,
    /// Random edits delete more than they insert once a page is this long (chars).
    pub max_text: usize,
    /// Check every peer's editor mirror against its room after every event that touched it.
    pub check_mirrors: bool,
    /// Print every event to stderr (or set `SIM_TRACE=1`).
    pub trace: bool,
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
            schedule: Schedule::random(),
            max_text: 400,
            check_mirrors: true,
            trace: std::env::var_os("SIM_TRACE").is_some(),
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

/// A [`Net`] of browser apps driven by a scenario; it derefs to the net for its peers, stats
/// and logs.
pub struct Sim {
    pub cfg: SimConfig,
    net: Net,
    pub markers: Markers,
}

impl Deref for Sim {
    type Target = Net;
    fn deref(&self) -> &Net {
        &self.net
    }
}

impl DerefMut for Sim {
    fn deref_mut(&mut self) -> &mut Net {
        &mut self.net
    }
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let mut used = BTreeSet::new();
        let tabs = cfg.tabs_per_browser.max(1);
        let peers: Vec<Peer> = (0..cfg.peers)
            .map(|i| {
                // Yjs client ids are random 53-bit numbers; their order decides concurrent inserts.
                let client_id = loop {
                    let id = rng.random_range(1..(1u64 << 53));
                    if used.insert(id) {
                        break id;
                    }
                };
                let id = format!("{:08x}-sim-peer-{i}", rng.random::<u32>());
                let seed = splitmix(cfg.seed ^ splitmix(i as u64 + 1));
                let mut peer = Peer::new(id, client_id, i / tabs, seed);
                peer.key = cfg.keys.get(i).cloned().flatten();
                peer
            })
            .collect();
        let mut net = Net::new(cfg.schedule.clone(), Shell::APP, &cfg.room, rng);
        net.trace = cfg.trace;
        net.check_mirrors = cfg.check_mirrors;
        for peer in peers {
            net.add_peer(peer);
        }
        Sim {
            cfg,
            net,
            markers: Markers::default(),
        }
    }

    // Scenario.

    pub fn join_at(&mut self, peer: usize, time: u64) {
        self.queue.push(time, Ev::Join(peer));
    }

    /// `count` random edits by `peer` at random times in `from..until`.
    pub fn edits(&mut self, peer: usize, count: usize, from: u64, until: u64) {
        for _ in 0..count {
            let time = self.rng().random_range(from..until.max(from + 1));
            self.queue.push(time, Ev::Edit(peer));
        }
    }

    /// `peers` lose the signaling server and every peer outside the set from `from` to `until`.
    pub fn partition(&mut self, peers: Vec<usize>, from: u64, until: u64) {
        let group = self.next_group;
        self.next_group += 1;
        self.queue.push(from, Ev::PartitionStart { group, peers });
        self.queue
            .push(until.max(from + 1), Ev::PartitionEnd { group });
    }

    /// A random open data channel fails at `time`.
    pub fn fail_link_at(&mut self, time: u64) {
        self.queue.push(time, Ev::LinkFailure { all: false });
    }

    /// Every open data channel fails at `time`.
    pub fn fail_all_links_at(&mut self, time: u64) {
        self.queue.push(time, Ev::LinkFailure { all: true });
    }

    /// `peer`'s signaling WebSocket drops at `from` and reconnects at `until`.
    pub fn signaling_flap(&mut self, peer: usize, from: u64, until: u64) {
        self.queue.push(from, Ev::SigDown(peer));
        self.queue.push(until.max(from + 1), Ev::SigUp(peer));
    }

    /// `peer`'s signaling connection goes half-open at `time`; the room must notice by itself.
    pub fn signaling_stall(&mut self, peer: usize, time: u64) {
        self.queue.push(time, Ev::SigStall(peer));
    }

    /// A random scenario from the seed: peers join (some late), everyone edits until `until`,
    /// with partitions, data-channel failures and signaling drops along the way; all faults
    /// heal by `until`.
    pub fn random_scenario(&mut self, edits_per_peer: usize, until: u64) {
        let n = self.cfg.peers;
        for i in 0..n {
            let late = i > 0 && self.rng().random_bool(0.3);
            let at = if late {
                self.rng().random_range(0..until * 2 / 3)
            } else {
                self.rng().random_range(0..500)
            };
            self.join_at(i, at);
            self.edits(i, edits_per_peer, at, until);
        }
        for _ in 0..self.rng().random_range(0..=2) {
            let size = self.rng().random_range(1..n);
            let mut members: Vec<usize> = (0..n).collect();
            for k in 0..members.len() {
                let j = self.rng().random_range(k..members.len());
                members.swap(k, j);
            }
            members.truncate(size);
            members.sort();
            let from = self.rng().random_range(0..until * 3 / 4);
            let length = self.rng().random_range(SECOND..30 * SECOND);
            self.partition(members, from, (from + length).min(until));
        }
        for _ in 0..self.rng().random_range(0..=4) {
            let at = self.rng().random_range(0..until);
            self.fail_link_at(at);
        }
        for _ in 0..self.rng().random_range(0..=2) {
            let peer = self.rng().random_range(0..n);
            let from = self.rng().random_range(0..until * 3 / 4);
            let length = self.rng().random_range(100..10 * SECOND);
            self.signaling_flap(peer, from, (from + length).min(until));
        }
        if self.rng().random_bool(0.25) {
            let peer = self.rng().random_range(0..n);
            let at = self.rng().random_range(0..until * 3 / 4);
            self.signaling_stall(peer, at);
        }
    }

    // Running.

    /// Everything due by `time` happens, the scenario's edits included.
    pub fn run_until(&mut self, time: u64) {
        while let Some(ev) = self.net.next_due(time) {
            match ev {
                Ev::Edit(i) if self.net.joined(i) => {
                    random_edit(&mut self.net, &mut self.markers, self.cfg.max_text, i)
                }
                Ev::Edit(_) => {}
                ev => self.net.dispatch(ev),
            }
        }
        self.net.now = self.net.now.max(time);
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
        if self.queue.pending_scenario > 0
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
                let linked = self.linked(i, j) || self.relayed(i, j);
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

    /// Both rooms reach each other through the server.
    fn relayed(&self, a: usize, b: usize) -> bool {
        let through_server = |from: usize, to: usize| {
            let id = &self.peers[to].id;
            self.room(from)
                .paths()
                .iter()
                .any(|(peer, path)| peer == id && *path == Path::Relay)
        };
        through_server(a, b) && through_server(b, a)
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
                if peer.editor.text() != room.text() {
                    let _ = writeln!(
                        problems,
                        "peer {i}'s editor mirror differs from its page:\n  mirror {:?}\n  page   {:?}",
                        peer.editor.text(),
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
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
