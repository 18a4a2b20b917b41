//! One soak run (`tests/soak.rs`, `scripts/soak`): a [`Sim`] whose whole scenario is drawn
//! from the seed. 2–8 peers, as browsers of one or two tabs, in an open or a keyed room (a keyed
//! one perhaps keeping a copy in the server's store); latencies, reordering, lost and
//! repeated frames, pairs that never connect directly (the server relays), partitions,
//! failing channels, flapping and half-open signaling; peers that edit while cut off and come
//! back; browsers killed and started again from what they had stored; and besides typing,
//! what people do: pages created, renamed (their links follow), deleted and moved, the
//! notebook renamed, undo and redo, pages opened, names and carets set.
//!
//! A run passes when everything settles and [`Sim::check`] holds: every notebook alike (pages,
//! titles, order, texts), every editor mirror equal to its page, every stored copy (the
//! browser's and the server's) reloading as the notebook, no marker lost or duplicated, and
//! everyone seeing everyone's presence alike.

use commonplace_core::room::AWARENESS_TIMEOUT_MS;
use commonplace_protocol::crypto::RoomKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::edits::marker_spans;
use super::schedule::Ev;
use super::sim::{splitmix, Sim, SimConfig, SECOND};

/// What one run did, for the totals.
#[derive(Debug, Default, Clone)]
pub struct SoakStats {
    pub peers: u64,
    pub events: u64,
    pub simulated_ms: u64,
    pub restarts: u64,
    pub acts: u64,
    pub store_requests: u64,
    pub keyed: u64,
    /// Runs where two peers saw a third's caret at different offsets ([`Sim::caret_disagreements`]).
    pub caret_disagreements: u64,
}

impl SoakStats {
    pub fn add(&mut self, other: &SoakStats) {
        self.peers += other.peers;
        self.events += other.events;
        self.simulated_ms += other.simulated_ms;
        self.restarts += other.restarts;
        self.acts += other.acts;
        self.store_requests += other.store_requests;
        self.keyed += other.keyed;
        self.caret_disagreements += other.caret_disagreements;
    }
}

/// Page titles people use: some alike, so that links may lead to either.
const TITLES: &[&str] = &[
    "Alpha",
    "Beta",
    "Gamma",
    "ideas",
    "Ideas",
    "日本語",
    "Ω notes",
];
const NAMES: &[&str] = &["Ada", "Bob", "Chloé", "李", "Dee 🎉"];
const COLORS: &[&str] = &["#1e88e5", "#e53935", "#43a047", "not a colour"];

/// The run of `seed`, from its first event to its checks.
pub fn soak_run(seed: u64) -> Result<SoakStats, String> {
    let (mut sim, until) = soak_sim(seed);
    sim.run_until(until);
    if !sim.run_until_quiet(until + 600 * SECOND) {
        return Err(format!("seed {seed}: did not settle\n{}", sim.summary()));
    }
    // Presence renews itself, and whoever died is forgotten, within the awareness timeout.
    let later = sim.now + AWARENESS_TIMEOUT_MS + 5 * SECOND;
    sim.run_until(later);
    if !sim.run_until_quiet(later + 600 * SECOND) {
        return Err(format!(
            "seed {seed}: did not stay settled\n{}",
            sim.summary()
        ));
    }
    sim.check()?;
    Ok(SoakStats {
        peers: sim.cfg.peers as u64,
        events: sim.stats.events,
        simulated_ms: sim.now,
        restarts: sim.stats.restarts,
        acts: sim.acts,
        store_requests: sim.stats.store_requests,
        keyed: u64::from(!sim.cfg.keys.is_empty()),
        caret_disagreements: u64::from(sim.caret_disagreements.get() > 0),
    })
}

