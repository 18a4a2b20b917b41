//! Editing traces in the josephg/editing-traces format (described in the README beside the
//! traces), found by [`traces_dir`], and seeded synthetic traces of the same shapes:
//! [`synth_concurrent`] and [`synth_sequential`]. [`super::replay`] replays them through rooms.

use std::io::Read;
use std::path::PathBuf;

use commonplace_core::notebook;
use commonplace_core::text::diff::Splice;
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

/// Where the real traces are: `$COMMONPLACE_TRACES` when set, else `../shared/traces/` beside
/// the repository.
pub fn traces_dir() -> PathBuf {
    match std::env::var_os("COMMONPLACE_TRACES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/traces"
        )),
    }
}

/// Loads `name` from the real traces; `None` (after saying so) when they are absent, as in a
/// fresh clone.
pub fn load(name: &str) -> Option<Trace> {
    let path = traces_dir().join(name);
    let Ok(file) = std::fs::File::open(&path) else {
        println!("skipped: no traces ({} not found)", path.display());
        return None;
    };
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("trace is gzipped UTF-8");
    Some(serde_json::from_str(&json).expect("trace matches the documented format"))
}

/// seph-blog1's first patches for a benchmark: `release` of them in an optimized build, 2,000
/// in a debug one, all of them when the environment variable `full` is set; `None` when the
/// traces are absent.
#[allow(dead_code)]
pub fn seph_blog1_patches(full: &str, release: usize) -> Option<Vec<Patch>> {
    let trace = load("seph-blog1.json.gz")?;
    let limit = if std::env::var_os(full).is_some() {
        usize::MAX
    } else if cfg!(debug_assertions) {
        2_000
    } else {
        release
    };
    Some(
        trace
            .txns
            .iter()
            .flat_map(|t| t.patches.iter().cloned())
            .take(limit)
            .collect(),
    )
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
pub fn to_splices(patches: &[Patch], text: Option<String>) -> Vec<Splice> {
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
