//! What the page's `<textarea>` shows, kept in step with the page.
//!
//! The element reports only its new value after an input event; comparing it with this mirror
//! recovers the splice the person made. Remote splices are applied to both the element and this
//! mirror, so the two always hold the same UTF-16 text.
//!
//! Per keystroke nothing here is proportional to the page: the text is kept in chunks
//! ([`Utf16Chunks`]), so a simple edit or a peer's splice costs O(log chunks + a chunk + the
//! edit). Measured per one-character edit (`tests/editor_cost.rs`, release build, a noisy
//! machine): a typed character through [`EditorText::simple_input`] about 1 µs at 100k units
//! and 1.3–1.5 µs at 1M (most of it the fast path's own reading and checking), a peer's splice
//! 0.1–0.6 µs at either size; with one `Vec<u16>` shifting everything after the edit they took
//! 2–4 µs at 100k and 20–28 µs at 1M. [`EditorText::input`] (an edit the fast path refuses)
//! still compares the whole value, as it must.

use crate::text::diff::{self, Splice};
use crate::text::utf16_chunks::Utf16Chunks;

/// What the element says about an edit: the selection before it, the caret and the length
/// after it (UTF-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleEdit {
    pub selection: (u32, u32),
    pub caret: u32,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotSimple;

/// How many units of unchanged text either side of a simple edit
/// [`EditorText::simple_input`] reads back and checks: a change the browser reports as a simple
/// edit but that reaches this far beyond it (an autocorrection of the word before the caret,
/// a double-space period replacing the space before it) is refused, not missed.
pub const SIMPLE_CONTEXT: u32 = 8;

/// The most a peer's insertion may hold to go into the textarea as the browser's own editing
/// (`insertText`) rather than by replacing the value. Editing lays out only from the changed
/// line on, but its cost grows with the text inserted, far faster than replacing the value
/// does: measured in headless Chromium into a 100k-unit textarea, 1 unit 4 ms against 38 ms,
/// 256 units of lines 46 against 39, 4,000 units 242 against 29, and 250,000 units into a
/// 600k-unit one 100 s against 27 ms (a peer's paste froze the page for that long).
/// Deleting costs about the same either way at any size.
pub const IN_PLACE_MAX_INSERT: usize = 128;

