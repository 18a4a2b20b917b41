//! Editing traces (josephg/editing-traces format, see `/work/shared/traces/README.md`) and their
//! replay through real rooms: [`replay_concurrent`] gives each agent its own room and delivers
//! frames exactly as the trace's causal graph says; [`replay_sequential`] types the trace into
//! an `EditorText` as a `<textarea>` would and mirrors it to a second room. [`synth_concurrent`]
//! and [`synth_sequential`] generate seeded traces of the same shapes.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use commonplace_core::notebook;
use commonplace_core::room::{Effect, Event, Input, Output, Room, Transmit};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::{EditorText, NotSimple, SimpleEdit};
use commonplace_protocol::hub::{ConnId, Hub, Limits};
use commonplace_protocol::signaling::SignalData;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Text, Transact, Update};

/// `[position, deleted, inserted]`, positions and lengths in Unicode code points.
#[derive(Debug, Clone, Deserialize)]
pub struct Patch(pub usize, pub usize, pub String);

#[derive(Debug, Clone, Deserialize)]
pub struct Txn {
    #[serde(default)]
    pub agent: usize,
    /// `None` in sequential traces.
    #[serde(default)]
    pub parents: Option<Vec<usize>>,
    pub patches: Vec<Patch>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Trace {
    #[serde(default, rename = "startContent")]
    pub start: String,
    #[serde(rename = "endContent")]
    pub end: String,
    pub txns: Vec<Txn>,
}

impl Trace {
    pub fn patch_count(&self) -> usize {
        self.txns.iter().map(|t| t.patches.len()).sum()
    }

    /// Some text has characters outside the BMP, where code points and UTF-16 units differ.
    pub fn has_astral(&self) -> bool {
        let astral = |s: &str| s.chars().any(|c| c.len_utf16() > 1);
        astral(&self.start)
            || self
                .txns
                .iter()
                .any(|t| t.patches.iter().any(|p| astral(&p.2)))
    }
}

pub fn traces_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/traces"
    ))
}

/// Loads `name` from the shared traces; `None` (after saying so) when they are absent, as in a
/// fresh clone.
pub fn load(name: &str) -> Option<Trace> {
    let path = traces_dir().join(name);
    let Ok(file) = std::fs::File::open(&path) else {
        println!(
            "skipped: ../shared/traces absent ({} not found)",
            path.display()
        );
        return None;
    };
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("trace is gzipped UTF-8");
    Some(serde_json::from_str(&json).expect("trace matches the documented format"))
}

/// The UTF-16 offset of code point `cp` in `text` (clamped to its end).
pub fn utf16_offset(text: &str, cp: usize) -> usize {
    text.chars().take(cp).map(char::len_utf16).sum()
}

/// The byte offset of code point `cp` in `text` (clamped to its end).
fn byte_offset(text: &str, cp: usize) -> usize {
    if text.is_ascii() {
        return cp.min(text.len());
    }
    text.char_indices().nth(cp).map_or(text.len(), |(i, _)| i)
}

/// Applies code-point patches to a string.
pub fn apply_patches(text: &mut String, patches: &[Patch]) {
    for Patch(pos, del, ins) in patches {
        let start = byte_offset(text, *pos);
        let end = start + byte_offset(&text[start..], *del);
        text.replace_range(start..end, ins);
    }
}

/// A text that patches in code points apply to quickly: a `String` plus the code-point positions
/// of its non-ASCII characters (few, in real traces), so offsets need no scan of the text.
#[derive(Debug, Default, Clone)]
pub struct Value {
    text: String,
    /// (code point index, extra UTF-8 bytes, extra UTF-16 units) of each non-ASCII character.
    wide: Vec<(usize, usize, usize)>,
}

impl Value {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    fn extra_before(&self, cp: usize) -> (usize, usize) {
        self.wide
            .iter()
            .take_while(|w| w.0 < cp)
            .fold((0, 0), |(b, u), w| (b + w.1, u + w.2))
    }

    fn byte_offset(&self, cp: usize) -> usize {
        (cp + self.extra_before(cp).0).min(self.text.len())
    }

    pub fn utf16_offset(&self, cp: usize) -> usize {
        cp + self.extra_before(cp).1
    }

