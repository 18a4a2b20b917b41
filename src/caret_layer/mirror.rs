//! The hidden mirror's lines, kept in step with the textarea.
//!
//! Each line is a `<div>` holding `text<br>` (the `<br>` gives an empty line its height), and the
//! line divs sit in *chunk* divs of consecutive lines, each laid out apart (`contain: layout
//! style`): after a keystroke the browser re-lays-out that line, its chunk and the row of chunks,
//! so the cost stays flat as the page grows (a flat list of thousands of line divs made every
//! keystroke walk them all).
//!
//! The line structure (lengths, chunks, which line an offset is on) is the core's
//! [`LineIndex`]; a splice goes to the index, which tells this mirror each step it takes
//! ([`LineMirror`]), so the chunk divs are always the index's chunks and finding a line never
//! walks the lines.

use std::ops::Range;

use commonplace_core::text::lines::{LineIndex, LineMirror, Position, Slot};
use wasm_bindgen::{JsCast, JsValue, UnwrapThrowExt};
use web_sys::{Document, Element, HtmlElement, HtmlTextAreaElement, Text};

use super::dom::{new_div, set_styles};
use super::styles::{Metrics, Styling};

pub(super) struct Mirror {
    /// At the overlay's top left corner, hidden (and out of layout while nobody is drawn).
    element: HtmlElement,
    document: Document,
    index: LineIndex,
    /// The index's chunks, in order: the mirror's children.
    chunks: Vec<ChunkNodes>,
    styling: Styling,
    /// In layout (`display: block`).
    shown: bool,
    /// Chunks not yet in layout (see [`ChunkNodes::shown`]).
    hidden: usize,
}

/// A chunk div and its line divs.
struct ChunkNodes {
    div: HtmlElement,
    lines: Vec<LineNodes>,
    /// In layout. A chunk starts out of it (`display: none`) and is put in by
    /// [`Mirror::reveal`] a few at a time, so that laying out a large text is spread over frames
    /// (a whole 1 MB page at once was an 800 ms task: the person typing froze when a peer's
    /// caret first showed up).
    shown: bool,
}

struct LineNodes {
    div: HtmlElement,
    text: Text,
    br: Element,
}

/// One line of the mirror, as measuring reads it.
pub(super) struct Line<'a> {
    pub div: &'a HtmlElement,
    pub text: &'a Text,
    pub br: &'a Element,
    /// In UTF-16 units, without the `\n`.
    pub len: u32,
}

impl Mirror {
    pub(super) fn new(document: &Document) -> Mirror {
        let element = new_div(document, "remote-mirror");
        set_styles(
            &element.style(),
            &[
                ("position", "absolute"),
                ("left", "0"),
                ("top", "0"),
                ("margin", "0"),
                ("border", "0"),
                ("box-sizing", "content-box"),
                ("visibility", "hidden"),
                ("pointer-events", "none"),
                ("contain", "layout style"),
                ("display", "none"),
            ],
        );
        let mut mirror = Mirror {
            element,
            document: document.clone(),
            index: LineIndex::default(),
            chunks: Vec::new(),
            styling: Styling::new(),
            shown: false,
            hidden: 0,
        };
        mirror.reset("");
        mirror
    }

    pub(super) fn element(&self) -> &HtmlElement {
        &self.element
    }

    /// Starts over with `text`.
    pub(super) fn reset(&mut self, text: &str) {
        self.index = LineIndex::new(text);
        self.chunks.clear();
        self.element.set_text_content(None);
        let mut pieces = text.split('\n');
        self.hidden = self.index.chunk_count();
        for chunk in 0..self.index.chunk_count() {
            let mut nodes = ChunkNodes {
                div: new_chunk_div(&self.document),
                lines: Vec::with_capacity(self.index.chunk_len(chunk)),
                shown: false,
            };
            for piece in pieces.by_ref().take(self.index.chunk_len(chunk)) {
                let line = new_line(&self.document, piece);
                nodes.div.append_child(&line.div).unwrap_throw();
                nodes.lines.push(line);
            }
            self.element.append_child(&nodes.div).unwrap_throw();
            self.chunks.push(nodes);
        }
        // The first line's div is only ever replaced here: it carries the first line's indent.
        self.styling.restyle();
    }

