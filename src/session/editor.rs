//! The open page's editor: a `<textarea>` the session writes peers' changes into directly, with
//! peers' carets over it and a markdown preview beside it.
//!
//! Per keystroke the work is proportional to the change, not the page: the splice comes from
//! the selection before the edit and the caret after it ([`EditorText::simple_input`] reads
//! back only the inserted text and a few units around it), peers'
//! small splices go in as the browser's own editing (`insertText`, see [`Editor::edit_in_place`]),
//! and the caret layer re-lays-out only the lines touched.
//! Whole-page work (diffing an unusual edit, rendering the preview) is the exception or waits
//! until typing pauses.
//!
//! A big page (`text::big_page`) is not wrapped and the textarea holds only a window of it
//! (`super::windowed`): offsets going in and out (input, the selection, others' splices and
//! carets) are mapped by the window's start, and scrolling near its edge moves it.

use std::cell::Cell;

use commonplace_core::text::big_page;
use commonplace_core::text::diff::{self, Splice};
use commonplace_core::text::editor::{self, EditorText, SimpleEdit};
use commonplace_core::text::utf16;
use commonplace_core::text::window::{self, WindowChange};
use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlDocument, HtmlElement, HtmlTextAreaElement, InputEvent, KeyboardEvent};

use super::windowed::{scroll_top, set_scroll_top, Windowed};
use crate::caret_layer::{Caret, CaretLayer};

/// Input types whose edit is fully described by the selection before and the caret after.
const SIMPLE_INPUTS: &[&str] = &[
    "insertText",
    "insertLineBreak",
    "insertParagraph",
    "insertFromPaste",
    "insertFromYank",
    "deleteContentBackward",
    "deleteContentForward",
    "deleteWordBackward",
    "deleteWordForward",
    "deleteSoftLineBackward",
    "deleteSoftLineForward",
    "deleteHardLineBackward",
    "deleteHardLineForward",
    "deleteByCut",
];

/// What the person asked of the editor.
pub enum EditorEvent {
    /// The person changed the text: [`Editor::take_input`] says how.
    Input,
    Undo,
    Redo,
    /// The selection moved.
    Selection,
    /// The textarea scrolled (a big page's window may move).
    Scroll,
    /// A key without Ctrl or Meta, before the textarea acts on it (the link suggestions may
    /// take it: they prevent its default).
    Key(KeyboardEvent),
    /// The textarea lost focus.
    Blur,
}

pub struct Editor {
    pub element: HtmlTextAreaElement,
    text: EditorText,
    carets: CaretLayer,
    /// The selection when the current edit began, if it is a simple one.
    before: std::rc::Rc<Cell<Option<(u32, u32)>>>,
    /// Whether the page is shown without wrapping (`window::unwrapped`: a big page).
    unwrapped: bool,
    /// A big page: the textarea holds only a window of it (`text` mirrors that window).
    big: Option<Windowed>,
    /// Others' change is being written by the browser's editing: its input events are not the
    /// person's.
    writing: std::rc::Rc<Cell<bool>>,
    /// An input method is composing text (others' changes then go in with `setRangeText`).
    composing: std::rc::Rc<Cell<bool>>,
    _listeners: Vec<EventListener>,
}