    /// The byte offset of the character holding UTF-16 offset `unit` (or starting there), and
    /// that character's UTF-16 offset.
    fn char_at_utf16(&self, unit: usize) -> (usize, usize) {
        let (mut bytes, mut units) = (0, 0);
        for &(cp, extra_bytes, extra_units) in &self.wide {
            let start = cp + units;
            if start >= unit {
                break;
            }
            if start + 1 + extra_units > unit {
                return (cp + bytes, start);
            }
            bytes += extra_bytes;
            units += extra_units;
        }
        ((unit - units + bytes).min(self.text.len()), unit)
    }

    /// `value.slice(from, to)` in UTF-16 units, as JavaScript gives it to Rust (half of a
    /// surrogate pair becomes U+FFFD).
    pub fn utf16_slice(&self, from: u32, to: u32) -> String {
        let (from, to) = (from as usize, (to as usize).max(from as usize));
        let (start, start_unit) = self.char_at_utf16(from);
        let (end, end_unit) = self.char_at_utf16(to);
        if start_unit == from && end_unit == to {
            return self.text[start..end].to_owned();
        }
        let units: Vec<u16> = self.text[start..]
            .encode_utf16()
            .skip(from - start_unit)
            .take(to - from)
            .collect();
        String::from_utf16_lossy(&units)
    }

    pub fn apply(&mut self, Patch(pos, del, ins): &Patch) {
        let (start, end) = (self.byte_offset(*pos), self.byte_offset(pos + del));
        self.text.replace_range(start..end, ins);
        let inserted = ins.chars().count();
        self.wide.retain(|w| w.0 < *pos || w.0 >= pos + del);
        let at = self.wide.partition_point(|w| w.0 < *pos);
        for w in &mut self.wide[at..] {
            w.0 = w.0 + inserted - del;
        }
        let new = ins
            .chars()
            .enumerate()
            .filter(|(_, c)| !c.is_ascii())
            .map(|(i, c)| (pos + i, c.len_utf8() - 1, c.len_utf16() - 1));
        self.wide.splice(at..at, new);
    }
}

/// Converts code-point patches to UTF-16 splices against `text`, the page before them (only
/// read when the trace has non-BMP characters: otherwise the two counts agree).
fn to_splices(patches: &[Patch], text: Option<String>) -> Vec<Splice> {
    let mut text = text;
    patches
        .iter()
        .map(|patch| {
            let Patch(pos, del, ins) = patch;
            let splice = match &text {
                Some(t) => {
                    let index = utf16_offset(t, *pos);
                    let rest = &t[byte_offset(t, *pos)..];
                    Splice {
                        index: index as u32,
                        delete: utf16_offset(rest, *del) as u32,
                        insert: ins.clone(),
                    }
                }
                None => Splice {
                    index: *pos as u32,
                    delete: *del as u32,
                    insert: ins.clone(),
                },
            };
            if let Some(t) = &mut text {
                apply_patches(t, std::slice::from_ref(patch));
            }
            splice
        })
        .collect()
}

/// Two rooms wired to each other: a handshake through a real [`Hub`], then one FIFO queue of
/// data-channel frames per direction that the caller delivers when it chooses. Frames are
/// tagged with the sender's [`Duo::tag`] at the time they were produced.
pub struct Duo {
    pub rooms: [Room; 2],
    pub ids: [String; 2],
    /// What each peer's editor shows.
    pub mirrors: [EditorText; 2],
    pub tag: [u64; 2],
    queues: [VecDeque<(u64, Vec<u8>)>; 2],
    pub now: u64,
    pub frames: u64,
    pub frame_bytes: u64,
    /// Whether `Output::Event(Event::Dropped)` fails the test (honest peers never cause one).
    pub strict: bool,
    pub dropped: Vec<(usize, String)>,
}

enum Step {
    Signaling(Arc<str>),
    Local(SignalData),
    Open { announced: bool },
}

impl Duo {
    /// Two new rooms, connected and synced.
    pub fn connect(client_ids: [u64; 2]) -> Duo {
        let ids = ["duo-peer-a", "duo-peer-b"];
        let rooms =
            [0, 1].map(|i| super::new_room("trace", ids[i], client_ids[i], 0x7ACE + i as u64, 0));
        let duo = Duo::wire(rooms, 1);
        for i in 0..2 {
            let status = duo.rooms[i].status();
            assert!(
                status.peers == 1 && status.synced,
                "the duo connected and synced"
            );
        }
        duo
    }