    /// Rewrites only the lines the splice touches. `Err` if the DOM refused a step (then the
    /// mirror must be reset).
    pub(super) fn splice(&mut self, index: u32, delete: u32, insert: &str) -> Result<(), JsValue> {
        let mut steps = DomSteps {
            document: &self.document,
            element: &self.element,
            chunks: &mut self.chunks,
            hidden: &mut self.hidden,
            failed: None,
        };
        self.index.splice(index, delete, insert, &mut steps);
        match steps.failed {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The text's length in UTF-16 units, line breaks included.
    pub(super) fn len(&self) -> u32 {
        self.index.len()
    }

    pub(super) fn line_count(&self) -> usize {
        self.index.line_count()
    }

    /// The line and column of `offset` (clamped to the text).
    pub(super) fn locate(&self, offset: u32) -> Position {
        self.index.locate(offset)
    }

    /// Line `line` (the last for lines past it).
    pub(super) fn line(&self, line: usize) -> Line<'_> {
        self.line_at(self.index.slot(line))
    }

    /// The line kept at `slot` (as [`Mirror::locate`] gives it).
    pub(super) fn line_at(&self, slot: Slot) -> Line<'_> {
        let nodes = &self.chunks[slot.chunk].lines[slot.index];
        Line {
            div: &nodes.div,
            text: &nodes.text,
            br: &nodes.br,
            len: self.index.line_len(slot),
        }
    }

    /// The first line for which `is_before` is false, where it is true for the lines above some
    /// line and false from there on (a binary search: a few lines read, whatever the page).
    pub(super) fn partition_point(&self, is_before: impl Fn(&HtmlElement) -> bool) -> usize {
        let (mut low, mut high) = (0, self.line_count());
        while low < high {
            let middle = low + (high - low) / 2;
            if is_before(self.line(middle).div) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The textarea may have changed its styles: copy them again before the next drawing.
    pub(super) fn restyle(&mut self) {
        self.styling.restyle();
    }

    /// Puts the mirror in layout, laid out as `textarea` (styles copied again if they may have
    /// changed).
    pub(super) fn show(&mut self, textarea: &HtmlTextAreaElement) {
        if !std::mem::replace(&mut self.shown, true) {
            let _ = self.element.style().set_property("display", "block");
        }
        let first_line = &self.chunks[0].lines[0].div;
        self.styling
            .copy_if_dirty(textarea, &self.element, first_line);
    }

    /// Nobody to show: the mirror is left out of layout until somebody is.
    pub(super) fn hide(&mut self) {
        if std::mem::replace(&mut self.shown, false) {
            let _ = self.element.style().set_property("display", "none");
            // Shown again, the chunks are revealed a few at a time as at first: all at once
            // would be one long layout of the whole text.
            for nodes in self.chunks.iter_mut().filter(|c| c.shown) {
                let _ = nodes.div.style().set_property("display", "none");
                nodes.shown = false;
            }
            self.hidden = self.chunks.len();
        }
    }

    /// Puts chunks that are out of layout into it, one by one, each laid out before the next,
    /// until all are in or `budget_ms` has passed: true if all are in (only then can lines be
    /// measured where the textarea has them). A keystroke's new chunk is in at once; a large
    /// paste or a late join's whole page takes a few frames, and no single one takes long.
    pub(super) fn reveal(&mut self, budget_ms: f64) -> bool {
        if self.hidden == 0 {
            return true;
        }
        let performance = gloo::utils::window().performance();
        let now = || performance.as_ref().map_or(0.0, |p| p.now());
        let start = now();
        for nodes in self.chunks.iter_mut().filter(|c| !c.shown) {
            let _ = nodes.div.style().remove_property("display");
            nodes.shown = true;
            self.hidden -= 1;
            // Lays out this chunk now (the others are laid out already or still out of layout),
            // so the time it took is known.
            let _ = nodes.div.offset_height();
            if now() - start >= budget_ms {
                break;
            }
        }
        self.hidden == 0
    }

    /// Gives the mirror the textarea's content width (see [`Styling::fit_width`]).
    pub(super) fn fit_width(&mut self, width: f64, client_width: i32, offset_width: i32) {
        self.styling
            .fit_width(&self.element, width, client_width, offset_width);
    }

    pub(super) fn metrics(&self) -> Metrics {
        self.styling.metrics()
    }
}

/// The index's steps, carried out on the elements. The Rust side always follows (so that the
/// chunks stay the index's); the first DOM error is kept.
struct DomSteps<'a> {
    document: &'a Document,
    element: &'a HtmlElement,
    chunks: &'a mut Vec<ChunkNodes>,
    /// The mirror's count of chunks out of layout.
    hidden: &'a mut usize,
    failed: Option<JsValue>,
}

impl DomSteps<'_> {
    fn line(&self, slot: Slot) -> &LineNodes {
        &self.chunks[slot.chunk].lines[slot.index]
    }

