//! The open page's editor: a `<textarea>` the session writes peers' changes into directly, with
//! peers' carets over it and a markdown preview beside it.
//!
//! Per keystroke the work is proportional to the change, not the page: the splice comes from
//! the selection before the edit and the caret after it ([`EditorText::simple_input`] reads
//! back only the inserted text and a few units around it), peers'
//! splices go in with `setRangeText`, and the caret layer re-lays-out only the lines touched.
//! Whole-page work (diffing an unusual edit, rendering the preview) is the exception or waits
//! until typing pauses.

use std::cell::Cell;

use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::{EditorText, SimpleEdit};
use commonplace_core::text::window;
use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlElement, HtmlTextAreaElement, InputEvent, KeyboardEvent};

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
}

pub struct Editor {
    pub element: HtmlTextAreaElement,
    text: EditorText,
    carets: CaretLayer,
    /// The selection when the current edit began, if it is a simple one.
    before: std::rc::Rc<Cell<Option<(u32, u32)>>>,
    /// Whether the page is shown without wrapping (`window::unwrapped`: a big page).
    unwrapped: bool,
    _listeners: Vec<EventListener>,
}

impl Editor {
    pub fn new(
        element: HtmlTextAreaElement,
        overlay: HtmlElement,
        on_event: impl Fn(EditorEvent) + Clone + 'static,
    ) -> Editor {
        let before = std::rc::Rc::new(Cell::new(None));
        let active = EventListenerOptions::enable_prevent_default();
        let on_before = {
            let (element, before, on_event) = (element.clone(), before.clone(), on_event.clone());
            EventListener::new_with_options(&element.clone(), "beforeinput", active, move |e| {
                let Some(e) = e.dyn_ref::<InputEvent>() else {
                    return;
                };
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
                if !(e.ctrl_key() || e.meta_key()) || e.alt_key() {
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
        let on_input = EventListener::new(&element, "input", move |_| on_event(EditorEvent::Input));
        Editor {
            element,
            text: EditorText::default(),
            carets,
            before,
            unwrapped: false,
            _listeners: vec![on_before, on_keydown, on_select, on_input],
        }
    }

    /// Shows another page's text (or the same page afresh).
    pub fn show(&mut self, text: &str) {
        self.fit_wrap(text.encode_utf16().count());
        self.element.set_value(text);
        self.element.set_selection_range(0, 0).ok();
        self.text = EditorText::new(text);
        self.carets.reset(text);
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
        self.fit_wrap(self.text.len());
        Some(splice)
    }

    /// Applies others' splices in place: the browser keeps the caret and selection where they
    /// belong ("preserve"), or puts the caret after the change (`select_end`: undo and redo).
    pub fn apply(&mut self, splices: &[Splice], select_end: bool) {
        let mode = if select_end { "end" } else { "preserve" };
        // Before the text goes in: the browser lays it out once, the way it will stay.
        let len = splices.iter().fold(self.text.len() as i64, |len, s| {
            len - i64::from(s.delete) + s.insert.encode_utf16().count() as i64
        });
        self.fit_wrap(len.max(0) as usize);
        for splice in splices {
            let (start, end) = (splice.index, splice.index + splice.delete);
            let _ = self.element.set_range_text_with_start_and_end_and_mode(
                &splice.insert,
                start,
                end,
                mode,
            );
            self.text.apply(splice);
            self.carets
                .splice(splice.index, splice.delete, &splice.insert);
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
        self.text.is_empty()
    }

    pub fn selection(&self) -> Option<(u32, u32)> {
        anchor_head(&self.element)
    }

    pub fn set_carets(&self, carets: Vec<Caret>) {
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
