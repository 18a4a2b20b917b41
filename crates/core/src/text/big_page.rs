//! A big page as the windowed editor holds it: the whole text, its lines, and the window of it
//! the `<textarea>` shows ([`TextWindow`]), with the rows above and below the window.
//!
//! Big pages are shown without wrapping ([`super::window::unwrapped`]), so one line is one row
//! and a row's place is its line number times the line height: exact, with no layout of what
//! the window does not hold (when the window moves, the scroll position moves by the rows that
//! went or came above it). The shell only carries out what this says (set the value, the scroll
//! position, the selection).

use std::ops::Range;

use crate::text::diff::Splice;
use crate::text::editor::EditorText;
use crate::text::lines::LineIndex;
use crate::text::window::{line_range, TextWindow, WindowChange, WindowPolicy};

/// A page this long (UTF-16 units) or longer is shown windowed: the same threshold as for not
/// wrapping, as the window's arithmetic needs one row per line.
pub const WINDOW_FROM: usize = super::window::NO_WRAP_FROM;

/// Whether a page of `len` units is shown windowed, `windowed` being how it is shown now.
pub fn windowed(len: usize, windowed: bool) -> bool {
    super::window::unwrapped(len, windowed)
}

/// The page's rows the textarea does not hold: above its first row and below its last.
/// (Spacers of these heights would let the scrollbar stand for the whole page: not done yet.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    pub above: usize,
    pub below: usize,
}

/// The window moved: the textarea's new value, and its selection in the new window's offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub text: String,
    pub selection: (u32, u32),
}

#[derive(Debug, Clone)]
pub struct BigPage {
    text: EditorText,
    lines: LineIndex,
    window: TextWindow,
    policy: WindowPolicy,
}

impl BigPage {
    /// `text`, with a window around rows `visible`.
    pub fn new(text: &str, visible: Range<usize>, policy: WindowPolicy) -> Self {
        let lines = LineIndex::new(text);
        let shown = policy.lines(visible, lines.line_count());
        BigPage {
            text: EditorText::new(text),
            window: TextWindow::new(line_range(&lines, shown)),
            lines,
            policy,
        }
    }

    pub fn window(&self) -> &TextWindow {
        &self.window
    }

    /// The page's length in UTF-16 units.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn line_count(&self) -> usize {
        self.lines.line_count()
    }

    /// The whole page (a test's or an export's; never per keystroke).
    pub fn text(&self) -> String {
        self.text.text()
    }

    /// What the textarea holds.
    pub fn window_text(&self) -> String {
        let range = self.window.range();
        self.text.slice(range.start as usize..range.end as usize)
    }

    /// The row (line) of a page offset.
    pub fn row_of(&self, offset: u32) -> usize {
        self.lines.locate(offset).line
    }

    /// The rows outside the window: the lines before its first row and after its last (the window's edges may fall inside a line after others' splices: that
    /// line's row is the window's).
    pub fn rows(&self) -> Rows {
        let range = self.window.range();
        Rows {
            above: self.row_of(range.start),
            below: self.line_count() - 1 - self.row_of(range.end),
        }
    }

    /// The person's splice in the textarea (window offsets): the page's splice.
    pub fn local(&mut self, splice: &Splice) -> Splice {
        let page = self.window.local(splice);
        self.apply_page(&page);
        page
    }

    /// After the person's input: a window grown far past what the policy keeps (a big paste
    /// lands whole in the textarea, which then lays all of it out) moves around the row of the
    /// caret `head` (a page offset), `rows_on_screen` rows high; `None`: it stays.
    /// `selection` is the textarea's, in the window's offsets.
    pub fn fit_input(
        &mut self,
        head: u32,
        rows_on_screen: usize,
        selection: (u32, u32),
    ) -> Option<Moved> {
        let range = self.window.range();
        let shown = self.row_of(range.end) - self.row_of(range.start) + 1;
        if !self.policy.oversized(shown, rows_on_screen) {
            return None;
        }
        let top = self.row_of(head).saturating_sub(rows_on_screen / 2);
        Some(self.move_to(top..top + rows_on_screen, selection))
    }

    /// Someone else's splice of the page: what changes in the textarea.
    pub fn remote(&mut self, splice: &Splice) -> WindowChange {
        let change = self.window.remote(splice);
        self.apply_page(splice);
        change
    }

    fn apply_page(&mut self, splice: &Splice) {
        self.text.apply(splice);
        self.lines
            .splice(splice.index, splice.delete, &splice.insert, &mut ());
    }

    /// Rows `visible` are on screen: the window moves if they come near its edges (`None`:
    /// it stays). `selection` is the textarea's, in the window's offsets.
    pub fn scrolled(&mut self, visible: Range<usize>, selection: (u32, u32)) -> Option<Moved> {
        let range = self.window.range();
        let shown = self.row_of(range.start)..self.row_of(range.end) + 1;
        let count = self.line_count();
        if !self.policy.should_move(shown, visible.clone(), count) {
            return None;
        }
        Some(self.move_to(visible, selection))
    }

    /// Moves the window around rows `visible` whatever it holds now (a search hit opened, the
    /// page reloaded).
    pub fn move_to(&mut self, visible: Range<usize>, selection: (u32, u32)) -> Moved {
        let to = line_range(&self.lines, self.policy.lines(visible, self.line_count()));
        let selection = self.window.move_to(to, selection);
        Moved {
            text: self.window_text(),
            selection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lines: usize) -> String {
        (0..lines).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn the_window_and_its_rows_cover_the_page() {
        let policy = WindowPolicy {
            margin: 10,
            slack: 3,
        };
        let mut big = BigPage::new(&page(1000), 500..520, policy);
        assert_eq!(big.window_text(), page(530)[page(490).len()..]);
        assert_eq!(
            big.rows(),
            Rows {
                above: 490,
                below: 1000 - 530
            }
        );
        assert_eq!(big.scrolled(502..522, (0, 0)), None);
        let moved = big.scrolled(515..535, (0, 3)).expect("near the edge");
        assert_eq!(
            big.rows(),
            Rows {
                above: 505,
                below: 1000 - 545
            }
        );
        // The selection was on line 490's first characters: above the new window, at its start.
        assert_eq!(moved.selection, (0, 0));
        assert!(moved.text.starts_with("line 505\n"));
    }

    #[test]
    fn a_big_paste_into_the_window_leaves_a_window_around_the_caret() {
        let policy = WindowPolicy {
            margin: 10,
            slack: 3,
        };
        let mut big = BigPage::new(&page(1000), 500..520, policy);
        assert_eq!(
            big.fit_input(0, 20, (0, 0)),
            None,
            "a window of its size stays"
        );
        // 500 lines pasted at the window's start.
        let start = big.window().start();
        let pasted = page(500);
        big.local(&Splice {
            index: 0,
            delete: 0,
            insert: pasted.clone(),
        });
        let caret = start + pasted.len() as u32;
        let moved = big
            .fit_input(caret, 20, (pasted.len() as u32, pasted.len() as u32))
            .expect("the paste made the window far too big");
        let rows = big.rows();
        assert!(moved.text.lines().count() <= 20 + 2 * 10 + 1);
        assert_eq!(big.window_text(), moved.text);
        assert!(
            rows.above <= big.row_of(caret) && big.row_of(caret) < big.line_count() - rows.below
        );
        let (a, b) = moved.selection;
        assert_eq!(
            (a, b),
            (caret - big.window().start(), caret - big.window().start()),
            "the caret stays on its character"
        );
        assert_eq!(big.text().len(), page(1000).len() + pasted.len());
        assert_eq!(big.fit_input(caret, 20, moved.selection), None);
    }
}
