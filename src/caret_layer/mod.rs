//! Other people's carets and selections, drawn over the page editor.
//!
//! A textarea cannot say where its characters are, so a hidden *mirror* beside it holds the same
//! text with the same box and text styles, and the browser measures characters there (a DOM
//! `Range` → `getClientRects`). The mirror has one `<div>` per line (`text<br>`: the `<br>` gives
//! an empty line its height), kept in step with the textarea splice by splice: a keystroke
//! rewrites the text node of one line. The line divs sit in *chunks* of up to 128 consecutive
//! lines (made 64 at a time, split when they reach 128, dropped when empty), each laid out apart
//! (`contain: layout style`): after a keystroke the browser re-lays-out that line, its chunk and
//! the row of chunks, so the cost stays flat as the page grows (a flat list of thousands of line
//! divs made every keystroke walk them all).
//!
//! Everything else is read when drawing, at most once per animation frame: where the textarea is,
//! how far it is scrolled, which lines are visible (a binary search over the line divs). Only the
//! visible lines are measured, so a drawing costs the same on a page of ten lines or ten thousand.
//!
//! Names and colours come from other peers: names are set as text, colours only if they look
//! like a colour and nothing more.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::events::EventListener;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue, UnwrapThrowExt};
use web_sys::{
    CssStyleDeclaration, Document, DomRect, Element, HtmlElement, HtmlTextAreaElement, Range,
    ResizeObserver, Text,
};

/// Where colours from peers do not look like colours.
const DEFAULT_COLOR: &str = "#30bced";
/// Names longer than this are cut (the flag is small anyway).
const MAX_NAME_CHARS: usize = 64;
/// Lines per mirror chunk when it is made; a chunk that grows to twice this is split.
const CHUNK_LINES: usize = 64;
/// Pages longer than this (UTF-16 units) get no remote carets.
const MAX_DRAWN_UNITS: u32 = 2_000_000;

/// The textarea's styles that decide where its characters go, copied to the mirror.
/// `text-indent` is handled apart: it indents the textarea's first line only.
const COPIED_STYLES: &[&str] = &[
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "font-stretch",
    "font-variant",
    "font-feature-settings",
    "font-variation-settings",
    "font-kerning",
    "font-optical-sizing",
    "font-size-adjust",
    "font-synthesis",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "text-transform",
    "text-align",
    "text-align-last",
    "text-rendering",
    "tab-size",
    "white-space",
    "text-wrap-style",
    "word-break",
    "overflow-wrap",
    "line-break",
    "hyphens",
    "direction",
    "unicode-bidi",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
];

/// One other person's caret (`head`) and selection (`anchor`..`head`, either way round), in
/// UTF-16 units of the textarea's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caret {
    pub client: u64,
    pub anchor: u32,
    pub head: u32,
    pub name: String,
    pub color: String,
}

/// Draws other people's carets and selections over the editor. Dropping it removes what it drew,
/// its mirror and its listeners.
pub struct CaretLayer {
    inner: Rc<Inner>,
}

struct Inner {
    textarea: HtmlTextAreaElement,
    overlay: HtmlElement,
    document: Document,
    /// The hidden copy of the text: one div per line, at the overlay's top left corner.
    mirror: HtmlElement,
    /// Over the textarea's client area (inside its borders and scrollbars), clipping.
    selections: HtmlElement,
    /// Over the textarea's client area, not clipping (the name flags stick out).
    carets: HtmlElement,
    lines: RefCell<Vec<Line>>,
    /// The mirror's children, in order: each holds the divs of consecutive lines.
    chunks: RefCell<Vec<Chunk>>,
    remote: RefCell<Vec<Caret>>,
    drawn: RefCell<Drawn>,
    /// The textarea may have changed its styles (it was resized): copy them again.
    styles_dirty: Cell<bool>,
    metrics: Cell<Metrics>,
    /// The textarea's widths the mirror's width was computed from.
    applied_width: Cell<Option<(i32, i32, f64)>>,
    mirror_shown: Cell<bool>,
    frame: Cell<Option<i32>>,
    on_frame: Closure<dyn FnMut()>,
    observer: Option<ResizeObserver>,
    _on_resize: Closure<dyn FnMut()>,
    _on_scroll: EventListener,
}