    /// Connects two existing rooms (of room "trace") and syncs them; `now` as the rooms know it.
    pub fn wire(rooms: [Room; 2], now: u64) -> Duo {
        let ids = [rooms[0].peer_id().to_owned(), rooms[1].peer_id().to_owned()];
        let mut duo = Duo {
            rooms,
            ids,
            mirrors: [EditorText::new(""), EditorText::new("")],
            tag: [0, 0],
            queues: [VecDeque::new(), VecDeque::new()],
            now,
            frames: 0,
            frame_bytes: 0,
            strict: true,
            dropped: Vec::new(),
        };
        for i in 0..2 {
            duo.mirrors[i] = EditorText::new(&duo.rooms[i].text());
        }
        let mut hub = Hub::new(Limits::default());
        let conns: [ConnId; 2] = [hub.connect(), hub.connect()];
        let mut work: VecDeque<(usize, Step)> = VecDeque::new();
        for i in 0..2 {
            duo.rooms[i].handle(duo.now, Input::SignalingOpen);
            duo.pump(i, &mut hub, &conns, &mut work);
        }
        while let Some((i, step)) = work.pop_front() {
            let other = duo.ids[1 - i].clone();
            let peer = other.as_str();
            match step {
                Step::Signaling(frame) => {
                    duo.rooms[i].handle(duo.now, Input::SignalingFrame(&frame))
                }
                Step::Local(signal) => {
                    duo.rooms[i].handle(duo.now, Input::LocalSignal { peer, signal })
                }
                Step::Open { announced } => {
                    duo.rooms[i].handle(duo.now, Input::ChannelOpen { peer, announced })
                }
            }
            duo.pump(i, &mut hub, &conns, &mut work);
        }
        duo.flush();
        duo
    }

    pub fn into_rooms(self) -> [Room; 2] {
        self.rooms
    }

    /// Handshake outputs: a browser's WebRTC that offers, answers and opens at once.
    fn pump(
        &mut self,
        i: usize,
        hub: &mut Hub,
        conns: &[ConnId; 2],
        work: &mut VecDeque<(usize, Step)>,
    ) {
        while let Some(output) = self.rooms[i].poll_output() {
            match output {
                Output::Transmit(Transmit::Server(frame)) => {
                    for delivery in hub
                        .receive(conns[i], &frame)
                        .expect("hub accepts the room's frames")
                    {
                        let to = conns
                            .iter()
                            .position(|&c| c == delivery.to)
                            .expect("one of ours");
                        work.push_back((to, Step::Signaling(delivery.frame)));
                    }
                }
                Output::Effect(Effect::Connect { peer, initiator }) if peer == self.ids[1 - i] => {
                    if initiator {
                        let offer = SignalData::Offer {
                            sdp: "duo-offer".into(),
                        };
                        work.push_back((i, Step::Local(offer)));
                    }
                }
                Output::Effect(Effect::Signal {
                    peer,
                    signal: SignalData::Offer { .. },
                }) if peer == self.ids[1 - i] => {
                    let answer = SignalData::Answer {
                        sdp: "duo-answer".into(),
                    };
                    work.push_back((i, Step::Local(answer)));
                }
                Output::Effect(Effect::Signal {
                    peer,
                    signal: SignalData::Answer { .. },
                }) if peer == self.ids[1 - i] => {
                    // `i` offered: its channel opens first, the answerer's is announced.
                    work.push_back((i, Step::Open { announced: false }));
                    work.push_back((1 - i, Step::Open { announced: true }));
                }
                other => self.route(i, other),
            }
        }
    }

    fn drain(&mut self, i: usize) {
        while let Some(output) = self.rooms[i].poll_output() {
            self.route(i, output);
        }
    }

