//! Traces replayed through real rooms, two browsers connected as the app connects them
//! ([`Net::held_pair`]), with every frame held until the replay delivers it:
//! [`replay_concurrent`] gives each agent its own room and delivers frames exactly as the
//! trace's causal graph says; [`replay_sequential`] types the trace into an `EditorText` as a
//! `<textarea>` would and mirrors it to the second room.

use std::time::{Duration, Instant};

use commonplace_core::notebook::HOME;
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::{EditorText, NotSimple, SimpleEdit};

use super::net::Net;
use super::trace::{to_splices, Patch, Trace, Value};

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
/// is delivered. Returns the net (pages and editor mirrors) and the figures.
pub fn replay_concurrent(trace: &Trace, client_ids: [u64; 2]) -> (Net, Replay) {
    let clocks = causal_clocks(trace, 2);
    assert!(trace.start.is_empty(), "concurrent traces start empty");
    let astral = trace.has_astral();
    let started = Instant::now();
    let mut net = Net::held_pair(client_ids);
    for (txn, clock) in trace.txns.iter().zip(&clocks) {
        let x = txn.agent;
        net.deliver_tagged(x, clock[1 - x]);
        let splices = to_splices(&txn.patches, astral.then(|| net.room(x).text()));
        // Frames of this txn carry the number of x's txns up to and including it.
        net.peers[x].tag = clock[x] + 1;
        net.now += 1;
        net.edit(x, HOME, &splices);
    }
    net.settle();
    let replay = Replay {
        txns: trace.txns.len(),
        patches: trace.patch_count(),
        frames: net.stats.frames,
        frame_bytes: net.stats.frame_bytes,
        elapsed: started.elapsed(),
        simple: SimpleStats::default(),
    };
    (net, replay)
}

/// Replays a sequential trace the way the browser sees it: room A's `<textarea>` value changes
/// by each txn's patches, the caret ends after the last inserted text (or at the last delete),
/// `EditorText::input` recovers the splice and `Room::edit` applies it. Room B receives every
/// frame and mirrors its `PageChanged` splices into its own editor. Each patch also goes
/// through `EditorText::simple_input` (the browser's fast path) on a second mirror of A's
/// editor, which must give the splice the diff gives ([`SimpleStats`] counts). `check_every` >
/// 0 compares B's editor and A's second mirror with the value that often. Only the first
/// `limit` txns are replayed when given. Returns the net, the figures and the value the
/// textarea holds at the end.
pub fn replay_sequential(
    trace: &Trace,
    limit: Option<usize>,
    check_every: usize,
) -> (Net, Replay, String) {
    let started = Instant::now();
    let mut net = Net::held_pair([0xA, 0xB]);
    let mut value = Value::default();
    let mut shadow = SimpleShadow {
        mirror: net.peers[0].editor.clone(),
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
        let splice = type_value(&mut net, 0, value.as_str(), caret as u32);
        if patches.len() == 1 {
            check_simple(&mut shadow.mirror, fast, splice.as_ref(), txns);
        }
        assert_eq!(
            shadow.mirror.len(),
            net.peers[0].editor.len(),
            "txn {txns}: simple_input's mirror has another length than input's"
        );
        net.deliver_tagged(1, u64::MAX);
        txns += 1;
        patch_count += patches.len();
        if check_every > 0 && txns % check_every == 0 {
            assert!(
                net.peers[1].editor.text() == value.as_str(),
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
        frames: net.stats.frames,
        frame_bytes: net.stats.frame_bytes,
        elapsed: started.elapsed(),
        simple: shadow.stats,
    };
    (net, replay, value.into_string())
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

/// Room `i`'s person types: the `<textarea>` now holds `value` with the caret at `caret`
/// (UTF-16), `EditorText::input` recovers the splice and the room takes it, a millisecond on.
fn type_value(net: &mut Net, i: usize, value: &str, caret: u32) -> Option<Splice> {
    net.now += 1;
    let splice = net.peers[i].editor.input(value, Some(caret))?;
    let now = net.now;
    net.act(i, |room| {
        room.edit(now, HOME, std::slice::from_ref(&splice), None)
    });
    Some(splice)
}