impl Editor {
    pub fn new(
        element: HtmlTextAreaElement,
        overlay: HtmlElement,
        on_event: impl Fn(EditorEvent) + Clone + 'static,
    ) -> Editor {
        let before = std::rc::Rc::new(Cell::new(None));
        let writing = std::rc::Rc::new(Cell::new(false));
        let composing = std::rc::Rc::new(Cell::new(false));
        let active = EventListenerOptions::enable_prevent_default();
        let on_before = {
            let (element, before, on_event) = (element.clone(), before.clone(), on_event.clone());
            let writing = writing.clone();
            EventListener::new_with_options(&element.clone(), "beforeinput", active, move |e| {
                let Some(e) = e.dyn_ref::<InputEvent>() else {
                    return;
                };
                if writing.get() {
                    return;
                }
                let kind = e.input_type();
                match kind.as_str() {
                    // The browser's own history knows nothing of peers: ours replaces it.
                    "historyUndo" | "historyRedo" => {
                        e.prevent_default();
                        on_event(if kind == "historyUndo" {
                            EditorEvent::Undo
                        } else {
                            EditorEvent::Redo
                        });
                    }
                    _ if SIMPLE_INPUTS.contains(&kind.as_str()) => {
                        before.set(selection(&element));
                    }
                    _ => before.set(None),
                }
            })
        };
        let on_keydown = {
            let on_event = on_event.clone();
            EventListener::new_with_options(&element, "keydown", active, move |e| {
                let Some(e) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                if !(e.ctrl_key() || e.meta_key()) {
                    return on_event(EditorEvent::Key(e.clone()));
                }
                if e.alt_key() {
                    return;
                }
                let key = e.key().to_lowercase();
                let event = match (key.as_str(), e.shift_key()) {
                    ("z", false) => EditorEvent::Undo,
                    ("z", true) | ("y", false) => EditorEvent::Redo,
                    _ => return,
                };
                e.prevent_default();
                on_event(event);
            })
        };
        let on_select = {
            let (element, on_event) = (element.clone(), on_event.clone());
            let document = gloo::utils::document();
            EventListener::new(&document, "selectionchange", move |_| {
                let focused = gloo::utils::document().active_element();
                if focused.as_ref() == Some(element.unchecked_ref()) {
                    on_event(EditorEvent::Selection);
                }
            })
        };
        let carets = CaretLayer::new(element.clone(), overlay);
        let on_scroll = {
            let on_event = on_event.clone();
            EventListener::new(&element, "scroll", move |_| on_event(EditorEvent::Scroll))
        };
        let on_blur = {
            let on_event = on_event.clone();
            EventListener::new(&element, "blur", move |_| on_event(EditorEvent::Blur))
        };
        let on_input = {
            let writing = writing.clone();
            EventListener::new(&element, "input", move |_| {
                if !writing.get() {
                    on_event(EditorEvent::Input);
                }
            })
        };
        let on_composition = ["compositionstart", "compositionend"].map(|name| {
            let composing = composing.clone();
            EventListener::new(&element, name, move |_| {
                composing.set(name == "compositionstart");
            })
        });
        let [on_compose_start, on_compose_end] = on_composition;
        Editor {
            element,
            text: EditorText::default(),
            carets,
            before,
            unwrapped: false,
            big: None,
            writing,
            composing,
            _listeners: vec![
                on_before,
                on_keydown,
                on_select,
                on_scroll,
                on_blur,
                on_input,
                on_compose_start,
                on_compose_end,
            ],
        }
    }

    /// Shows another page's text (or the same page afresh).
    pub fn show(&mut self, text: &str) {
        let len = utf16::len(text);
        self.fit_wrap(len);
        if big_page::windowed(len, false) {
            return self.enter_big(text, (0, 0), Some(0.0));
        }
        self.leave_big();
        self.set_text(text);
        self.element.set_selection_range(0, 0).ok();
    }

    /// The textarea holds `value` now (a page, or a big page's window), and so do the editor's
    /// mirror of it and the caret layer's.
    fn set_text(&mut self, value: &str) {
        self.element.set_value(value);
        self.text = EditorText::new(value);
        self.carets.reset(value);
    }

    /// Writes one splice (textarea offsets) into the textarea, the mirror and the caret layer.
    fn write_splice(&mut self, splice: &Splice, mode: &str) {
        let (start, end) = (splice.index, splice.index + splice.delete);
        if splice.delete == 0 && splice.insert.is_empty() {
            // Nothing to write (and `delete` on a collapsed selection would take a character).
            return;
        }
        let expected =
            self.text.len() as i64 - i64::from(splice.delete) + utf16::len(&splice.insert) as i64;
        if !self.edit_in_place(splice, mode) {
            let _ = self.element.set_range_text_with_start_and_end_and_mode(
                &splice.insert,
                start,
                end,
                mode,
            );
        }
        self.text.apply(splice);
        if i64::from(self.element.text_length()) != expected {
            // The browser wrote something else (it never should): show the text as it is.
            self.element.set_value(&self.text.text());
        }
        self.carets
            .splice(splice.index, splice.delete, &splice.insert);
    }