    /// Carries out one output of room `i`: frames to the other room are queued, splices go to
    /// the editor mirror; anything about other peers is left alone.
    pub fn route(&mut self, i: usize, output: Output) {
        match output {
            Output::Transmit(Transmit::Peer { peer, bytes }) if peer == self.ids[1 - i] => {
                self.queues[i].push_back((self.tag[i], bytes))
            }
            Output::Event(Event::PageChanged { splices, .. }) => {
                for splice in &splices {
                    self.mirrors[i].apply(splice);
                }
            }
            Output::Event(Event::Dropped(why)) if self.strict => {
                panic!("room {i} dropped honest input: {why}")
            }
            Output::Event(Event::Dropped(why)) => self.dropped.push((i, why)),
            _ => {}
        }
    }

    /// Local edit by room `i`, made directly (the editor mirror follows the splices).
    pub fn edit(&mut self, i: usize, splices: &[Splice]) {
        self.now += 1;
        for splice in splices {
            self.mirrors[i].apply(splice);
        }
        self.rooms[i].edit(self.now, notebook::HOME, splices, None);
        self.drain(i);
    }

    /// Local edit by room `i` as the browser makes it: the textarea now holds `value` with the
    /// caret at `caret` (UTF-16). Returns the splice `EditorText::input` recovered.
    pub fn type_value(&mut self, i: usize, value: &str, caret: u32) -> Option<Splice> {
        self.now += 1;
        let splice = self.mirrors[i].input(value, Some(caret))?;
        self.rooms[i].edit(
            self.now,
            notebook::HOME,
            std::slice::from_ref(&splice),
            None,
        );
        self.drain(i);
        Some(splice)
    }

    /// Delivers to room `to`, in order, the other room's frames tagged at most `max_tag`.
    pub fn deliver(&mut self, to: usize, max_tag: u64) {
        let from = 1 - to;
        let peer = self.ids[from].clone();
        while self.queues[from]
            .front()
            .is_some_and(|(tag, _)| *tag <= max_tag)
        {
            let (_, bytes) = self.queues[from].pop_front().expect("checked");
            self.frames += 1;
            self.frame_bytes += bytes.len() as u64;
            self.now += 1;
            self.rooms[to].handle(
                self.now,
                Input::PeerFrame {
                    peer: &peer,
                    bytes: &bytes,
                },
            );
            self.drain(to);
        }
    }

    /// Delivers everything, both ways, until nothing is in flight.
    pub fn flush(&mut self) {
        while !self.queues[0].is_empty() || !self.queues[1].is_empty() {
            self.deliver(0, u64::MAX);
            self.deliver(1, u64::MAX);
        }
    }
}

#[derive(Debug)]
pub struct Replay {
    pub txns: usize,
    pub patches: usize,
    pub frames: u64,
    pub frame_bytes: u64,
    pub elapsed: Duration,
    /// The fast path checked against the diff (sequential replays only).
    pub simple: SimpleStats,
}

impl Replay {
    pub fn report(&self, name: &str) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut report = format!(
            "{name}: {} txns, {} patches in {:.2?} ({:.0} txns/s, {:.0} patches/s), {} frames, {} frame bytes",
            self.txns,
            self.patches,
            self.elapsed,
            self.txns as f64 / secs,
            self.patches as f64 / secs,
            self.frames,
            self.frame_bytes
        );
        let simple = &self.simple;
        if simple.edits > 0 {
            report += &format!(
                "; simple_input: {} edits ({} alone in their txn, {} in txns of several \
                 patches), {} no-ops, {} refused",
                simple.edits,
                simple.edits - simple.in_multi_patch_txns,
                simple.in_multi_patch_txns,
                simple.no_ops,
                simple.refused
            );
        }
        report
    }
}

/// How `EditorText::simple_input` fared against `EditorText::input` in a sequential replay.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimpleStats {
    /// Patches taken through `simple_input`, each with the numbers a `<textarea>` reports.
    pub edits: u64,
    /// Those in txns of several patches (checked against a diff of the value after the patch).
    pub in_multi_patch_txns: u64,
    /// Edits that changed nothing (`Ok(None)`, as the diff says too).
    pub no_ops: u64,
    /// Edits `simple_input` refused (the splice then came from the diff).
    pub refused: u64,
}

/// The browser's fast path next to the diff the replay takes: a second editor mirror (equal
/// to the first before every txn, checked) takes each patch of a txn through
/// `EditorText::simple_input`, with the selection before the patch (the range it replaces),
/// the caret after it (after the inserted text) and the length after it.
struct SimpleShadow {
    mirror: EditorText,
    stats: SimpleStats,
}

