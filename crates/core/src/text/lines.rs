//! The lines of a text, in UTF-16 units as a `<textarea>` counts them (its line breaks are
//! always `\n`; a surrogate pair counts 2), kept in step with the text splice by splice.
//!
//! The caret layer needs to know, per keystroke, which line an offset falls on and where that
//! line is kept; walking the lines from the top to find out costs as much as the page is long.
//! Here lines sit in *chunks* of consecutive lines (made [`CHUNK_LINES`] at a time, split when
//! they reach twice that, dropped when empty), and running totals per chunk (units, lines) find
//! the chunk of an offset or of a line number in O(log chunks); the line within it is found by
//! walking the chunk, O([`CHUNK_LINES`]). A splice changes the lines it touches and the totals of
//! their chunks; only a chunk split or dropped rebuilds the totals, O(chunks), at most once per
//! [`CHUNK_LINES`] lines added or removed.
//!
//! The index knows lengths only. A copy of the lines that holds more (the caret layer's hidden
//! mirror holds each line's text in an element, its chunks in elements too) follows it through
//! [`LineMirror`]: a splice tells it each step it takes, addressed by chunk and place in it, so
//! the copy's chunks are always the index's.

use std::ops::Range;

use super::prefix_sums::PrefixSums;

/// Lines per chunk when chunks are made; a chunk that grows to twice this is split into chunks
/// of this many.
pub const CHUNK_LINES: usize = 64;

/// Where a line is kept: its chunk, and its place in that chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub chunk: usize,
    pub index: usize,
}

/// An offset as a line and a column (both from 0, the column in UTF-16 units), with where that
/// line is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: u32,
    pub slot: Slot,
}

/// A copy of the lines that holds what the index does not (their text), told each step of a
/// splice in order. Every step is addressed as things stand after the steps before it.
pub trait LineMirror {
    /// `delete` units at `column` of the line at `slot` are replaced by `text` (no line break).
    fn edit(&mut self, slot: Slot, column: u32, delete: u32, text: &str);
    /// New lines holding `texts` go into chunk `chunk`, before its line `index` (or at its end).
    fn insert(&mut self, chunk: usize, index: usize, texts: &[&str]);
    /// The line at `to` is followed by the text of the line at `from` from `column` on (the line
    /// at `from` stays as it is, until a later step edits or removes it).
    fn append_rest(&mut self, to: Slot, from: Slot, column: u32);
    /// Lines `range` of chunk `chunk` are removed. A chunk left empty is then removed by
    /// [`LineMirror::remove_chunk`].
    fn remove(&mut self, chunk: usize, range: Range<usize>);
    /// The lines of chunk `chunk` from `at` on move to a new chunk right after it.
    fn split_chunk(&mut self, chunk: usize, at: usize);
    /// Chunk `chunk`, left empty, is removed.
    fn remove_chunk(&mut self, chunk: usize);
}

/// No copy to keep in step.
impl LineMirror for () {
    fn edit(&mut self, _: Slot, _: u32, _: u32, _: &str) {}
    fn insert(&mut self, _: usize, _: usize, _: &[&str]) {}
    fn append_rest(&mut self, _: Slot, _: Slot, _: u32) {}
    fn remove(&mut self, _: usize, _: Range<usize>) {}
    fn split_chunk(&mut self, _: usize, _: usize) {}
    fn remove_chunk(&mut self, _: usize) {}
}

#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Each chunk's line lengths in UTF-16 units, without the `\n`. There is always a line (an
    /// empty text has one, empty); a chunk holds at least one line, fewer than
    /// `2 * CHUNK_LINES`.
    chunks: Vec<Vec<u32>>,
    /// Per chunk, its units counting a `\n` after each line (the text's length is the total
    /// less the last line's, absent, `\n`).
    units: PrefixSums,
    /// Per chunk, how many lines it holds.
    lines: PrefixSums,
}

impl Default for LineIndex {
    fn default() -> Self {
        LineIndex::new("")
    }
}