/// A block of consecutive line divs in the mirror, laid out apart (`contain: layout`): a
/// keystroke re-lays-out its line, its chunk and the row of chunks, not every line of the page.
struct Chunk {
    div: HtmlElement,
    /// How many lines it holds: at least 1, fewer than `2 * CHUNK_LINES`.
    lines: usize,
}

struct Line {
    div: HtmlElement,
    text: Text,
    br: Element,
    /// In UTF-16 units, without the '\n'.
    len: u32,
}

/// Copied from the textarea's computed style.
#[derive(Clone, Copy)]
struct Metrics {
    padding_x: f64,
    /// `None` for `line-height: normal`.
    line_height: Option<f64>,
    font_size: f64,
}

#[derive(Default)]
struct Drawn {
    carets: Vec<CaretElement>,
    rects: Vec<HtmlElement>,
}

struct CaretElement {
    root: HtmlElement,
    name: HtmlElement,
    shown_name: String,
}

/// A rectangle relative to the textarea's client area (its padding box, as scrolled now).
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl CaretLayer {
    /// `overlay` is an empty element the app places over the textarea (same positioned parent,
    /// `position:absolute; inset:0; pointer-events:none`), where the mirror and carets live.
    pub fn new(textarea: HtmlTextAreaElement, overlay: HtmlElement) -> CaretLayer {
        let document = gloo::utils::document();
        let mirror = new_div(&document, "remote-mirror");
        set_styles(
            &mirror.style(),
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
        let selections = new_div(&document, "remote-selections");
        let carets = new_div(&document, "remote-carets");
        for (layer, overflow) in [(&selections, "hidden"), (&carets, "visible")] {
            set_styles(
                &layer.style(),
                &[
                    ("position", "absolute"),
                    ("left", "0"),
                    ("top", "0"),
                    ("width", "0"),
                    ("height", "0"),
                    ("overflow", overflow),
                    ("pointer-events", "none"),
                ],
            );
        }
        for child in [&mirror, &selections, &carets] {
            // Others' carets are shown, not read out.
            child.set_attribute("aria-hidden", "true").unwrap_throw();
            overlay.append_child(child).unwrap_throw();
        }

        let inner = Rc::new_cyclic(|me: &Weak<Inner>| {
            let on_frame = Closure::<dyn FnMut()>::new({
                let me = me.clone();
                move || {
                    if let Some(inner) = me.upgrade() {
                        inner.frame.set(None);
                        inner.draw();
                    }
                }
            });
            let on_resize = Closure::<dyn FnMut()>::new({
                let me = me.clone();
                move || {
                    if let Some(inner) = me.upgrade() {
                        inner.styles_dirty.set(true);
                        inner.schedule();
                    }
                }
            });
            let observer = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
            let on_scroll = EventListener::new(&textarea, "scroll", {
                let me = me.clone();
                move |_| {
                    if let Some(inner) = me.upgrade() {
                        inner.schedule();
                    }
                }
            });
            Inner {
                textarea: textarea.clone(),
                overlay,
                document,
                mirror,
                selections,
                carets,
                lines: RefCell::new(Vec::new()),
                chunks: RefCell::new(Vec::new()),
                remote: RefCell::new(Vec::new()),
                drawn: RefCell::new(Drawn::default()),
                styles_dirty: Cell::new(true),
                metrics: Cell::new(Metrics {
                    padding_x: 0.0,
                    line_height: None,
                    font_size: 16.0,
                }),
                applied_width: Cell::new(None),
                mirror_shown: Cell::new(false),
                frame: Cell::new(None),
                on_frame,
                observer,
                _on_resize: on_resize,
                _on_scroll: on_scroll,
            }
        });
        if let Some(observer) = &inner.observer {
            observer.observe(&textarea);
        }
        inner.reset(&textarea.value());
        CaretLayer { inner }
    }

    /// The whole text changed (another page opened, or loaded).
    pub fn reset(&self, text: &str) {
        self.inner.reset(text);
        self.inner.schedule();
    }

    /// `delete` UTF-16 units at `index` were replaced by `insert` in the textarea (local typing or
    /// a peer's change).
    pub fn splice(&self, index: u32, delete: u32, insert: &str) {
        if delete == 0 && insert.is_empty() {
            return;
        }
        if self.inner.splice(index, delete, insert).is_err() {
            // The DOM refused (it never should): start over from what the textarea shows.
            self.inner.reset(&self.inner.textarea.value());
        }
        self.inner.schedule();
    }

    /// Who is where now (replaces the previous set). Offsets beyond the text are clamped.
    pub fn set_carets(&self, carets: Vec<Caret>) {
        let mut remote = self.inner.remote.borrow_mut();
        if *remote == carets {
            return;
        }
        *remote = carets;
        drop(remote);
        self.inner.schedule();
    }
}

impl Drop for CaretLayer {
    fn drop(&mut self) {
        let inner = &self.inner;
        if let Some(id) = inner.frame.take() {
            let _ = gloo::utils::window().cancel_animation_frame(id);
        }
        if let Some(observer) = &inner.observer {
            observer.disconnect();
        }
        for child in [&inner.mirror, &inner.selections, &inner.carets] {
            child.remove();
        }
    }
}

impl Inner {
    fn schedule(&self) {
        if self.frame.get().is_some() {
            return;
        }
        let id = gloo::utils::window()
            .request_animation_frame(self.on_frame.as_ref().unchecked_ref())
            .ok();
        self.frame.set(id);
    }

    fn reset(&self, text: &str) {
        let mut lines = self.lines.borrow_mut();
        let mut chunks = self.chunks.borrow_mut();
        lines.clear();
        chunks.clear();
        self.mirror.set_text_content(None);
        for piece in text.split('\n') {
            if chunks.last().is_none_or(|chunk| chunk.lines >= CHUNK_LINES) {
                let chunk = self.new_chunk();
                self.mirror.append_child(&chunk.div).unwrap_throw();
                chunks.push(chunk);
            }
            let line = self.new_line(piece);
            let chunk = chunks.last_mut().unwrap_throw();
            chunk.div.append_child(&line.div).unwrap_throw();
            chunk.lines += 1;
            lines.push(line);
        }
        // The first line's div is only ever replaced here: it carries the first line's indent.
        self.styles_dirty.set(true);
    }

    fn new_chunk(&self) -> Chunk {
        let div: HtmlElement = self
            .document
            .create_element("div")
            .unwrap_throw()
            .unchecked_into();
        let _ = div.style().set_property("contain", "layout style");
        Chunk { div, lines: 0 }
    }

    /// Takes lines `range` out of the mirror, and the chunks left empty.
    fn remove_lines(&self, lines: &mut Vec<Line>, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let mut chunks = self.chunks.borrow_mut();
        let mut start = 0;
        chunks.retain_mut(|chunk| {
            let end = start + chunk.lines;
            let overlap = end.min(range.end).saturating_sub(start.max(range.start));
            start = end;
            chunk.lines -= overlap;
            if chunk.lines == 0 {
                chunk.div.remove();
                false
            } else {
                true
            }
        });
        for line in lines.drain(range) {
            line.div.remove();
        }
    }

    /// Puts `added` into the mirror after line `after` (in its chunk), splitting the chunk if it
    /// grows too big.
    fn insert_lines(
        &self,
        lines: &mut Vec<Line>,
        after: usize,
        added: Vec<Line>,
    ) -> Result<(), JsValue> {
        if added.is_empty() {
            return Ok(());
        }
        let mut chunks = self.chunks.borrow_mut();
        let (c, first) = chunk_of(&chunks, after);
        let chunk = &mut chunks[c];
        let before = if after + 1 < first + chunk.lines {
            Some(lines[after + 1].div.clone())
        } else {
            None
        };
        for line in &added {
            chunk
                .div
                .insert_before(&line.div, before.as_ref().map(|div| div.as_ref()))?;
        }
        chunk.lines += added.len();
        lines.splice(after + 1..after + 1, added);
        // Too big: split into chunks of `CHUNK_LINES`.
        let count = chunks[c].lines;
        if count >= 2 * CHUNK_LINES {
            // Each new chunk goes before the old chunk's next sibling: they end up in order.
            let next = chunks[c].div.next_sibling();
            let mut new_chunks = Vec::new();
            let mut at = first + CHUNK_LINES;
            while at < first + count {
                let mut chunk = self.new_chunk();
                chunk.lines = CHUNK_LINES.min(first + count - at);
                for line in &lines[at..at + chunk.lines] {
                    chunk.div.append_child(&line.div)?;
                }
                self.mirror.insert_before(&chunk.div, next.as_ref())?;
                at += chunk.lines;
                new_chunks.push(chunk);
            }
            chunks[c].lines = CHUNK_LINES;
            let at = c + 1;
            chunks.splice(at..at, new_chunks);
        }
        Ok(())
    }

    fn new_line(&self, text: &str) -> Line {
        let div: HtmlElement = self
            .document
            .create_element("div")
            .unwrap_throw()
            .unchecked_into();
        let text_node = self.document.create_text_node(text);
        let br = self.document.create_element("br").unwrap_throw();
        div.append_child(&text_node).unwrap_throw();
        div.append_child(&br).unwrap_throw();
        Line {
            div,
            text: text_node,
            br,
            len: utf16_len(text),
        }
    }

    /// Rewrites only the lines the splice touches.
    fn splice(&self, index: u32, delete: u32, insert: &str) -> Result<(), JsValue> {
        let mut lines = self.lines.borrow_mut();
        let total = text_len(&lines);
        let index = index.min(total);
        let delete = delete.min(total - index);
        let (a, col_a) = locate(&lines, index);
        let (b, col_b) = locate(&lines, index + delete);
        let pieces: Vec<&str> = insert.split('\n').collect();
        let last = pieces.len() - 1;

        if a == b && last == 0 {
            // Typing within a line: the common case.
            let line = &mut lines[a];
            line.text.replace_data(col_a, delete, insert)?;
            line.len = line.len - delete + utf16_len(insert);
            return Ok(());
        }

        let suffix_len = lines[b].len - col_b;
        let suffix = lines[b].text.substring_data(col_b, suffix_len)?;
        {
            let first = &mut lines[a];
            first
                .text
                .replace_data(col_a, first.len - col_a, pieces[0])?;
            first.len = col_a + utf16_len(pieces[0]);
        }
        if last == 0 {
            // Lines joined: line `a` takes the rest of line `b`.
            lines[a].text.append_data(&suffix)?;
            lines[a].len += suffix_len;
            self.remove_lines(&mut lines, a + 1..b + 1);
            return Ok(());
        }
        // New lines: pieces[1..last] whole, and pieces[last] followed by the rest of line `b`.
        let mut added = Vec::with_capacity(last);
        for piece in &pieces[1..last] {
            added.push(self.new_line(piece));
        }
        if b > a {
            // Line `b` keeps its div: only its start is replaced.
            let line = &mut lines[b];
            line.text.replace_data(0, col_b, pieces[last])?;
            line.len = utf16_len(pieces[last]) + suffix_len;
            self.remove_lines(&mut lines, a + 1..b);
        } else {
            let mut line = self.new_line(pieces[last]);
            line.text.append_data(&suffix)?;
            line.len += suffix_len;
            added.push(line);
        }
        self.insert_lines(&mut lines, a, added)
    }

    /// Copies the textarea's text styles to the mirror.
    fn copy_styles(&self) {
        let Ok(Some(computed)) = gloo::utils::window().get_computed_style(&self.textarea) else {
            return;
        };
        let style = self.mirror.style();
        for &name in COPIED_STYLES {
            let value = computed.get_property_value(name).unwrap_or_default();
            if !value.is_empty() {
                let _ = style.set_property(name, &value);
            }
        }
        if computed
            .get_property_value("white-space")
            .unwrap_or_default()
            .is_empty()
        {
            let _ = style.set_property("white-space", "pre-wrap");
        }
        let indent = computed
            .get_property_value("text-indent")
            .unwrap_or_default();
        let lines = self.lines.borrow();
        if let Some(first) = lines.first() {
            if indent.contains("each-line") {
                let _ = style.set_property("text-indent", &indent);
                let _ = first.div.style().remove_property("text-indent");
            } else {
                let _ = style.set_property("text-indent", "0");
                let _ = first.div.style().set_property("text-indent", &indent);
            }
        }
        let px = |name: &str| px(&computed.get_property_value(name).unwrap_or_default());
        self.metrics.set(Metrics {
            padding_x: px("padding-left").unwrap_or(0.0) + px("padding-right").unwrap_or(0.0),
            line_height: px("line-height"),
            font_size: px("font-size").unwrap_or(16.0),
        });
        self.applied_width.set(None);
    }

    fn draw(&self) {
        let remote = self.remote.borrow();
        // In a huge page, laying the mirror out after a large change takes seconds (a 10 MB
        // page joining took 20 s): carets are not drawn there.
        let huge = text_len(&self.lines.borrow()) > MAX_DRAWN_UNITS;
        if remote.is_empty() || huge {
            // Nobody to show: the mirror is left out of layout until somebody is.
            if self.mirror_shown.replace(false) {
                let _ = self.mirror.style().set_property("display", "none");
            }
            let mut drawn = self.drawn.borrow_mut();
            drawn.sync_carets(&self.document, &self.carets, 0);
            drawn.sync_rects(&self.document, &self.selections, 0);
            return;
        }
        if !self.mirror_shown.replace(true) {
            let _ = self.mirror.style().set_property("display", "block");
        }
        if self.styles_dirty.replace(false) {
            self.copy_styles();
        }

        // Where the textarea is, and its client area (inside borders and scrollbars).
        let textarea: &Element = &self.textarea;
        let ta = textarea.get_bounding_client_rect();
        let client_width = textarea.client_width();
        let client_height = textarea.client_height();
        let offset_width = self.textarea.offset_width();
        let width_key = (client_width, offset_width, ta.width());
        if self.applied_width.get() != Some(width_key) {
            // The textarea's content width, to the fraction: its border box less borders and
            // scrollbar (offsetWidth - clientWidth) and paddings.
            let metrics = self.metrics.get();
            let content =
                (ta.width() - f64::from(offset_width - client_width) - metrics.padding_x).max(0.0);
            let _ = self
                .mirror
                .style()
                .set_property("width", &format!("{content}px"));
            self.applied_width.set(Some(width_key));
        }
        let client_width = f64::from(client_width);
        let client_height = f64::from(client_height);
        let scroll_left = scroll(textarea, "scrollLeft");
        let scroll_top = scroll(textarea, "scrollTop");
        let overlay = self.overlay.get_bounding_client_rect();
        let area_left = ta.left() + f64::from(textarea.client_left())
            - overlay.left()
            - f64::from(self.overlay.client_left());
        let area_top = ta.top() + f64::from(textarea.client_top())
            - overlay.top()
            - f64::from(self.overlay.client_top());

        // The mirror's border box stands for the textarea's padding box, scrolled to the top.
        let mirror = self.mirror.get_bounding_client_rect();
        let origin_x = mirror.left() + scroll_left;
        let origin_y = mirror.top() + scroll_top;
        let measure = Measure {
            range: self.document.create_range().unwrap_throw(),
            origin_x,
            origin_y,
            metrics: self.metrics.get(),
        };

        let lines = self.lines.borrow();
        let total = text_len(&lines);
        let visible_top = origin_y;
        let visible_bottom = origin_y + client_height;
        let first_visible = lines
            .partition_point(|line| line.div.get_bounding_client_rect().bottom() <= visible_top);
        let end_visible = lines
            .partition_point(|line| line.div.get_bounding_client_rect().top() < visible_bottom);

        // Rows scrolled out of view are left out; the layer clips the rest.
        let shows = |rect: &Rect| rect.y + rect.h > 0.0 && rect.y < client_height && rect.w > 0.0;
        // A textarea that wraps does not scroll sideways: a caret after spaces hanging past the
        // edge is pinned to it, as the textarea's own caret is.
        let scrolls_sideways = textarea.scroll_width() > textarea.client_width();
        let mut carets = Vec::new();
        let mut rects = Vec::new();
        for caret in remote.iter() {
            let color = safe_color(&caret.color);
            let head = caret.head.min(total);
            let anchor = caret.anchor.min(total);
            if anchor != head {
                let (from, to) = (
                    locate(&lines, anchor.min(head)),
                    locate(&lines, anchor.max(head)),
                );
                for l in from.0.max(first_visible)..=to.0.min(end_visible.saturating_sub(1)) {
                    let line = &lines[l];
                    let start = if l == from.0 { from.1 } else { 0 };
                    let end = if l == to.0 { to.1 } else { line.len };
                    if start < end {
                        for rect in measure.text(line, start, end) {
                            if shows(&rect) {
                                rects.push((rect, caret.client, color));
                            }
                        }
                    }
                    if l < to.0 {
                        // The selected line break, as a narrow box at the line's end.
                        if let Some(at) = measure.caret(line, line.len) {
                            let rect = Rect {
                                w: measure.metrics.font_size * 0.5,
                                ..measure.line_box(at)
                            };
                            if shows(&rect) {
                                rects.push((rect, caret.client, color));
                            }
                        }
                    }
                }
            }
            let (line, col) = locate(&lines, head);
            if line < first_visible || line >= end_visible {
                continue;
            }
            let Some(at) = measure.caret(&lines[line], col) else {
                continue;
            };
            let middle = at.y + at.h / 2.0;
            if middle < 0.0 || middle > client_height {
                continue;
            }
            let x = if scrolls_sideways {
                if at.x < -1.0 || at.x > client_width + 1.0 {
                    continue;
                }
                at.x
            } else {
                at.x.clamp(0.0, client_width)
            };
            let top = at.y.max(0.0);
            let bottom = (at.y + at.h).min(client_height);
            let rect = Rect {
                x,
                y: top,
                w: 0.0,
                h: bottom - top,
            };
            carets.push((rect, caret, head, color));
        }
        drop(lines);

        // Writes only from here on: one layout for all the reads above.
        for layer in [&self.selections, &self.carets] {
            set_styles(
                &layer.style(),
                &[
                    ("left", &px_string(area_left)),
                    ("top", &px_string(area_top)),
                    ("width", &px_string(client_width)),
                    ("height", &px_string(client_height)),
                ],
            );
        }
        let mut drawn = self.drawn.borrow_mut();
        drawn.sync_rects(&self.document, &self.selections, rects.len());
        for (element, (rect, client, color)) in drawn.rects.iter().zip(&rects) {
            let _ = element.set_attribute("data-client", &client.to_string());
            set_styles(
                &element.style(),
                &[
                    ("left", &px_string(rect.x)),
                    ("top", &px_string(rect.y)),
                    ("width", &px_string(rect.w)),
                    ("height", &px_string(rect.h)),
                    ("--color", color),
                ],
            );
        }
        drawn.sync_carets(&self.document, &self.carets, carets.len());
        for (element, (rect, caret, head, color)) in drawn.carets.iter_mut().zip(&carets) {
            let root = &element.root;
            let _ = root.set_attribute("data-client", &caret.client.to_string());
            let _ = root.set_attribute("data-index", &head.to_string());
            if rect.y < rect.h {
                // No room above the first visible line: the flag goes below.
                let _ = root.set_attribute("data-flag", "below");
            } else {
                let _ = root.remove_attribute("data-flag");
            }
            set_styles(
                &root.style(),
                &[
                    ("left", &px_string(rect.x)),
                    ("top", &px_string(rect.y)),
                    ("height", &px_string(rect.h)),
                    ("--color", color),
                ],
            );
            let name: String = caret.name.chars().take(MAX_NAME_CHARS).collect();
            if element.shown_name != name {
                element.name.set_text_content(Some(&name));
                element.shown_name = name;
            }
        }
    }
}

impl Drawn {
    fn sync_rects(&mut self, document: &Document, layer: &HtmlElement, count: usize) {
        while self.rects.len() > count {
            if let Some(rect) = self.rects.pop() {
                rect.remove();
            }
        }
        while self.rects.len() < count {
            let rect = new_div(document, "remote-selection");
            layer.append_child(&rect).unwrap_throw();
            self.rects.push(rect);
        }
    }

    fn sync_carets(&mut self, document: &Document, layer: &HtmlElement, count: usize) {
        while self.carets.len() > count {
            if let Some(caret) = self.carets.pop() {
                caret.root.remove();
            }
        }
        while self.carets.len() < count {
            let root = new_div(document, "remote-caret");
            let name: HtmlElement = document
                .create_element("span")
                .unwrap_throw()
                .unchecked_into();
            name.set_class_name("remote-caret-name");
            root.append_child(&name).unwrap_throw();
            layer.append_child(&root).unwrap_throw();
            self.carets.push(CaretElement {
                root,
                name,
                shown_name: String::new(),
            });
        }
    }
}

/// Measures characters in the mirror, in the textarea's client-area coordinates.
struct Measure {
    range: Range,
    origin_x: f64,
    origin_y: f64,
    metrics: Metrics,
}

impl Measure {
    fn rect(&self, rect: &DomRect) -> Rect {
        Rect {
            x: rect.left() - self.origin_x,
            y: rect.top() - self.origin_y,
            w: rect.width(),
            h: rect.height(),
        }
    }

    /// Where a caret before column `col` of `line` stands: x, top and the font's height.
    /// Measured on the character after it (so a caret at a soft wrap goes to the next row, as
    /// the textarea draws it), or at the end of the one before it at the line's end.
    fn caret(&self, line: &Line, col: u32) -> Option<Rect> {
        if line.len == 0 {
            self.range.select_node(&line.br).ok()?;
            let rect = self.range.get_client_rects()?.get(0)?;
            return Some(self.rect(&rect));
        }
        let col = col.min(line.len);
        let (start, end, at_end) = if col < line.len {
            let next = line.text.substring_data(col, 2).ok()?;
            (
                col,
                col + next.chars().next().map_or(1, |c| c.len_utf16() as u32),
                false,
            )
        } else {
            let previous = line.text.substring_data(col.saturating_sub(2), 2).ok()?;
            (
                col - previous.chars().last().map_or(1, |c| c.len_utf16() as u32),
                col,
                true,
            )
        };
        self.range.set_start(&line.text, start).ok()?;
        self.range.set_end(&line.text, end.min(line.len)).ok()?;
        let list = self.range.get_client_rects()?;
        let rect = if at_end {
            list.get(list.length().checked_sub(1)?)?
        } else {
            list.get(0)?
        };
        let mut rect = self.rect(&rect);
        if at_end {
            rect.x += rect.w;
        }
        rect.w = 0.0;
        Some(rect)
    }

    /// The boxes of columns `start..end` of `line`, one a row.
    fn text(&self, line: &Line, start: u32, end: u32) -> Vec<Rect> {
        let mut rects = Vec::new();
        if self.range.set_start(&line.text, start).is_err()
            || self.range.set_end(&line.text, end).is_err()
        {
            return rects;
        }
        if let Some(list) = self.range.get_client_rects() {
            for i in 0..list.length() {
                if let Some(rect) = list.get(i) {
                    rects.push(self.line_box(self.rect(&rect)));
                }
            }
        }
        rects
    }

    /// A glyph box grown to its line box (half the leading above and below), so that the
    /// selection of consecutive rows is one block.
    fn line_box(&self, rect: Rect) -> Rect {
        match self.metrics.line_height {
            Some(line_height) if line_height > rect.h => {
                let half = (line_height - rect.h) / 2.0;
                Rect {
                    y: rect.y - half,
                    h: line_height,
                    ..rect
                }
            }
            _ => rect,
        }
    }
}

/// The line of `offset` and its column there. Offsets past the end go to the end.
fn locate(lines: &[Line], offset: u32) -> (usize, u32) {
    let mut rest = offset;
    for (i, line) in lines.iter().enumerate() {
        if rest <= line.len {
            return (i, rest);
        }
        rest -= line.len + 1;
    }
    let last = lines.len().saturating_sub(1);
    (last, lines.last().map_or(0, |line| line.len))
}

/// The chunk holding line `line`, and the index of its first line.
fn chunk_of(chunks: &[Chunk], line: usize) -> (usize, usize) {
    let mut first = 0;
    for (c, chunk) in chunks.iter().enumerate() {
        if line < first + chunk.lines {
            return (c, first);
        }
        first += chunk.lines;
    }
    let last = chunks.len().saturating_sub(1);
    (last, first - chunks.last().map_or(0, |chunk| chunk.lines))
}

/// The text's length in UTF-16 units, line breaks included.
fn text_len(lines: &[Line]) -> u32 {
    let breaks = lines.len().saturating_sub(1) as u32;
    lines.iter().map(|line| line.len).sum::<u32>() + breaks
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// `color` if it is a plain colour (`#rgb`, `#rrggbb`, with alpha, `rgb(…)`, `hsl(…)`: digits,
/// spaces, commas, dots and `%` only), else the default.
fn safe_color(color: &str) -> &str {
    let plain = if let Some(hex) = color.strip_prefix('#') {
        matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    } else {
        ["rgb(", "rgba(", "hsl(", "hsla("].iter().any(|prefix| {
            color
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .is_some_and(|args| {
                    !args.is_empty()
                        && args
                            .bytes()
                            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b',' | b'.' | b'%'))
                })
        })
    };
    if plain {
        color
    } else {
        DEFAULT_COLOR
    }
}