impl SimpleShadow {
    /// Applies `patch` to `value` and the same edit to the shadow mirror through
    /// `simple_input`.
    fn patch(&mut self, value: &mut Value, patch: &Patch) -> Result<Option<Splice>, NotSimple> {
        let Patch(pos, del, ins) = patch;
        let index = value.utf16_offset(*pos);
        let end = value.utf16_offset(pos + del);
        let inserted = ins.encode_utf16().count();
        let len = self.mirror.len() - (end - index) + inserted;
        value.apply(patch);
        let edit = SimpleEdit {
            selection: (index as u32, end as u32),
            caret: (index + inserted) as u32,
            len: len as u32,
        };
        self.stats.edits += 1;
        let result = self
            .mirror
            .simple_input(edit, |from, to| value.utf16_slice(from, to));
        match &result {
            Ok(splice) => self.stats.no_ops += splice.is_none() as u64,
            Err(NotSimple) => self.stats.refused += 1,
        }
        result
    }
}

/// For each txn of a concurrent trace, how many txns of each agent precede it causally.
/// Panics unless each agent's txns form a chain (every txn follows its agent's previous one).
pub fn causal_clocks(trace: &Trace, agents: usize) -> Vec<Vec<u64>> {
    let mut after: Vec<Vec<u64>> = Vec::with_capacity(trace.txns.len());
    let mut before = Vec::with_capacity(trace.txns.len());
    let mut own = vec![0u64; agents];
    for (t, txn) in trace.txns.iter().enumerate() {
        let mut clock = vec![0u64; agents];
        for &p in txn.parents.as_deref().expect("a concurrent trace") {
            assert!(p < t, "txn {t}: parent {p} is not earlier");
            for (c, &pc) in clock.iter_mut().zip(&after[p]) {
                *c = (*c).max(pc);
            }
        }
        assert_eq!(
            clock[txn.agent], own[txn.agent],
            "txn {t}: agent {} is not linear",
            txn.agent
        );
        before.push(clock.clone());
        own[txn.agent] += 1;
        clock[txn.agent] += 1;
        after.push(clock);
    }
    before
}

/// Replays a 2-agent concurrent trace with one room per agent. Before agent X applies txn t,
/// X receives (in order) exactly the other agent's frames up to those of its latest txn that
/// is an ancestor of t; then X applies t's patches in one `Room::edit`. At the end everything
/// is delivered. Returns the duo (pages and editor mirrors) and the figures.
pub fn replay_concurrent(trace: &Trace, client_ids: [u64; 2]) -> (Duo, Replay) {
    let clocks = causal_clocks(trace, 2);
    assert!(trace.start.is_empty(), "concurrent traces start empty");
    let astral = trace.has_astral();
    let started = Instant::now();
    let mut duo = Duo::connect(client_ids);
    for (txn, clock) in trace.txns.iter().zip(&clocks) {
        let x = txn.agent;
        duo.deliver(x, clock[1 - x]);
        let splices = to_splices(&txn.patches, astral.then(|| duo.rooms[x].text()));
        // Frames of this txn carry the number of x's txns up to and including it.
        duo.tag[x] = clock[x] + 1;
        duo.edit(x, &splices);
    }
    duo.flush();
    let replay = Replay {
        txns: trace.txns.len(),
        patches: trace.patch_count(),
        frames: duo.frames,
        frame_bytes: duo.frame_bytes,
        elapsed: started.elapsed(),
        simple: SimpleStats::default(),
    };
    (duo, replay)
}

