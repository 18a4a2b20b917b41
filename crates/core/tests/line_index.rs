//! `LineIndex` against a naive model: random splices (multi-byte characters, surrogate pairs,
//! line breaks, pastes of many lines, deletions across chunks) applied to the index, to a plain
//! UTF-16 text, and to a copy of the lines that follows the index through `LineMirror` (as the
//! caret layer's mirror does). After every splice:
//!
//! - the copy's text is the text, and its chunks are the index's (sizes within bounds);
//! - every line's length, every offset's line and column, every line's offset and slot agree
//!   with a walk over the text.

use std::ops::Range;

use commonplace_core::text::diff::{self, Splice};
use commonplace_core::text::lines::{LineIndex, LineMirror, Slot, CHUNK_LINES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PIECES: &[&str] = &[
    "a",
    "b",
    "ab",
    " ",
    "\n",
    "\n",
    "é",
    "日本",
    "😀",
    "👩‍👩‍👧",
    "x\n",
    "\n\n",
    "",
];

/// The lines' text in chunks, changed only by the steps the index tells.
#[derive(Debug, Default)]
struct Copy {
    chunks: Vec<Vec<Vec<u16>>>,
    steps: usize,
    splits: usize,
    drops: usize,
}

impl Copy {
    fn new(text: &str, index: &LineIndex) -> Copy {
        let mut lines = text.split('\n').map(|line| line.encode_utf16().collect());
        let chunks = (0..index.chunk_count())
            .map(|c| lines.by_ref().take(index.chunk_len(c)).collect())
            .collect();
        assert!(lines.next().is_none());
        Copy {
            chunks,
            ..Copy::default()
        }
    }

    fn line(&mut self, slot: Slot) -> &mut Vec<u16> {
        &mut self.chunks[slot.chunk][slot.index]
    }

    fn text(&self) -> Vec<u16> {
        let lines: Vec<&[u16]> = self.chunks.iter().flatten().map(Vec::as_slice).collect();
        lines.join(&u16::from(b'\n'))
    }
}

impl LineMirror for Copy {
    fn edit(&mut self, slot: Slot, column: u32, delete: u32, text: &str) {
        assert!(!text.contains('\n'));
        let column = column as usize;
        self.line(slot)
            .splice(column..column + delete as usize, text.encode_utf16());
        self.steps += 1;
    }

    fn insert(&mut self, chunk: usize, index: usize, texts: &[&str]) {
        let lines = texts.iter().map(|text| {
            assert!(!text.contains('\n'));
            text.encode_utf16().collect()
        });
        self.chunks[chunk].splice(index..index, lines);
        self.steps += 1;
    }

    fn append_rest(&mut self, to: Slot, from: Slot, column: u32) {
        let rest = self.line(from)[column as usize..].to_vec();
        self.line(to).extend(rest);
        self.steps += 1;
    }

    fn remove(&mut self, chunk: usize, range: Range<usize>) {
        assert!(!range.is_empty());
        self.chunks[chunk].drain(range);
        self.steps += 1;
    }

    fn split_chunk(&mut self, chunk: usize, at: usize) {
        assert!(at > 0 && at < self.chunks[chunk].len());
        let tail = self.chunks[chunk].split_off(at);
        self.chunks.insert(chunk + 1, tail);
        self.steps += 1;
        self.splits += 1;
    }

    fn remove_chunk(&mut self, chunk: usize) {
        assert!(
            self.chunks[chunk].is_empty(),
            "only empty chunks are removed"
        );
        self.chunks.remove(chunk);
        self.steps += 1;
        self.drops += 1;
    }
}

/// Checks everything the index says against a walk over `text`.
fn check(index: &LineIndex, copy: &Copy, text: &[u16], rng: &mut SmallRng) {
    assert_eq!(copy.text(), text, "the copy follows the text");
    assert_eq!(index.len() as usize, text.len());
    assert_eq!(index.chunk_count(), copy.chunks.len());
    for (c, chunk) in copy.chunks.iter().enumerate() {
        assert_eq!(index.chunk_len(c), chunk.len(), "chunk {c}");
        assert!(!chunk.is_empty() && chunk.len() < 2 * CHUNK_LINES);
    }
    let lines: Vec<&[u16]> = text.split(|&unit| unit == u16::from(b'\n')).collect();
    assert_eq!(index.line_count(), lines.len());
    let mut line = 0;
    let mut starts = Vec::new();
    let mut start = 0;
    for (c, chunk) in copy.chunks.iter().enumerate() {
        for (i, copied) in chunk.iter().enumerate() {
            let slot = Slot { chunk: c, index: i };
            assert_eq!(index.slot(line), slot);
            assert_eq!(index.line_of(slot), line);
            assert_eq!(index.line_len(slot) as usize, copied.len());
            assert_eq!(index.offset(line, 0) as usize, start);
            assert_eq!(
                index.offset(line, u32::MAX) as usize,
                start + copied.len(),
                "columns past the end go to the end"
            );
            starts.push(start);
            start += copied.len() + 1;
            line += 1;
        }
    }
    // Every offset of a small text, a sample of a big one (with the ends, and past the end).
    let offsets: Vec<usize> = if text.len() < 600 {
        (0..=text.len() + 1).collect()
    } else {
        let mut sample: Vec<usize> = (0..200).map(|_| rng.random_range(0..=text.len())).collect();
        sample.extend([0, text.len(), text.len() + 5]);
        sample
    };
    for offset in offsets {
        let clamped = offset.min(text.len());
        let expected_line = starts.partition_point(|&start| start <= clamped) - 1;
        let position = index.locate(offset as u32);
        assert_eq!(
            (position.line, position.column as usize),
            (expected_line, clamped - starts[expected_line]),
            "offset {offset}"
        );
        assert_eq!(position.slot, index.slot(position.line));
        assert_eq!(
            index.offset(position.line, position.column) as usize,
            clamped
        );
    }
    assert_eq!(index.slot(usize::MAX), index.slot(lines.len() - 1));
}

fn random_insert(rng: &mut SmallRng) -> String {
    match rng.random_range(0..20) {
        // A paste of many lines: chunks split.
        0 => (0..rng.random_range(60..400))
            .map(|i| if i % 3 == 0 { "😀 line\n" } else { "é\n" })
            .collect(),
        1..=4 => String::new(),
        _ => (0..rng.random_range(1..4))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect(),
    }
}

fn random_splice(rng: &mut SmallRng, len: usize) -> Splice {
    // Sometimes past the end (clamped); any offset, even inside a surrogate pair (the index
    // counts units).
    let index = rng.random_range(0..=len + 2);
    let delete = match rng.random_range(0..10) {
        // A deletion of many lines: chunks emptied and dropped.
        0 => rng.random_range(0..=len),
        1..=5 => 0,
        _ => rng.random_range(0..4),
    };
    Splice {
        index: index as u32,
        delete: delete as u32,
        insert: random_insert(rng),
    }
}

#[test]
fn random_splices_agree_with_a_walk() {
    let (mut splits, mut drops) = (0, 0);
    for seed in 0..60 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let initial: String = (0..rng.random_range(0..300))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        let mut text: Vec<u16> = initial.encode_utf16().collect();
        let mut index = LineIndex::new(&initial);
        let mut copy = Copy::new(&initial, &index);
        check(&index, &copy, &text, &mut rng);
        for step in 0..150 {
            let splice = random_splice(&mut rng, text.len());
            index.splice(splice.index, splice.delete, &splice.insert, &mut copy);
            diff::apply(&mut text, &splice);
            if step % 5 == 0 || text.len() < 2000 {
                check(&index, &copy, &text, &mut rng);
            } else {
                assert_eq!(copy.text(), text, "seed {seed} step {step}");
            }
        }
        check(&index, &copy, &text, &mut rng);
        splits += copy.splits;
        drops += copy.drops;
    }
    assert!(splits > 50 && drops > 50, "{splits} splits, {drops} drops");
}