/// The simulator of `seed` with its scenario queued, and when the scenario's faults are over.
pub fn soak_sim(seed: u64) -> (Sim, u64) {
    let mut rng = SmallRng::seed_from_u64(splitmix(seed ^ 0x50AC_0000));
    let peers = rng.random_range(2..=8);
    let mut cfg = SimConfig::new(seed, peers);
    cfg.carets = true;
    cfg.check_presence = true;
    cfg.max_text = 300;
    if rng.random_bool(0.3) {
        cfg.tabs_per_browser = 2;
    }
    if rng.random_bool(0.5) {
        let mut key = [0; 32];
        rng.fill(&mut key);
        cfg = cfg.with_key(RoomKey::from_bytes(key));
        cfg.server_store = rng.random_bool(0.7);
    }
    let schedule = &mut cfg.schedule;
    if rng.random_bool(0.2) {
        schedule.reorder_within_link = true;
        schedule.link_latency = (1, 800);
    }
    if rng.random_bool(0.1) {
        schedule.webrtc_delay = (100, 7 * SECOND);
        schedule.signaling_latency = (5, 2 * SECOND);
    }
    if rng.random_bool(0.15) {
        schedule.lose_frames = 0.02;
        // Presence is y-protocols' best effort: a renewal lost twice running (nothing real
        // loses frames) has a person forgotten until the next one.
        cfg.check_presence = false;
    }
    if rng.random_bool(0.15) {
        schedule.duplicate_frames = 0.05;
    }
    match rng.random_range(0..20) {
        0..=2 => schedule.direct_path = |a, b, _| a.min(b) != 0 || a.max(b) != 1,
        3 => schedule.direct_path = |_, _, _| false,
        4 => schedule.direct_path = |_, _, now| now >= 20 * SECOND,
        _ => {}
    }
    if cfg.server_store {
        schedule.store_failures = if rng.random_bool(0.3) { 0.1 } else { 0.0 };
        schedule.store_reply_limit = rng.random_range(256..64 << 10);
    }
    let until = rng.random_range(20..=50) * SECOND;
    let edits = rng.random_range(4..=14);
    let mut sim = Sim::new(cfg);
    sim.random_scenario(edits, until);
    // People do more than type.
    for i in 0..peers {
        for _ in 0..rng.random_range(0..=8) {
            let at = rng.random_range(0..until);
            sim.act_at(i, at);
        }
    }
    // Someone edits while cut off, then comes back.
    if rng.random_bool(0.4) {
        let peer = rng.random_range(0..peers);
        let from = rng.random_range(SECOND..until / 2);
        let to = (from + rng.random_range(2 * SECOND..20 * SECOND)).min(until);
        sim.partition(vec![peer], from, to);
        sim.edits(peer, rng.random_range(2..=8), from + 1, to);
        sim.online_at(peer, to + rng.random_range(0..SECOND));
    }
    // Browsers die and start again from what they stored.
    for _ in 0..rng.random_range(0..=2) {
        let peer = rng.random_range(0..peers);
        let at = rng.random_range(SECOND..until * 3 / 4);
        let down = rng.random_range(100..15 * SECOND);
        sim.kill_at(peer, at, at + down);
    }
    (sim, until)
}

impl Sim {
    /// `peer` does something other than typing at `time` ([`Sim::random_act`]).
    pub fn act_at(&mut self, peer: usize, time: u64) {
        self.queue.push(time, Ev::Act(peer));
    }

    /// `peer`'s browser dies at `at` and starts again at `restart`.
    pub fn kill_at(&mut self, peer: usize, at: u64, restart: u64) {
        self.queue.push(at, Ev::Kill(peer));
        self.queue.push(restart.max(at + 1), Ev::Restart(peer));
    }

    /// `peer`'s browser says the network is back at `time`.
    pub fn online_at(&mut self, peer: usize, time: u64) {
        self.queue.push(time, Ev::Online(peer));
    }