/// Replays a sequential trace the way the browser sees it: room A's `<textarea>` value changes
/// by each txn's patches, the caret ends after the last inserted text (or at the last delete),
/// `EditorText::input` recovers the splice and `Room::edit` applies it. Room B receives every
/// frame and mirrors its `PageChanged` splices into its own editor. Each patch also goes
/// through `EditorText::simple_input` (the browser's fast path) on a second mirror of A's
/// editor, which must give the splice the diff gives ([`SimpleStats`] counts). `check_every` >
/// 0 compares B's editor and A's second mirror with the value that often. Only the first
/// `limit` txns are replayed when given. Returns the duo, the figures and the value the
/// textarea holds at the end.
pub fn replay_sequential(
    trace: &Trace,
    limit: Option<usize>,
    check_every: usize,
) -> (Duo, Replay, String) {
    let started = Instant::now();
    let mut duo = Duo::connect([0xA, 0xB]);
    let mut value = Value::default();
    let mut shadow = SimpleShadow {
        mirror: duo.mirrors[0].clone(),
        stats: SimpleStats::default(),
    };
    let (mut txns, mut patch_count) = (0, 0);
    let initial =
        std::iter::once(vec![Patch(0, 0, trace.start.clone())]).filter(|_| !trace.start.is_empty());
    let replayed = trace.txns.iter().take(limit.unwrap_or(usize::MAX));
    for patches in initial.chain(replayed.map(|t| t.patches.clone())) {
        let Some(Patch(pos, _, ins)) = patches.last().cloned() else {
            continue;
        };
        let fast = if let [patch] = &patches[..] {
            shadow.patch(&mut value, patch)
        } else {
            // Several patches in one txn: the browser sees (and the diff takes) them as one
            // change, so each patch is checked against a diff of its own.
            for patch in &patches {
                let mut diffed = shadow.mirror.clone();
                let got = shadow.patch(&mut value, patch);
                shadow.stats.in_multi_patch_txns += 1;
                let caret = value.utf16_offset(patch.0 + patch.2.chars().count());
                let expected = diffed.input(value.as_str(), Some(caret as u32));
                check_simple(&mut shadow.mirror, got, expected.as_ref(), txns);
            }
            Ok(None)
        };
        let caret = value.utf16_offset(pos + ins.chars().count());
        let splice = duo.type_value(0, value.as_str(), caret as u32);
        if patches.len() == 1 {
            check_simple(&mut shadow.mirror, fast, splice.as_ref(), txns);
        }
        assert_eq!(
            shadow.mirror.len(),
            duo.mirrors[0].len(),
            "txn {txns}: simple_input's mirror has another length than input's"
        );
        duo.deliver(1, u64::MAX);
        txns += 1;
        patch_count += patches.len();
        if check_every > 0 && txns % check_every == 0 {
            assert!(
                duo.mirrors[1].text() == value.as_str(),
                "B's editor differs after {txns} txns"
            );
            assert!(
                shadow.mirror.text() == value.as_str(),
                "simple_input's mirror differs after {txns} txns"
            );
        }
    }
    assert!(
        shadow.mirror.text() == value.as_str(),
        "simple_input's mirror differs at the end"
    );
    let replay = Replay {
        txns,
        patches: patch_count,
        frames: duo.frames,
        frame_bytes: duo.frame_bytes,
        elapsed: started.elapsed(),
        simple: shadow.stats,
    };
    (duo, replay, value.into_string())
}

/// `simple_input` gave `got` where the diff gave `expected`: they must be the same splice. After
/// a refusal (counted already) the shadow mirror takes the diff's splice.
fn check_simple(
    shadow: &mut EditorText,
    got: Result<Option<Splice>, NotSimple>,
    expected: Option<&Splice>,
    txn: usize,
) {
    match got {
        Ok(splice) => assert!(
            splice.as_ref() == expected,
            "txn {txn}: simple_input gave {splice:?}, input gave {expected:?}"
        ),
        Err(NotSimple) => {
            if let Some(splice) = expected {
                shadow.apply(splice);
            }
        }
    }
}

/// The trace's patches applied to a plain string: its end content, if the trace is read right.
pub fn apply_all(trace: &Trace) -> String {
    let mut value = Value::default();
    value.apply(&Patch(0, 0, trace.start.clone()));
    for txn in &trace.txns {
        for patch in &txn.patches {
            value.apply(patch);
        }
    }
    value.into_string()
}

// Synthetic traces.