#[test]
fn a_new_index_is_chunked_as_splices_leave_it() {
    let text = "x\n".repeat(3 * CHUNK_LINES + 5);
    let index = LineIndex::new(&text);
    let sizes: Vec<usize> = (0..index.chunk_count())
        .map(|c| index.chunk_len(c))
        .collect();
    assert_eq!(sizes, [CHUNK_LINES, CHUNK_LINES, CHUNK_LINES, 6]);
    // A paste that brings a chunk to twice the size splits it into chunks of CHUNK_LINES.
    let mut index = LineIndex::new("");
    let mut copy = Copy::new("", &index);
    let paste = "y\n".repeat(2 * CHUNK_LINES + 1);
    index.splice(0, 0, &paste, &mut copy);
    let sizes: Vec<usize> = (0..index.chunk_count())
        .map(|c| index.chunk_len(c))
        .collect();
    assert_eq!(sizes, [CHUNK_LINES, CHUNK_LINES, 2]);
    let mut rng = SmallRng::seed_from_u64(1);
    let units: Vec<u16> = paste.encode_utf16().collect();
    check(&index, &copy, &units, &mut rng);
    // Deleting everything leaves one empty line in one chunk.
    index.splice(0, u32::MAX, "", &mut copy);
    check(&index, &copy, &[], &mut rng);
}

#[test]
fn the_steps_of_a_keystroke_do_not_grow_with_the_page() {
    let line = "some words on a line, 😀\n";
    let text = line.repeat(20_000);
    let mut index = LineIndex::new(&text);
    let mut copy = Copy::new(&text, &index);
    let middle = index.offset(10_000, 5);
    for (insert, delete, most) in [("a", 0, 1), ("\n", 0, 3), ("", 1, 3), ("é", 0, 1)] {
        copy.steps = 0;
        index.splice(middle, delete, insert, &mut copy);
        assert!(copy.steps <= most, "{insert:?}: {} steps", copy.steps);
    }
    let mut units: Vec<u16> = text.encode_utf16().collect();
    for (insert, delete) in [("a", 0), ("\n", 0), ("", 1), ("é", 0)] {
        diff::apply(
            &mut units,
            &Splice {
                index: middle,
                delete,
                insert: insert.into(),
            },
        );
    }
    let mut rng = SmallRng::seed_from_u64(2);
    check(&index, &copy, &units, &mut rng);
}