impl LineIndex {
    /// The lines of `text`, in chunks of [`CHUNK_LINES`] (the last one holding the rest).
    pub fn new(text: &str) -> Self {
        let lengths: Vec<u32> = text.split('\n').map(utf16_len).collect();
        let chunks = lengths.chunks(CHUNK_LINES).map(<[u32]>::to_vec).collect();
        let mut index = LineIndex {
            chunks,
            units: PrefixSums::default(),
            lines: PrefixSums::default(),
        };
        index.recount();
        index
    }

    /// The text's length in UTF-16 units, line breaks included.
    pub fn len(&self) -> u32 {
        (self.units.total() - 1) as u32
    }

    /// Whether the text is empty (it still has one line).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn line_count(&self) -> usize {
        self.lines.total()
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// How many lines chunk `chunk` holds.
    pub fn chunk_len(&self, chunk: usize) -> usize {
        self.chunks[chunk].len()
    }

    /// The length of the line at `slot`, in UTF-16 units without its `\n`.
    pub fn line_len(&self, slot: Slot) -> u32 {
        self.chunks[slot.chunk][slot.index]
    }

    /// Where line `line` is kept (the last line for lines past the end). O(log chunks).
    pub fn slot(&self, line: usize) -> Slot {
        let line = line.min(self.line_count() - 1);
        let (chunk, before) = self.lines.find(line).expect("a line within the count");
        Slot {
            chunk,
            index: line - before,
        }
    }

    /// The line number of the line at `slot`. O(log chunks).
    pub fn line_of(&self, slot: Slot) -> usize {
        self.lines.prefix(slot.chunk) + slot.index
    }

    /// The line and column of `offset` (the end of the text for offsets past it). An offset
    /// just before a `\n` is at the end of that line, not the start of the next.
    /// O(log chunks + [`CHUNK_LINES`]).
    pub fn locate(&self, offset: u32) -> Position {
        let offset = offset.min(self.len());
        let (chunk, before) = self
            .units
            .find(offset as usize)
            .expect("an offset within the text");
        let mut rest = offset - before as u32;
        for (index, &len) in self.chunks[chunk].iter().enumerate() {
            if rest <= len {
                return Position {
                    line: self.lines.prefix(chunk) + index,
                    column: rest,
                    slot: Slot { chunk, index },
                };
            }
            rest -= len + 1;
        }
        unreachable!("the chunk's units cover the offset")
    }

    /// The offset of column `column` of line `line` (columns past the line's end go to its end,
    /// lines past the last to the last). O(log chunks + [`CHUNK_LINES`]).
    pub fn offset(&self, line: usize, column: u32) -> u32 {
        let slot = self.slot(line);
        let chunk = &self.chunks[slot.chunk];
        let before: u32 = chunk[..slot.index].iter().map(|len| len + 1).sum();
        self.units.prefix(slot.chunk) as u32 + before + column.min(chunk[slot.index])
    }