/// Inserted text, deliberately mixing widths: ASCII, 2- and 3-byte BMP characters, characters
/// outside the BMP (surrogate pairs in UTF-16) and a ZWJ sequence.
fn random_text(rng: &mut SmallRng) -> String {
    const PIECES: &[&str] = &[
        "a",
        "bc",
        " ",
        "\n",
        "é",
        "日本",
        "😀",
        "👩‍👩‍👧",
        "Ω",
        "xyz",
        "🎉",
    ];
    (0..rng.random_range(1..=3))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

/// 1–3 random patches (code points) valid in sequence on `text`, which they are applied to.
fn random_patches(rng: &mut SmallRng, text: &mut String, max_len: usize) -> Vec<Patch> {
    let mut patches = Vec::new();
    for _ in 0..rng.random_range(1..=3usize) {
        let len = text.chars().count();
        let pos = rng.random_range(0..=len);
        let del = if len > 0 && (len > max_len || rng.random_bool(0.35)) {
            rng.random_range(0..=(len - pos).min(8))
        } else {
            0
        };
        let ins = if rng.random_bool(0.8) || del == 0 {
            random_text(rng)
        } else {
            String::new()
        };
        let patch = Patch(pos, del, ins);
        apply_patches(text, std::slice::from_ref(&patch));
        patches.push(patch);
    }
    patches
}

/// A sequential trace with a reference end content computed on a plain `String`.
pub fn synth_sequential(seed: u64, txns: usize) -> Trace {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut text = String::new();
    let txns = (0..txns)
        .map(|_| Txn {
            agent: 0,
            parents: None,
            patches: random_patches(&mut rng, &mut text, 600),
        })
        .collect();
    Trace {
        start: String::new(),
        end: text,
        txns,
    }
}

/// A concurrent 2-agent trace: the agents edit their own replicas (plain yrs documents with
/// the given client ids), now and then merging a random prefix of the other's txns — forks
/// and merges, as in `friendsforever`. The end content is the fully merged document.
pub fn synth_concurrent(seed: u64, txns: usize, client_ids: [u64; 2]) -> Trace {
    let mut rng = SmallRng::seed_from_u64(seed);
    let docs = client_ids.map(notebook::new_doc);
    let mut updates: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut global: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    // known[x]: how many of the other agent's txns x has merged.
    let mut known = [0usize; 2];
    let merge = |doc: &yrs::Doc, updates: &[Vec<u8>]| {
        let mut txn = doc.transact_mut();
        for u in updates {
            txn.apply_update(Update::decode_v1(u).expect("own encoding"))
                .expect("applies");
        }
    };
    let mut out = Vec::with_capacity(txns);
    let mut x = 0;
    for g in 0..txns {
        if rng.random_bool(0.3) {
            x = 1 - x;
        }
        let y = 1 - x;
        let mut parents: Vec<usize> = global[x].last().copied().into_iter().collect();
        if known[x] < updates[y].len() && rng.random_bool(0.4) {
            let k = rng.random_range(known[x] + 1..=updates[y].len());
            merge(&docs[x], &updates[y][known[x]..k]);
            known[x] = k;
            parents.push(global[y][k - 1]);
        }
        let page = notebook::Notebook::new(&docs[x]).home().clone();
        let mut text = notebook::Notebook::new(&docs[x])
            .text(&docs[x].transact(), notebook::HOME)
            .unwrap();
        let patches = random_patches(&mut rng, &mut text.clone(), 400);
        let update = {
            let mut txn = docs[x].transact_mut();
            for patch in &patches {
                let splice = &to_splices(std::slice::from_ref(patch), Some(text.clone()))[0];
                apply_patches(&mut text, std::slice::from_ref(patch));
                if splice.delete > 0 {
                    page.remove_range(&mut txn, splice.index, splice.delete);
                }
                if !splice.insert.is_empty() {
                    page.insert(&mut txn, splice.index, &splice.insert);
                }
            }
            txn.encode_update_v1()
        };
        updates[x].push(update);
        global[x].push(g);
        out.push(Txn {
            agent: x,
            parents: Some(parents),
            patches,
        });
    }
    for x in 0..2 {
        merge(&docs[x], &updates[1 - x][known[x]..]);
    }
    let end = notebook::Notebook::new(&docs[0])
        .text(&docs[0].transact(), notebook::HOME)
        .unwrap();
    assert_eq!(
        end,
        notebook::Notebook::new(&docs[1])
            .text(&docs[1].transact(), notebook::HOME)
            .unwrap(),
        "the generator's replicas converge"
    );
    let sv = docs[0].transact().state_vector();
    assert_eq!(sv, docs[1].transact().state_vector());
    Trace {
        start: String::new(),
        end,
        txns: out,
    }
}