/// `12.5px` → 12.5.
fn px(value: &str) -> Option<f64> {
    value.trim().strip_suffix("px")?.parse().ok()
}

fn px_string(value: f64) -> String {
    format!("{value:.2}px")
}

/// `scrollTop`/`scrollLeft` as the fractions they are (web-sys rounds them to integers).
fn scroll(element: &Element, name: &str) -> f64 {
    js_sys::Reflect::get(element, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.as_f64())
        .unwrap_or(0.0)
}

fn new_div(document: &Document, class: &str) -> HtmlElement {
    let div: HtmlElement = document
        .create_element("div")
        .unwrap_throw()
        .unchecked_into();
    div.set_class_name(class);
    div
}

fn set_styles(style: &CssStyleDeclaration, properties: &[(&str, &str)]) {
    for (name, value) in properties {
        let _ = style.set_property(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::safe_color;

    #[test]
    fn colours_from_peers() {
        for ok in [
            "#abc",
            "#AbCdEf",
            "#12345678",
            "rgb(1, 2, 3)",
            "hsl(120, 50%, 40.5%)",
        ] {
            assert_eq!(safe_color(ok), ok);
        }
        for bad in [
            "red",
            "#abcg",
            "#12345",
            "rgb(1,2,3);background:url(x)",
            "rgb()",
            "url(x)",
            "hsl(1 2 3) ",
            "var(--x)",
        ] {
            assert_eq!(safe_color(bad), super::DEFAULT_COLOR);
        }
    }
}
