//! A window of a big page: the part of its text the editor holds, and the arithmetic of moving
//! it and of carrying splices and selections in and out of it.
//!
//! Why: a `<textarea>` lays out all of its value, and laying out a page of a megabyte takes the
//! browser about a second (10 MB: five to ten), mostly text shaping, before anything shows. An
//! editor for big pages holds only the lines around the viewport ([`TextWindow`]); everything
//! here is in UTF-16 units of the page, as browsers and the document count, and never looks at
//! the text itself, so a keystroke or a peer's splice costs the same at any page size.
//!
//! The invariant the tests hold it to: after any sequence of page splices ([`TextWindow::remote`]),
//! local edits ([`TextWindow::local`]) and moves, the window's text, kept up to date only through
//! the splices these return, equals the page's text in [`TextWindow::range`].

use std::ops::Range;

use crate::text::diff::Splice;
use crate::text::lines::LineIndex;

/// The part `start..end` of the page the editor holds (UTF-16 units of the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextWindow {
    start: u32,
    end: u32,
}

/// What a page splice does to the window's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowChange {
    /// Nothing the window holds changed; its start moved by `shift` units (a splice above it:
    /// the editor's text stays as it is, its offsets mean other page offsets now).
    Outside { shift: i64 },
    /// The window's text changes by this splice, in the window's own offsets.
    Inside(Splice),
}

fn utf16_len(s: &str) -> u32 {
    super::utf16::len(s) as u32
}

impl TextWindow {
    /// The window `range` of the page (an inverted range is taken as empty at its start).
    pub fn new(range: Range<u32>) -> Self {
        TextWindow {
            start: range.start,
            end: range.end.max(range.start),
        }
    }

    /// The whole page of `len` units: what the editor holds for a page below the threshold.
    pub fn whole(len: u32) -> Self {
        TextWindow::new(0..len)
    }

    pub fn range(&self) -> Range<u32> {
        self.start..self.end
    }

    pub fn start(&self) -> u32 {
        self.start
    }

    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// A page offset in the window's offsets, clamped to the window (an offset above it is its
    /// start, one below it its end).
    pub fn to_local(&self, page: u32) -> u32 {
        page.clamp(self.start, self.end) - self.start
    }

    /// A window offset as a page offset (offsets past the window's end are its end).
    pub fn to_page(&self, local: u32) -> u32 {
        self.start + local.min(self.len())
    }

    /// Whether the page offset `page` is inside the window (its end included: a caret there is
    /// at the end of the window's text).
    pub fn contains(&self, page: u32) -> bool {
        (self.start..=self.end).contains(&page)
    }

    /// Someone else's splice of the page (a peer's, an undo): how the window's text changes.
    /// The window keeps standing for the same characters: a splice above it shifts it, one
    /// below it leaves it alone, one across its start takes the deleted part out of it and
    /// leaves the inserted text above it, one across its end takes the inserted text in.
    pub fn remote(&mut self, splice: &Splice) -> WindowChange {
        let (a, b) = (self.start as i64, self.end as i64);
        let i = splice.index as i64;
        let d = splice.delete as i64;
        let s = utf16_len(&splice.insert) as i64;
        let delta = s - d;
        if i > b {
            return WindowChange::Outside { shift: 0 };
        }
        if i < a && i + d <= a {
            self.start = (a + delta) as u32;
            self.end = (b + delta) as u32;
            return WindowChange::Outside { shift: delta };
        }
        // The splice reaches into the window (or starts at its end: the text goes in).
        let new_start = if i >= a { a } else { i + s };
        let new_end = if b >= i + d { b + delta } else { i + s };
        let from = i.clamp(a, b);
        let to = (i + d).clamp(a, b);
        let local = Splice {
            index: (from - a) as u32,
            delete: (to - from) as u32,
            insert: if i >= a {
                splice.insert.clone()
            } else {
                String::new()
            },
        };
        self.start = new_start as u32;
        self.end = new_end.max(new_start) as u32;
        WindowChange::Inside(local)
    }

    /// The person's splice of the window's text (window offsets): the same splice of the page.
    /// A splice reaching past the window's end is cut at it: the editor holds nothing beyond.
    pub fn local(&mut self, splice: &Splice) -> Splice {
        let len = self.len();
        let index = splice.index.min(len);
        let delete = splice.delete.min(len - index);
        self.end = self.end - delete + utf16_len(&splice.insert);
        Splice {
            index: self.start + index,
            delete,
            insert: splice.insert.clone(),
        }
    }

    /// Moves the window to `to` (the page must hold it). The editor's selection, in the old
    /// window's offsets, in the new one's (clamped into it: a selection the new window does not
    /// hold ends at its nearest edge).
    pub fn move_to(&mut self, to: Range<u32>, selection: (u32, u32)) -> (u32, u32) {
        let page = (self.to_page(selection.0), self.to_page(selection.1));
        *self = TextWindow::new(to);
        (self.to_local(page.0), self.to_local(page.1))
    }
}

/// How many lines a window holds around the viewport, and when it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPolicy {
    /// Lines kept above and below the visible ones.
    pub margin: usize,
    /// The window moves once fewer than this many lines are left beyond the visible ones on
    /// either side (and there are more in the page).
    pub slack: usize,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        // A few screens either way: a fling of the scroll wheel stays inside the window for a
        // frame or two, and the window's text stays a few hundred lines (tens of KiB).
        WindowPolicy {
            margin: 300,
            slack: 100,
        }
    }
}