    /// Writes `splice` as the browser's own editing does (`insertText` over a selection of the
    /// replaced units): the browser then lays out again from the changed line on, where
    /// `setRangeText` replaces the whole value and lays all of it out again (some 60 ms a
    /// keystroke of someone else's in a 100 kB page, on a busy machine). Editing acts on the
    /// focused selection, so only in the focused textarea, and not while an input method
    /// composes, and only a small insertion (`editor::fits_in_place`: a paste inserted this way
    /// takes seconds to minutes); the selection (as `setRangeText` with `mode` leaves it) and
    /// the scroll position (editing scrolls to the change) are put back. `false` if it was not
    /// written.
    fn edit_in_place(&self, splice: &Splice, mode: &str) -> bool {
        let document = gloo::utils::document();
        let focused = document.active_element();
        if !editor::fits_in_place(splice)
            || focused.as_ref() != Some(self.element.unchecked_ref())
            || self.composing.get()
        {
            return false;
        }
        let Ok(document) = document.dyn_into::<HtmlDocument>() else {
            return false;
        };
        let Some((anchor, head)) = anchor_head(&self.element) else {
            return false;
        };
        let element: &web_sys::Element = &self.element;
        let (top, left) = (element.scroll_top(), element.scroll_left());
        let end = splice.index + splice.delete;
        if self.element.set_selection_range(splice.index, end).is_err() {
            return false;
        }
        self.writing.set(true);
        let done = if splice.insert.is_empty() {
            document.exec_command("delete")
        } else {
            document.exec_command_with_show_ui_and_value("insertText", false, &splice.insert)
        };
        self.writing.set(false);
        let done = done == Ok(true);
        let to_end = mode == "end";
        // Not written: the selection as it was, for `setRangeText` to move.
        let (anchor, head) = if done {
            (
                diff::selection_after(splice, anchor, anchor > head, to_end),
                diff::selection_after(splice, head, head >= anchor, to_end),
            )
        } else {
            (anchor, head)
        };
        let direction = if head < anchor { "backward" } else { "forward" };
        let _ = self.element.set_selection_range_with_direction(
            anchor.min(head),
            anchor.max(head),
            direction,
        );
        element.set_scroll_top(top);
        element.set_scroll_left(left);
        done
    }

    /// Shows the big page `text` windowed around `selection` (page offsets), scrolled to
    /// `scroll` (or to the selection).
    fn enter_big(&mut self, text: &str, selection: (u32, u32), scroll: Option<f64>) {
        let big = Windowed::new(&self.element, text, selection.1);
        let scroll = scroll.unwrap_or_else(|| big.scroll_for(&self.element, selection.1));
        let window = *big.page.window();
        let local = (window.to_local(selection.0), window.to_local(selection.1));
        let value = big.page.window_text();
        self.big = Some(big);
        self.paint(&value, local, scroll);
        // The view may be elsewhere than the selection: the window follows the view.
        self.scrolled();
    }

    /// The textarea shows the big page's window `value` (just moved), with `selection` (anchor
    /// and head, window offsets), scrolled to `scroll`.
    fn paint(&mut self, value: &str, selection: (u32, u32), scroll: f64) {
        self.set_text(value);
        if let Some(big) = &self.big {
            big.mark_length(&self.element);
        }
        let (anchor, head) = selection;
        let direction = if head < anchor { "backward" } else { "forward" };
        let _ = self.element.set_selection_range_with_direction(
            anchor.min(head),
            anchor.max(head),
            direction,
        );
        set_scroll_top(&self.element, scroll);
    }

    /// A big page became small: the textarea holds all of it again.
    fn leave_big(&mut self) {
        if self.big.take().is_some() {
            Windowed::leave(&self.element);
            self.carets.restyle();
        }
    }

    /// The page crossed the threshold either way (by the person's input or others'): shown
    /// windowed or whole from now on, the selection kept.
    fn fit_window(&mut self) {
        let len = self.page_len();
        let windowed = big_page::windowed(len, self.big.is_some());
        if windowed == self.big.is_some() {
            return;
        }
        let selection = self.selection().unwrap_or((0, 0));
        if windowed {
            let text = self.text.text();
            self.enter_big(&text, selection, None);
        } else if let Some(big) = self.big.take() {
            let text = big.page.text();
            Windowed::leave(&self.element);
            self.set_text(&text);
            self.carets.restyle();
            let (anchor, head) = selection;
            let _ = self
                .element
                .set_selection_range(anchor.min(head), anchor.max(head));
        }
    }

    fn page_len(&self) -> usize {
        self.big
            .as_ref()
            .map_or_else(|| self.text.len(), |big| big.page.len())
    }

    /// A big paste into a big page's window: the window holds the lines around the caret again
    /// (`true`: it moved).
    fn fit_input(&mut self) -> bool {
        let Some(big) = &mut self.big else {
            return false;
        };
        let selection = anchor_head(&self.element).unwrap_or((0, 0));
        let Some((moved, scroll)) = big.fit_input(&self.element, selection) else {
            return false;
        };
        self.paint(&moved.text, moved.selection, scroll);
        true
    }

