//! The simulator's random edits, made as the browser makes them: change the editor's value,
//! recover the splice with `EditorText::input`, give it to `Room::edit`.
//!
//! Every random insert may carry a unique marker `⟦p<peer>.<n>⟧`; edits never cut into a
//! marker, so a marker is in the final page exactly when nobody deleted it (undo and redo aside:
//! [`Markers::touched`]).

use std::collections::{BTreeMap, BTreeSet};

use commonplace_core::notebook;
use commonplace_core::text::diff::Splice;
use rand::rngs::SmallRng;
use rand::Rng;

use super::net::Net;

/// Marker bookkeeping: which markers were inserted, and which deleted whole.
#[derive(Debug, Default)]
pub struct Markers {
    pub inserted: BTreeSet<String>,
    pub deleted: BTreeSet<String>,
    /// Markers undo or redo removed or brought back: their fate is not followed (two people
    /// undoing concurrent deletions of one marker bring it back twice, as Yjs does).
    pub touched: BTreeSet<String>,
    /// The page each marker was typed in, when not the home page.
    pub page_of: BTreeMap<String, String>,
    next: BTreeMap<usize, u64>,
}

impl Markers {
    /// The page `marker` was typed in.
    pub fn page(&self, marker: &str) -> &str {
        self.page_of
            .get(marker)
            .map_or(notebook::HOME, String::as_str)
    }
}

/// One random edit by peer `i` of the page it has open (sometimes two changes in one `edit`
/// call); random edits delete more than they insert once the page is longer than `max_text`
/// chars. With `caret`, the edit says where the caret is after it, as the app does (and the
/// person's cursor moves with it).
pub fn random_edit(net: &mut Net, markers: &mut Markers, max_text: usize, i: usize, caret: bool) {
    let parts = if net.rng().random_bool(0.15) { 2 } else { 1 };
    let page = net.peers[i].page.clone();
    let mut splices: Vec<Splice> = Vec::new();
    let mut at = 0;
    let numbered = markers.next.get(&i).copied().unwrap_or(0);
    for _ in 0..parts {
        let text = net.peers[i].editor.text();
        let (value, after) = random_change(net.rng(), markers, max_text, i, &text);
        at = after;
        if let Some(splice) = net.peers[i].editor.input(&value, Some(after)) {
            splices.push(splice);
        }
    }
    if page != notebook::HOME {
        for n in numbered + 1..=markers.next.get(&i).copied().unwrap_or(0) {
            markers.page_of.insert(format!("⟦p{i}.{n}⟧"), page.clone());
        }
    }
    net.peers[i].edits += 1;
    net.trace(|| format!("edit {i} of {page}: {splices:?}"));
    let now = net.now;
    let selection = caret.then_some((at, at));
    net.act(i, |room| room.edit(now, &page, &splices, selection));
    if net.check_mirrors {
        net.check_mirror(i);
    }
}

/// A new editor value and the caret after the change, never cutting into a marker.
fn random_change(
    rng: &mut SmallRng,
    markers: &mut Markers,
    max_text: usize,
    i: usize,
    text: &str,
) -> (String, u32) {
    let chars: Vec<char> = text.chars().collect();
    let spans = marker_spans(&chars);
    let cuts: Vec<usize> = (0..=chars.len())
        .filter(|&k| !spans.iter().any(|&(s, e)| s < k && k < e))
        .collect();
    let long = chars.len() > max_text;
    let roll = rng.random_range(0..100);
    let (delete, insert) = match roll {
        _ if chars.is_empty() => (false, true),
        0..=54 if !long => (false, true),
        55..=84 => (true, false),
        _ => (true, !long),
    };
    // The deleted range [start, end) as indexes into `cuts`.
    let a = rng.random_range(0..cuts.len());
    let b = if delete {
        (a + rng.random_range(1..=6)).min(cuts.len() - 1)
    } else {
        a
    };
    let (start, end) = (cuts[a], cuts[b]);
    for &(s, e) in &spans {
        if start <= s && e <= end {
            markers.deleted.insert(chars[s..e].iter().collect());
        }
    }
    let mut inserted = if insert {
        random_insert(rng, markers, i)
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

fn random_insert(rng: &mut SmallRng, markers: &mut Markers, i: usize) -> String {
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
    let pieces = rng.random_range(1..=4);
    let marker_at = rng.random_bool(0.7).then(|| rng.random_range(0..=pieces));
    let mut out = String::new();
    for k in 0..=pieces {
        if marker_at == Some(k) {
            let n = markers.next.entry(i).or_insert(0);
            *n += 1;
            let marker = format!("⟦p{i}.{n}⟧");
            markers.inserted.insert(marker.clone());
            out.push_str(&marker);
        }
        if k < pieces {
            out.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        }
    }
    out
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