impl WindowPolicy {
    /// The lines to show when lines `visible` (page line numbers) are on screen: the visible
    /// ones and `margin` either side, within the page's `line_count` lines.
    pub fn lines(&self, visible: Range<usize>, line_count: usize) -> Range<usize> {
        let first = visible.start.saturating_sub(self.margin).min(line_count);
        let last = visible
            .end
            .max(visible.start)
            .saturating_add(self.margin)
            .min(line_count);
        first..last.max(first)
    }

    /// Whether a window of `shown` lines holds far more than this policy keeps around
    /// `rows_on_screen` (what a big paste into it leaves).
    pub fn oversized(&self, shown: usize, rows_on_screen: usize) -> bool {
        shown > rows_on_screen + 4 * self.margin
    }

    /// Whether a window holding lines `shown` should move for `visible` on screen.
    pub fn should_move(
        &self,
        shown: Range<usize>,
        visible: Range<usize>,
        line_count: usize,
    ) -> bool {
        let room_above = visible.start.saturating_sub(shown.start);
        let room_below = shown.end.saturating_sub(visible.end);
        let more_above = shown.start > 0;
        let more_below = shown.end < line_count;
        visible.start < shown.start
            || visible.end > shown.end
            || (more_above && room_above < self.slack)
            || (more_below && room_below < self.slack)
    }
}

/// From this many UTF-16 units a page is shown without wrapping its lines (`wrap="off"`).
///
/// Why: laying out a textarea's text is what a late joiner of a big page waits for, and most of
/// it is breaking lines into wrapped rows. Measured with `tests/e2e/textarea_layout_bench.mjs`
/// (1 MiB, the app's styles, a loaded 2-core machine, medians of 5): 841 ms wrapped, 452 ms with
/// `white-space: pre`; `text-rendering: optimizeSpeed`, no kerning or ligatures, or a plain
/// monospace font did not help. A page this big is a log or a dump more than prose; normal pages
/// keep wrapping.
pub const NO_WRAP_FROM: usize = 512 * 1024;

/// Below this many units a page shown without wrapping wraps again: a page at the threshold
/// does not flip with every keystroke.
pub const WRAP_AGAIN_BELOW: usize = 384 * 1024;

/// Whether a page of `len` units is shown without wrapping, `unwrapped` being how it is shown now.
pub fn unwrapped(len: usize, unwrapped: bool) -> bool {
    len >= if unwrapped {
        WRAP_AGAIN_BELOW
    } else {
        NO_WRAP_FROM
    }
}

/// The page offsets of lines `lines` of `index`: from the start of the first to the start of
/// the line after the last (its `\n` included), or the page's end.
pub fn line_range(index: &LineIndex, lines: Range<usize>) -> Range<u32> {
    let count = index.line_count();
    let offset = |line: usize| {
        if line >= count {
            index.len()
        } else {
            index.offset(line, 0)
        }
    };
    let start = offset(lines.start);
    start..offset(lines.end).max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(index: u32, delete: u32, insert: &str) -> Splice {
        Splice {
            index,
            delete,
            insert: insert.to_string(),
        }
    }

    #[test]
    fn a_splice_above_shifts_the_window_below_leaves_it() {
        let mut w = TextWindow::new(10..20);
        assert_eq!(
            w.remote(&splice(2, 3, "ab")),
            WindowChange::Outside { shift: -1 }
        );
        assert_eq!(w.range(), 9..19);
        assert_eq!(
            w.remote(&splice(25, 1, "x")),
            WindowChange::Outside { shift: 0 }
        );
        assert_eq!(w.range(), 9..19);
    }

    #[test]
    fn a_splice_across_the_start_leaves_its_insert_above() {
        let mut w = TextWindow::new(10..20);
        assert_eq!(
            w.remote(&splice(8, 4, "xyz")),
            WindowChange::Inside(splice(0, 2, ""))
        );
        assert_eq!(w.range(), 11..19);
    }

    #[test]
    fn typing_at_the_window_end_grows_it() {
        let mut w = TextWindow::new(10..20);
        assert_eq!(w.local(&splice(10, 0, "ab")), splice(20, 0, "ab"));
        assert_eq!(w.range(), 10..22);
        assert_eq!(
            w.remote(&splice(22, 0, "c")),
            WindowChange::Inside(splice(12, 0, "c"))
        );
        assert_eq!(w.range(), 10..23);
    }

    #[test]
    fn a_local_splice_past_the_end_is_cut() {
        let mut w = TextWindow::new(10..20);
        assert_eq!(w.local(&splice(8, 5, "")), splice(18, 2, ""));
        assert_eq!(w.range(), 10..18);
    }

    #[test]
    fn policy_moves_near_the_edges_only() {
        let p = WindowPolicy {
            margin: 10,
            slack: 4,
        };
        assert_eq!(p.lines(20..30, 1000), 10..40);
        assert_eq!(p.lines(0..30, 25), 0..25);
        assert!(!p.should_move(10..40, 20..30, 1000));
        assert!(p.should_move(10..40, 13..23, 1000));
        assert!(!p.should_move(0..40, 0..30, 1000), "nothing above to show");
        assert!(p.should_move(10..40, 50..60, 1000), "jumped out of it");
    }

    #[test]
    fn big_pages_unwrap_with_hysteresis() {
        assert!(!unwrapped(NO_WRAP_FROM - 1, false));
        assert!(unwrapped(NO_WRAP_FROM, false));
        assert!(unwrapped(WRAP_AGAIN_BELOW, true));
        assert!(!unwrapped(WRAP_AGAIN_BELOW - 1, true));
        assert!(!unwrapped(1000, false));
    }

    #[test]
    fn line_range_is_line_aligned() {
        let index = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(line_range(&index, 1..3), 3..7);
        assert_eq!(line_range(&index, 2..9), 6..9);
        assert_eq!(line_range(&index, 0..0), 0..0);
    }
}