    fn check(&mut self, result: Result<(), JsValue>) {
        if let Err(error) = result {
            self.failed.get_or_insert(error);
        }
    }
}

impl LineMirror for DomSteps<'_> {
    fn edit(&mut self, slot: Slot, column: u32, delete: u32, text: &str) {
        let result = self.line(slot).text.replace_data(column, delete, text);
        self.check(result);
    }

    fn insert(&mut self, chunk: usize, index: usize, texts: &[&str]) {
        let lines: Vec<LineNodes> = texts
            .iter()
            .map(|text| new_line(self.document, text))
            .collect();
        let nodes = &self.chunks[chunk];
        let before = nodes.lines.get(index).map(|line| line.div.clone());
        let result = lines.iter().try_for_each(|line| {
            nodes
                .div
                .insert_before(&line.div, before.as_ref().map(|div| div.as_ref()))
                .map(drop)
        });
        self.chunks[chunk].lines.splice(index..index, lines);
        self.check(result);
    }

    fn append_rest(&mut self, to: Slot, from: Slot, column: u32) {
        let from = &self.line(from).text;
        let result = from
            .substring_data(column, from.length().saturating_sub(column))
            .and_then(|rest| self.line(to).text.append_data(&rest));
        self.check(result);
    }

    fn remove(&mut self, chunk: usize, range: Range<usize>) {
        for line in self.chunks[chunk].lines.drain(range) {
            line.div.remove();
        }
    }

    fn split_chunk(&mut self, chunk: usize, at: usize) {
        // Out of layout until revealed: splitting a chunk that just took a large paste would
        // otherwise put all of it in layout at once.
        let nodes = ChunkNodes {
            div: new_chunk_div(self.document),
            lines: self.chunks[chunk].lines.split_off(at),
            shown: false,
        };
        *self.hidden += 1;
        // Moved, not copied: the line divs keep their text nodes.
        let result = nodes
            .lines
            .iter()
            .try_for_each(|line| nodes.div.append_child(&line.div).map(drop))
            .and_then(|()| {
                let next = self.chunks[chunk].div.next_sibling();
                self.element
                    .insert_before(&nodes.div, next.as_ref())
                    .map(drop)
            });
        self.chunks.insert(chunk + 1, nodes);
        self.check(result);
    }

    fn remove_chunk(&mut self, chunk: usize) {
        let nodes = self.chunks.remove(chunk);
        if !nodes.shown {
            *self.hidden -= 1;
        }
        nodes.div.remove();
    }
}

fn new_chunk_div(document: &Document) -> HtmlElement {
    let div: HtmlElement = document
        .create_element("div")
        .unwrap_throw()
        .unchecked_into();
    let _ = div.style().set_property("contain", "layout style");
    let _ = div.style().set_property("display", "none");
    div
}

fn new_line(document: &Document, text: &str) -> LineNodes {
    let div: HtmlElement = document
        .create_element("div")
        .unwrap_throw()
        .unchecked_into();
    let text_node = document.create_text_node(text);
    let br = document.create_element("br").unwrap_throw();
    div.append_child(&text_node).unwrap_throw();
    div.append_child(&br).unwrap_throw();
    LineNodes {
        div,
        text: text_node,
        br,
    }
}