/// Whether a peer's splice is small enough to write as the browser's own editing would
/// ([`IN_PLACE_MAX_INSERT`]): typing and small merges are; a paste is not.
pub fn fits_in_place(splice: &Splice) -> bool {
    crate::text::utf16::len(&splice.insert) <= IN_PLACE_MAX_INSERT
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

#[derive(Debug, Default, Clone)]
pub struct EditorText {
    units: Utf16Chunks,
}

impl EditorText {
    pub fn new(text: &str) -> Self {
        let units = super::utf16::units(text);
        EditorText {
            units: Utf16Chunks::new(&units),
        }
    }

    /// The person changed the element's value to `value`, leaving the caret at `caret`
    /// (UTF-16): returns the splice to apply to the page, if anything changed.
    pub fn input(&mut self, value: &str, caret: Option<u32>) -> Option<Splice> {
        let new = super::utf16::units(value);
        let splice = diff::diff(&self.units.to_vec(), &new, caret.map(|c| c as usize))?;
        self.units = Utf16Chunks::new(&new);
        Some(splice)
    }

    /// The person made a simple edit (typing, deleting, pasting at the selection): recovers the
    /// splice from the selection before it and the caret and length after it, reading only the
    /// inserted text and [`SIMPLE_CONTEXT`] units either side, so the cost does not grow with
    /// the page. The splice is the one [`EditorText::input`] would give (the part of a replaced
    /// selection that the new text starts with is kept). `Err` when those do not describe a
    /// simple edit (then compare the whole value with [`EditorText::input`]).
    pub fn simple_input(
        &mut self,
        edit: SimpleEdit,
        read: impl FnOnce(u32, u32) -> String,
    ) -> Result<Option<Splice>, NotSimple> {
        let SimpleEdit {
            selection: (start, end),
            caret,
            len,
        } = edit;
        let old_len = self.units.len() as i64;
        let delta = len as i64 - old_len;
        // The edit replaced old[from..to] with new[from..caret].
        let from = start.min(caret) as i64;
        let to = caret as i64 - delta;
        let fits =
            start <= end && (end as i64) <= to && from <= to && to <= old_len && caret <= len;
        if !fits {
            return Err(NotSimple);
        }
        let (from, to, caret) = (from as usize, to as usize, caret as usize);
        // A cut before a low surrogate would split a pair.
        let splits = |at: usize| self.units.get(at).is_some_and(is_low_surrogate);
        if splits(from) || splits(to) {
            return Err(NotSimple);
        }
        // Read the text around the edit too, whole characters of it: it must be unchanged.
        let mut before = (SIMPLE_CONTEXT as usize).min(from);
        if before < from && splits(from - before) {
            before += 1;
        }
        let mut after = (SIMPLE_CONTEXT as usize).min(self.units.len() - to);
        if splits(to + after) {
            after += 1;
        }
        let (read_from, read_to) = (from - before, caret + after);
        let read: Vec<u16> = read(read_from as u32, read_to as u32)
            .encode_utf16()
            .collect();
        if read.len() != read_to - read_from {
            return Err(NotSimple);
        }
        let (head, rest) = read.split_at(before);
        let (inserted, tail) = rest.split_at(caret - from);
        if head != self.units.slice(read_from..from) || tail != self.units.slice(to..to + after) {
            return Err(NotSimple);
        }
        // Keep what the new text shares with the start of the replaced one, as a diff does,
        // never half of a surrogate pair.
        let mut kept = inserted
            .iter()
            .zip(&self.units.slice(from..to.min(from + inserted.len())))
            .take_while(|(new, old)| new == old)
            .count();
        if kept > 0 && is_high_surrogate(inserted[kept - 1]) {
            kept -= 1;
        }
        let (index, inserted) = (from + kept, &inserted[kept..]);
        if index == to && inserted.is_empty() {
            return Ok(None);
        }
        let insert = String::from_utf16_lossy(inserted);
        self.units.splice(index..to, inserted);
        Ok(Some(Splice {
            index: index as u32,
            delete: (to - index) as u32,
            insert,
        }))
    }

    /// A splice that came from a peer and is now in the page.
    pub fn apply(&mut self, splice: &Splice) {
        // Out-of-range offsets are clamped, as `diff::apply` does.
        let start = splice.index as usize;
        let insert = super::utf16::units(&splice.insert);
        self.units
            .splice(start..start.saturating_add(splice.delete as usize), &insert);
    }

    pub fn text(&self) -> String {
        String::from_utf16_lossy(&self.units.to_vec())
    }

    /// Units `range` (clamped to the text) as a string: a big page's window.
    pub fn slice(&self, range: std::ops::Range<usize>) -> String {
        let end = range.end.min(self.units.len());
        String::from_utf16_lossy(&self.units.slice(range.start.min(end)..end))
    }

    /// Length in UTF-16 code units, as the element counts.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_written_in_place_and_a_paste_is_not() {
        let splice = |insert: String, delete: u32| Splice {
            index: 10,
            delete,
            insert,
        };
        assert!(fits_in_place(&splice("a".into(), 0)));
        assert!(fits_in_place(&splice(String::new(), 50_000)));
        assert!(fits_in_place(&splice("é".repeat(IN_PLACE_MAX_INSERT), 0)));
        assert!(!fits_in_place(&splice(
            "x".repeat(IN_PLACE_MAX_INSERT + 1),
            0
        )));
        assert!(!fits_in_place(&splice("line\n".repeat(50_000), 3)));
    }

    #[test]
    fn input_then_remote_splices_stay_in_step() {
        let mut editor = EditorText::new("hello");
        let splice = editor.input("hello!", Some(6)).unwrap();
        assert_eq!(
            (splice.index, splice.delete, splice.insert.as_str()),
            (5, 0, "!")
        );
        editor.apply(&Splice {
            index: 0,
            delete: 1,
            insert: "J".into(),
        });
        assert_eq!(editor.text(), "Jello!");
        assert_eq!(editor.input("Jello!", Some(2)), None);
    }

    /// Applies `value` as the element would hold it after an edit described by `edit`.
    fn simple(
        editor: &mut EditorText,
        value: &str,
        edit: SimpleEdit,
    ) -> Result<Option<Splice>, NotSimple> {
        let units: Vec<u16> = value.encode_utf16().collect();
        let result = editor.simple_input(edit, |a, b| {
            String::from_utf16_lossy(&units[a as usize..b as usize])
        });
        if result.is_ok() {
            assert_eq!(editor.text(), value);
        }
        result
    }

    fn edit(selection: (u32, u32), caret: u32, len: u32) -> SimpleEdit {
        SimpleEdit {
            selection,
            caret,
            len,
        }
    }

    #[test]
    fn simple_edits_are_recovered_without_reading_the_page() {
        let mut editor = EditorText::new("hello world");
        let typed = simple(&mut editor, "hello, world", edit((5, 5), 6, 12))
            .unwrap()
            .unwrap();
        assert_eq!(
            (typed.index, typed.delete, typed.insert.as_str()),
            (5, 0, ",")
        );
        let backspace = simple(&mut editor, "hello world", edit((6, 6), 5, 11))
            .unwrap()
            .unwrap();
        assert_eq!((backspace.index, backspace.delete), (5, 1));
        let forward = simple(&mut editor, "hello orld", edit((6, 6), 6, 10))
            .unwrap()
            .unwrap();
        assert_eq!((forward.index, forward.delete), (6, 1));
        let replaced = simple(&mut editor, "héllo 😀", edit((1, 10), 8, 8))
            .unwrap()
            .unwrap();
        assert_eq!(
            (replaced.index, replaced.delete, replaced.insert.as_str()),
            (1, 9, "éllo 😀")
        );
        let at_end = simple(&mut editor, "héllo 😀!", edit((8, 8), 9, 9))
            .unwrap()
            .unwrap();
        assert_eq!((at_end.index, at_end.insert.as_str()), (8, "!"));
        let emoji_deleted = simple(&mut editor, "héllo !", edit((8, 8), 6, 7))
            .unwrap()
            .unwrap();
        assert_eq!((emoji_deleted.index, emoji_deleted.delete), (6, 2));
    }

    #[test]
    fn edits_that_are_not_simple_are_refused() {
        let mut editor = EditorText::new("ab😀cd");
        // The caret moved somewhere the selection does not explain.
        assert_eq!(
            simple(&mut editor, "xab😀cd", edit((3, 3), 5, 7)),
            Err(NotSimple)
        );
        // Half of a surrogate pair.
        assert_eq!(
            simple(&mut editor, "ab\u{FFFD}cd", edit((3, 3), 2, 5)),
            Err(NotSimple)
        );
        // Longer than the selection allows.
        assert_eq!(
            simple(&mut editor, "abcd", edit((0, 6), 0, 4)),
            Err(NotSimple)
        );
        assert_eq!(editor.text(), "ab😀cd");
    }

    #[test]
    fn changes_next_to_a_simple_edit_are_refused() {
        // A double-space period: "insertText" at the caret that also replaced the space before.
        let mut editor = EditorText::new("hello ");
        assert_eq!(
            simple(&mut editor, "hello. ", edit((6, 6), 7, 7)),
            Err(NotSimple)
        );
        // An autocorrection of the word before, reported as typing the space after it.
        let mut editor = EditorText::new("say teh");
        assert_eq!(
            simple(&mut editor, "say the ", edit((7, 7), 8, 8)),
            Err(NotSimple)
        );
        assert_eq!(editor.text(), "say teh");
        // Beyond the context nothing can tell: the browser takes this path only for simple
        // input types.
        let far = " ".repeat(SIMPLE_CONTEXT as usize);
        let mut editor = EditorText::new(&format!("ab{far}"));
        let value: Vec<u16> = format!("xb{far}!").encode_utf16().collect();
        let splice = editor.simple_input(edit((10, 10), 11, 11), |a, b| {
            String::from_utf16_lossy(&value[a as usize..b as usize])
        });
        assert_eq!(splice.unwrap().map(|s| s.index), Some(10));
        assert_eq!(editor.text(), format!("ab{far}!"));
    }

    #[test]
    fn edits_across_chunk_boundaries_agree_with_a_diff() {
        // Long enough for several chunks; emoji so that pairs straddle some boundaries.
        let page = "ab😀\ncd é日本 ".repeat(900);
        let mut fast = EditorText::new(&page);
        let mut diffed = EditorText::new(&page);
        let mut value: Vec<u16> = page.encode_utf16().collect();
        let mut recovered = 0;
        for (round, at) in [2046, 2047, 2048, 2049, 4095, 4096, 4097, 6143, 6144, 1, 0]
            .into_iter()
            .cycle()
            .take(60)
            .enumerate()
        {
            let len = value.len() as u32;
            // Typing, a backspace, or a selection replaced, at or around `at`.
            let (selection, insert, deleted) = match round % 3 {
                0 => ((at, at), "x😃", 0),
                1 => ((at, at), "", 1.min(at)),
                _ => ((at, (at + 5).min(len)), "yz", 0),
            };
            let (start, end) = (selection.0 - deleted, selection.1);
            let mut next = value.clone();
            next.splice(start as usize..end as usize, insert.encode_utf16());
            let caret = start + insert.encode_utf16().count() as u32;
            let edit = edit(selection, caret, next.len() as u32);
            let result = fast.simple_input(edit, |a, b| {
                String::from_utf16_lossy(&next[a as usize..(b as usize).min(next.len())])
            });
            let expected = diffed.input(&String::from_utf16_lossy(&next), Some(caret));
            match result {
                Ok(splice) => {
                    assert_eq!(splice, expected, "round {round} at {at}");
                    recovered += 1;
                }
                // A cut inside a surrogate pair: refused, and the diff takes over.
                Err(NotSimple) => fast = diffed.clone(),
            }
            value = String::from_utf16_lossy(&next).encode_utf16().collect();
            assert_eq!(fast.text(), diffed.text(), "round {round} at {at}");
            assert_eq!(fast.len(), value.len());
        }
        assert!(recovered > 40, "{recovered} of 60 taken by the fast path");
    }

    #[test]
    fn a_replacement_keeps_what_it_starts_with_as_a_diff_does() {
        let mut editor = EditorText::new("the end 😀");
        let typed = simple(&mut editor, "t end 😀", edit((0, 3), 1, 8))
            .unwrap()
            .unwrap();
        assert_eq!(
            (typed.index, typed.delete, typed.insert.as_str()),
            (1, 2, "")
        );
        // 😀 and 😃 share their high surrogate: the pair is replaced whole.
        let emoji = simple(&mut editor, "t end 😃", edit((6, 8), 8, 8))
            .unwrap()
            .unwrap();
        assert_eq!(
            (emoji.index, emoji.delete, emoji.insert.as_str()),
            (6, 2, "😃")
        );
        assert_eq!(
            simple(&mut editor, "t end 😃", edit((2, 5), 5, 8)),
            Ok(None)
        );
    }
}