    /// The textarea scrolled: a big page's window moves if the view came near its edges
    /// (`true`: it moved, others' carets need drawing again).
    pub fn scrolled(&mut self) -> bool {
        let Some(big) = &mut self.big else {
            return false;
        };
        let visible = big.visible(&self.element);
        let selection = anchor_head(&self.element).unwrap_or((0, 0));
        let before = big.page.rows();
        if let Some(moved) = big.page.scrolled(visible, selection) {
            // The rows that went or came above the window move the view by as much.
            let scroll = scroll_top(&self.element) + big.shift(before);
            self.paint(&moved.text, moved.selection, scroll);
            return true;
        }
        false
    }

    /// Selects page offsets `from..to` (a search hit), bringing them into view.
    pub fn select(&mut self, from: u32, to: u32) {
        let Some(big) = &mut self.big else {
            let _ = self.element.set_selection_range(from, to);
            return;
        };
        let row = big.page.row_of(from);
        big.page.move_to(row..row + 1, (0, 0));
        let scroll = big.scroll_for(&self.element, from);
        let window = *big.page.window();
        let value = big.page.window_text();
        self.paint(&value, (window.to_local(from), window.to_local(to)), scroll);
    }

    /// The element's value changed by the person's input: the splice they made, if any.
    pub fn take_input(&mut self) -> Option<Splice> {
        let len = self.element.text_length();
        let caret = self.element.selection_end().ok().flatten();
        let simple = match (self.before.take(), caret) {
            (Some(selection), Some(caret)) => {
                let edit = SimpleEdit {
                    selection,
                    caret,
                    len,
                };
                let element = &self.element;
                self.text
                    .simple_input(edit, |from, to| slice(element, from, to))
                    .ok()
            }
            _ => None,
        };
        let splice = match simple {
            Some(splice) => splice,
            None => self.text.input(&self.element.value(), caret),
        }?;
        self.carets
            .splice(splice.index, splice.delete, &splice.insert);
        let lines_changed = splice.insert.contains('\n') || splice.delete > 0;
        let splice = match &mut self.big {
            Some(big) => {
                let page = big.page.local(&splice);
                big.mark_length(&self.element);
                page
            }
            None => splice,
        };
        self.fit_wrap(self.page_len());
        self.fit_window();
        if lines_changed && !self.fit_input() {
            // The window may hold too few lines for the view now (a big cut).
            self.scrolled();
        }
        Some(splice)
    }

    /// Where page offset `offset` stands in the editor, relative to the caret overlay: x and the
    /// bottom of its row; `None` if it is not in the textarea's window or out of view.
    pub fn point_below(&self, offset: u32) -> Option<(f64, f64)> {
        let local = match &self.big {
            Some(big) => {
                let window = big.page.window();
                window.contains(offset).then(|| window.to_local(offset))?
            }
            None => offset,
        };
        self.carets.point_below(local)
    }

    /// The text just before the caret (at most `before` units, and only what the textarea holds)
    /// and just after it (at most `after` units), with the caret's page offset; `None` when
    /// text is selected.
    pub fn around_caret(&self, before: u32, after: u32) -> Option<(String, u32, String)> {
        let (start, end) = selection(&self.element)?;
        if start != end {
            return None;
        }
        let len = self.element.text_length();
        let text_before = slice(&self.element, start.saturating_sub(before), start);
        let text_after = match after {
            0 => String::new(),
            _ => slice(&self.element, start, start.saturating_add(after).min(len)),
        };
        let caret = match &self.big {
            Some(big) => big.page.window().to_page(start),
            None => start,
        };
        Some((text_before, caret, text_after))
    }

    /// Writes a splice of this person's that the app made (a completed link) as others' are
    /// written, and puts the caret at `caret` (page offsets). The room is told by the caller.
    pub fn insert(&mut self, splice: &Splice, caret: u32) {
        self.apply(std::slice::from_ref(splice), true);
        let caret = match &self.big {
            Some(big) => big.page.window().to_local(caret),
            None => caret,
        };
        let _ = self.element.set_selection_range(caret, caret);
    }