    /// `delete` units at `index` were replaced by `insert` (offsets past the end are clamped):
    /// updates the lines it touches and tells `mirror` each step. Typing within a line is one
    /// [`LineMirror::edit`]. O(log chunks + [`CHUNK_LINES`] + the lines added or removed), and
    /// O(chunks) when a chunk is split or dropped.
    pub fn splice(&mut self, index: u32, delete: u32, insert: &str, mirror: &mut impl LineMirror) {
        let total = self.len();
        let index = index.min(total);
        let delete = delete.min(total - index);
        if delete == 0 && insert.is_empty() {
            return;
        }
        let start = self.locate(index);
        let end = self.locate(index + delete);
        let pieces: Vec<&str> = insert.split('\n').collect();
        let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
        let start_len = self.line_len(start.slot);
        // What of the start line goes: from the splice to its end.
        let start_tail = start_len - start.column;

        if pieces.len() == 1 && start.line == end.line {
            // Typing within a line: the common case.
            mirror.edit(start.slot, start.column, delete, insert);
            self.set_len(start.slot, start_len - delete + utf16_len(insert));
            return;
        }
        // What of the end line stays: from the end of the splice to its end.
        let rest = self.line_len(end.slot) - end.column;
        if pieces.len() == 1 {
            // Lines joined: the start line takes the rest of the end line; the lines after it,
            // up to the end line, go.
            mirror.edit(start.slot, start.column, start_tail, first);
            mirror.append_rest(start.slot, end.slot, end.column);
            self.set_len(start.slot, start.column + utf16_len(first) + rest);
            self.remove_lines(start.line + 1..end.line + 1, mirror);
            return;
        }
        if end.line > start.line {
            // The end line is kept (only its start is replaced), and so is the start line (its
            // end is): the lines between them go, the inserted lines between go in.
            mirror.edit(end.slot, 0, end.column, last);
            self.set_len(end.slot, utf16_len(last) + rest);
            mirror.edit(start.slot, start.column, start_tail, first);
            self.set_len(start.slot, start.column + utf16_len(first));
            self.remove_lines(start.line + 1..end.line, mirror);
            self.insert_lines(start.slot, &pieces[1..pieces.len() - 1], mirror);
        } else {
            // Line breaks within one line: new lines after it, the last taking the rest of it.
            self.insert_lines(start.slot, &pieces[1..], mirror);
            let new_last = Slot {
                chunk: start.slot.chunk,
                index: start.slot.index + pieces.len() - 1,
            };
            mirror.append_rest(new_last, start.slot, end.column);
            self.set_len(new_last, utf16_len(last) + rest);
            mirror.edit(start.slot, start.column, start_tail, first);
            self.set_len(start.slot, start.column + utf16_len(first));
        }
        self.split_if_big(start.slot.chunk, mirror);
    }

    fn set_len(&mut self, slot: Slot, len: u32) {
        let old = std::mem::replace(&mut self.chunks[slot.chunk][slot.index], len);
        self.units.add(slot.chunk, len as isize - old as isize);
    }

    /// Puts lines holding `texts` right after the line at `after`, in its chunk (which may then
    /// be too big: see [`LineIndex::split_if_big`]).
    fn insert_lines(&mut self, after: Slot, texts: &[&str], mirror: &mut impl LineMirror) {
        if texts.is_empty() {
            return;
        }
        let at = after.index + 1;
        mirror.insert(after.chunk, at, texts);
        let lengths: Vec<u32> = texts.iter().map(|text| utf16_len(text)).collect();
        let units: usize = lengths.iter().map(|&len| len as usize + 1).sum();
        self.chunks[after.chunk].splice(at..at, lengths);
        self.units.add(after.chunk, units as isize);
        self.lines.add(after.chunk, texts.len() as isize);
    }

    /// Takes lines `lines` out, and the chunks left empty.
    fn remove_lines(&mut self, lines: Range<usize>, mirror: &mut impl LineMirror) {
        if lines.is_empty() {
            return;
        }
        let (from, to) = (self.slot(lines.start), self.slot(lines.end - 1));
        let mut emptied = Vec::new();
        for chunk in from.chunk..=to.chunk {
            let start = if chunk == from.chunk { from.index } else { 0 };
            let end = if chunk == to.chunk {
                to.index + 1
            } else {
                self.chunks[chunk].len()
            };
            mirror.remove(chunk, start..end);
            let units: usize = self.chunks[chunk]
                .drain(start..end)
                .map(|len| len as usize + 1)
                .sum();
            self.units.add(chunk, -(units as isize));
            self.lines.add(chunk, -((end - start) as isize));
            if self.chunks[chunk].is_empty() {
                emptied.push(chunk);
            }
        }
        // From the last, so that the numbers of those still to go stay right.
        for &chunk in emptied.iter().rev() {
            mirror.remove_chunk(chunk);
            self.chunks.remove(chunk);
        }
        if !emptied.is_empty() {
            self.recount();
        }
    }

    /// A chunk of `2 * CHUNK_LINES` lines or more is split into chunks of [`CHUNK_LINES`], the
    /// last holding the rest.
    fn split_if_big(&mut self, chunk: usize, mirror: &mut impl LineMirror) {
        let count = self.chunks[chunk].len();
        if count < 2 * CHUNK_LINES {
            return;
        }
        // From the end: each split moves one new chunk's lines, and puts it after the others.
        let mut tails = Vec::new();
        let mut at = (count - 1) / CHUNK_LINES * CHUNK_LINES;
        while at >= CHUNK_LINES {
            mirror.split_chunk(chunk, at);
            tails.push(self.chunks[chunk].split_off(at));
            at -= CHUNK_LINES;
        }
        tails.reverse();
        self.chunks.splice(chunk + 1..chunk + 1, tails);
        self.recount();
    }