    /// Peer `i`'s person does something other than typing, as the app lets them: a page
    /// operation, undo or redo, opening a page, naming themselves, moving the caret.
    pub fn random_act(&mut self, i: usize) {
        self.acts += 1;
        let now = self.now;
        let pages = self.room(i).pages();
        let open = self.peers[i].page.clone();
        let some_page = |sim: &mut Sim| pages[sim.rng().random_range(0..pages.len())].id.clone();
        let title = |sim: &mut Sim| TITLES[sim.rng().random_range(0..TITLES.len())].to_owned();
        let roll = self.rng().random_range(0..100);
        self.trace(|| format!("peer {i} acts ({roll})"));
        match roll {
            0..=11 => {
                let title = title(self);
                let body = match self.rng().random_range(0..3) {
                    0 => String::new(),
                    1 => format!(
                        "see [[{}]]",
                        TITLES[self.rng().random_range(0..TITLES.len())]
                    ),
                    _ => "[[Alpha]] and [[Beta]]\n".to_owned(),
                };
                let id = self.act(i, |room| room.create_page(now, &title, &body));
                if self.rng().random_bool(0.5) {
                    self.open_page(i, &id);
                }
            }
            12..=21 => {
                let (page, title) = (some_page(self), title(self));
                self.act(i, |room| room.rename_page_from(now, &page, &title, &open));
            }
            22..=28 if pages.len() > 1 => {
                let page = some_page(self);
                self.act(i, |room| room.delete_page(now, &page));
            }
            29..=36 => {
                let page = some_page(self);
                let to = self.rng().random_range(0..=pages.len());
                self.act(i, |room| room.move_page(now, &page, to));
            }
            37..=40 => {
                let title = title(self);
                self.act(i, |room| room.rename_notebook(now, &title));
            }
            41..=60 => {
                let undo = roll <= 53;
                let before = self.markers_in(i);
                self.act(i, |room| {
                    if undo {
                        room.undo(now, &open)
                    } else {
                        room.redo(now, &open)
                    }
                });
                let after = self.markers_in(i);
                // `marker#n`: the marker, and which of its copies.
                let changed: Vec<String> = before
                    .symmetric_difference(&after)
                    .filter_map(|m| Some(m.rsplit_once('#')?.0.to_owned()))
                    .collect();
                self.markers.touched.extend(changed);
            }
            61..=72 => {
                let page = some_page(self);
                self.open_page(i, &page);
            }
            73..=84 => {
                let name = NAMES[self.rng().random_range(0..NAMES.len())];
                let color = COLORS[self.rng().random_range(0..COLORS.len())];
                self.peers[i].user = Some((name.to_owned(), color.to_owned()));
                self.act(i, |room| room.set_user(now, name, color));
            }
            _ => {
                let len = super::utf16_len(&self.peers[i].editor.text()) as u32;
                let anchor = self.rng().random_range(0..=len);
                let head = self.rng().random_range(0..=len);
                self.act(i, |room| room.set_cursor(now, &open, anchor, head));
            }
        }
    }

    /// The person opens `page`: the editor shows it, and others learn where their caret is.
    fn open_page(&mut self, i: usize, page: &str) {
        if self.room(i).page_text(page).is_none() {
            return;
        }
        self.peers[i].open(page);
        let now = self.now;
        self.act(i, |room| room.set_cursor(now, page, 0, 0));
    }

    /// Every marker in peer `i`'s notebook, with how often it appears (as `marker#n`).
    fn markers_in(&self, i: usize) -> std::collections::BTreeSet<String> {
        let room = self.room(i);
        let mut found = std::collections::BTreeSet::new();
        for page in room.pages() {
            let chars: Vec<char> = room
                .page_text(&page.id)
                .unwrap_or_default()
                .chars()
                .collect();
            for (start, end) in marker_spans(&chars) {
                let marker: String = chars[start..end].iter().collect();
                let mut n = 1;
                while !found.insert(format!("{marker}#{n}")) {
                    n += 1;
                }
            }
        }
        found
    }
}