    /// Applies others' splices in place: the browser keeps the caret and selection where they
    /// belong ("preserve"), or puts the caret after the change (`select_end`: undo and redo).
    pub fn apply(&mut self, splices: &[Splice], select_end: bool) {
        let mode = if select_end { "end" } else { "preserve" };
        // Before the text goes in: the browser lays it out once, the way it will stay.
        let len = splices.iter().fold(self.page_len() as i64, |len, s| {
            len - i64::from(s.delete) + utf16::len(&s.insert) as i64
        });
        let len = len.max(0) as usize;
        self.fit_wrap(len);
        if self.big.is_none() && big_page::windowed(len, false) {
            // A late joiner's whole page, or a big paste: laid out only as a window.
            let selection = self.selection().unwrap_or((0, 0));
            let scroll = Some(scroll_top(&self.element));
            if let ([splice], true) = (splices, self.text.is_empty()) {
                // A late joiner's page, in one splice: the text as it came (no copies).
                return self.enter_big(&splice.insert, selection, scroll);
            }
            let mut text = self.text.clone();
            for splice in splices {
                text.apply(splice);
            }
            return self.enter_big(&text.text(), selection, scroll);
        }
        if self.big.is_some() {
            self.apply_big(splices, mode);
            return self.fit_window();
        }
        for splice in splices {
            self.write_splice(splice, mode);
        }
    }

    /// Others' splices of a big page: those inside the window go into the textarea, those above
    /// or below it change nothing the textarea holds (the window's start shifts).
    fn apply_big(&mut self, splices: &[Splice], mode: &str) {
        let Some(big) = &mut self.big else {
            return;
        };
        let before = big.page.rows();
        // The window follows each splice in turn; what falls inside it, in the window's
        // offsets of that moment, goes into the textarea in the same order.
        let inside: Vec<Splice> = splices
            .iter()
            .filter_map(|splice| match big.page.remote(splice) {
                WindowChange::Inside(local) => Some(local),
                _ => None,
            })
            .collect();
        let moved_rows = big.page.rows() != before;
        for local in &inside {
            self.write_splice(local, mode);
        }
        if let Some(big) = &self.big {
            big.mark_length(&self.element);
        }
        if moved_rows {
            // Others may have cut the window's lines: it holds the view's again.
            self.scrolled();
        }
    }

    /// Shows a page of `len` units wrapped or not (`window::unwrapped`); the caret layer's
    /// mirror copies the textarea's styles again when that changes.
    fn fit_wrap(&mut self, len: usize) {
        let unwrapped = window::unwrapped(len, self.unwrapped);
        if unwrapped == self.unwrapped {
            return;
        }
        self.unwrapped = unwrapped;
        let _ = if unwrapped {
            self.element.set_attribute("wrap", "off")
        } else {
            self.element.remove_attribute("wrap")
        };
        self.carets.restyle();
    }

    pub fn is_empty(&self) -> bool {
        self.page_len() == 0
    }

    /// The selection as anchor and head, in page offsets.
    pub fn selection(&self) -> Option<(u32, u32)> {
        let (anchor, head) = anchor_head(&self.element)?;
        Some(match &self.big {
            Some(big) => {
                let window = big.page.window();
                (window.to_page(anchor), window.to_page(head))
            }
            None => (anchor, head),
        })
    }

    /// Others' carets (page offsets); in a big page only those in the window are drawn.
    pub fn set_carets(&self, carets: Vec<Caret>) {
        let carets = match &self.big {
            Some(big) => {
                let window = big.page.window();
                carets
                    .into_iter()
                    .filter(|c| window.contains(c.anchor) || window.contains(c.head))
                    .map(|c| Caret {
                        anchor: window.to_local(c.anchor),
                        head: window.to_local(c.head),
                        ..c
                    })
                    .collect()
            }
            None => carets,
        };
        self.carets.set_carets(carets);
    }
}

fn selection(element: &HtmlTextAreaElement) -> Option<(u32, u32)> {
    let start = element.selection_start().ok().flatten()?;
    let end = element.selection_end().ok().flatten()?;
    Some((start, end))
}

/// The selection as anchor and head: where it started and where the caret is.
fn anchor_head(element: &HtmlTextAreaElement) -> Option<(u32, u32)> {
    let (start, end) = selection(element)?;
    let backward = element.selection_direction().ok().flatten().as_deref() == Some("backward");
    Some(if backward { (end, start) } else { (start, end) })
}

/// `value.slice(from, to)` without copying the rest of the value out of JavaScript.
fn slice(element: &HtmlTextAreaElement, from: u32, to: u32) -> String {
    let value = js_sys::Reflect::get(element, &JsValue::from_str("value"))
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::JsString>().ok());
    value.map_or_else(String::new, |v| v.slice(from, to).into())
}