    /// Rebuilds the running totals: O(chunks).
    fn recount(&mut self) {
        self.units = PrefixSums::new(
            self.chunks
                .iter()
                .map(|lines| lines.iter().map(|&len| len as usize + 1).sum()),
        );
        self.lines = PrefixSums::new(self.chunks.iter().map(Vec::len));
    }
}

fn utf16_len(text: &str) -> u32 {
    super::utf16::len(text) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions() {
        let index = LineIndex::new("ab\n\n😀é\nx");
        assert_eq!(index.len(), 9);
        assert_eq!(index.line_count(), 4);
        let at = |offset| {
            let p = index.locate(offset);
            (p.line, p.column)
        };
        assert_eq!(at(0), (0, 0));
        assert_eq!(at(2), (0, 2));
        assert_eq!(at(3), (1, 0));
        assert_eq!(at(4), (2, 0));
        assert_eq!(at(6), (2, 2));
        assert_eq!(at(7), (2, 3));
        assert_eq!(at(8), (3, 0));
        assert_eq!(at(9), (3, 1));
        assert_eq!(at(99), (3, 1));
        assert_eq!(index.offset(2, 3), 7);
        assert_eq!(index.offset(2, 99), 7);
        assert_eq!(index.offset(9, 0), 8);
        assert!(LineIndex::new("").is_empty());
        assert_eq!(LineIndex::new("").line_count(), 1);
    }

    #[test]
    fn typing_within_a_line_is_one_edit() {
        #[derive(Default)]
        struct Steps(Vec<String>);
        impl LineMirror for Steps {
            fn edit(&mut self, slot: Slot, column: u32, delete: u32, text: &str) {
                self.0.push(format!(
                    "edit {}.{} {column} -{delete} {text:?}",
                    slot.chunk, slot.index
                ));
            }
            fn insert(&mut self, chunk: usize, index: usize, texts: &[&str]) {
                self.0.push(format!("insert {chunk}.{index} {texts:?}"));
            }
            fn append_rest(&mut self, to: Slot, from: Slot, column: u32) {
                self.0.push(format!(
                    "append {}.{} {}.{} {column}",
                    to.chunk, to.index, from.chunk, from.index
                ));
            }
            fn remove(&mut self, chunk: usize, range: Range<usize>) {
                self.0.push(format!("remove {chunk} {range:?}"));
            }
            fn split_chunk(&mut self, chunk: usize, at: usize) {
                self.0.push(format!("split {chunk} {at}"));
            }
            fn remove_chunk(&mut self, chunk: usize) {
                self.0.push(format!("drop {chunk}"));
            }
        }
        let mut index = LineIndex::new("one\ntwo\nthree");
        let mut steps = Steps::default();
        index.splice(5, 0, "w", &mut steps);
        index.splice(4, 1, "", &mut steps);
        assert_eq!(steps.0, ["edit 0.1 1 -0 \"w\"", "edit 0.1 0 -1 \"\""]);
        steps.0.clear();
        // Enter in the middle of "one": a new line after it takes the rest.
        index.splice(1, 0, "\n", &mut steps);
        assert_eq!(
            steps.0,
            [
                "insert 0.1 [\"\"]",
                "append 0.1 0.0 1",
                "edit 0.0 1 -2 \"\""
            ]
        );
        steps.0.clear();
        // Backspace at the start of "ne": the lines join.
        index.splice(1, 1, "", &mut steps);
        assert_eq!(
            steps.0,
            ["edit 0.0 1 -0 \"\"", "append 0.0 0.1 0", "remove 0 1..2"]
        );
        assert_eq!(index.len(), 13);
        assert_eq!(index.line_count(), 3);
    }
}
