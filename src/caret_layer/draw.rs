//! A drawing, at most once per animation frame: where the textarea's client area is, which
//! mirror lines are visible in it, where each caret and selection falls on those lines (only they
//! are measured), then the elements written ([`super::paint`]). Every read comes before the
//! first write, so one layout serves the whole drawing.

use std::ops::Range;

use wasm_bindgen::UnwrapThrowExt;
use web_sys::Element;

use super::dom::scroll;
use super::measure::{Measure, Rect};
use super::mirror::Mirror;
use super::{Caret, Inner};
use commonplace_core::app::identity;

/// Pages longer than this (UTF-16 units) get no remote carets: laying the mirror out after a
/// large change takes seconds there (a 10 MB page joining took 20 s).
const MAX_DRAWN_UNITS: u32 = 2_000_000;

/// How long one frame may spend laying out mirror chunks (see [`Mirror::reveal`]), ms: the rest
/// waits for the next frame, so the page keeps responding while a large text is laid out.
const REVEAL_BUDGET_MS: f64 = 12.0;

/// The textarea's client area (inside its borders and scrollbars), as read for one drawing.
pub(super) struct Area {
    /// Relative to the overlay's padding box, where the caret and selection layers go.
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    /// A textarea that wraps does not scroll sideways: a caret after spaces hanging past the
    /// edge is pinned to it, as the textarea's own caret is.
    scrolls_sideways: bool,
}

/// A box of someone's selection.
pub(super) struct SelectionBox<'a> {
    pub rect: Rect,
    pub client: u64,
    pub color: &'a str,
}

/// Someone's caret, where it is drawn.
pub(super) struct CaretMark<'a> {
    /// A zero-width rectangle: the caret's x, top and height.
    pub rect: Rect,
    pub caret: &'a Caret,
    /// The caret's offset, clamped to the text.
    pub head: u32,
    pub color: &'a str,
}

impl Inner {
    pub(super) fn draw(&self) {
        let remote = self.remote.borrow();
        let mut mirror = self.mirror.borrow_mut();
        if remote.is_empty() || self.deferred.get() || mirror.len() > MAX_DRAWN_UNITS {
            mirror.hide();
            self.paint(None, &[], &[]);
            return;
        }
        mirror.show(&self.textarea);
        // The mirror gets the textarea's width first: chunks are laid out once, at that width.
        let (area, measure) = self.read_area(&mut mirror);
        if !mirror.reveal(REVEAL_BUDGET_MS) {
            // Part of the text is not laid out yet: where lines are is not known. The carets
            // show once it is, a few frames on.
            drop(mirror);
            self.paint(None, &[], &[]);
            self.schedule();
            return;
        }
        let visible = visible_lines(&mirror, &measure, &area);
        let total = mirror.len();
        let mut boxes = Vec::new();
        let mut marks = Vec::new();
        for caret in remote.iter() {
            let color = identity::color_or_default(&caret.color);
            let head = caret.head.min(total);
            let anchor = caret.anchor.min(total);
            if anchor != head {
                let selected = anchor.min(head)..anchor.max(head);
                for rect in selection(&mirror, &measure, &area, &visible, selected) {
                    boxes.push(SelectionBox {
                        rect,
                        client: caret.client,
                        color,
                    });
                }
            }
            if let Some(rect) = caret_rect(&mirror, &measure, &area, &visible, head) {
                marks.push(CaretMark {
                    rect,
                    caret,
                    head,
                    color,
                });
            }
        }
        drop(mirror);
        self.paint(Some(&area), &boxes, &marks);
    }

    /// Where the caret at `offset` stands, relative to the overlay: its x and the bottom of its
    /// row; `None` if that row is out of view, the page is too long to lay out, or its layout
    /// would take longer than `budget_ms`. Lays the mirror out if nobody's carets had (the next
    /// drawing puts it away again).
    pub(super) fn point(&self, offset: u32, budget_ms: f64) -> Option<(f64, f64)> {
        let mut mirror = self.mirror.borrow_mut();
        if mirror.len() > MAX_DRAWN_UNITS {
            return None;
        }
        mirror.show(&self.textarea);
        let (area, measure) = self.read_area(&mut mirror);
        let laid_out = mirror.reveal(budget_ms);
        let position = mirror.locate(offset.min(mirror.len()));
        let at = laid_out
            .then(|| measure.caret(&mirror.line_at(position.slot), position.column))
            .flatten();
        drop(mirror);
        self.schedule();
        let at = at?;
        let bottom = at.y + at.h;
        (bottom > 0.0 && at.y < area.height).then(|| {
            (
                area.left + at.x.clamp(0.0, area.width),
                area.top + bottom.min(area.height),
            )
        })
    }

    /// Where the textarea's client area is, and how to measure the mirror in its coordinates
    /// (the mirror's width is set first if the textarea's changed).
    fn read_area(&self, mirror: &mut Mirror) -> (Area, Measure) {
        let textarea: &Element = &self.textarea;
        let ta = textarea.get_bounding_client_rect();
        let client_width = textarea.client_width();
        let client_height = textarea.client_height();
        mirror.fit_width(ta.width(), client_width, self.textarea.offset_width());
        let scroll_left = scroll(textarea, "scrollLeft");
        let scroll_top = scroll(textarea, "scrollTop");
        let overlay = self.overlay.get_bounding_client_rect();
        let area = Area {
            left: ta.left() + f64::from(textarea.client_left())
                - overlay.left()
                - f64::from(self.overlay.client_left()),
            top: ta.top() + f64::from(textarea.client_top())
                - overlay.top()
                - f64::from(self.overlay.client_top()),
            width: f64::from(client_width),
            height: f64::from(client_height),
            scrolls_sideways: textarea.scroll_width() > textarea.client_width(),
        };
        // The mirror's border box stands for the textarea's padding box, scrolled to the top.
        let origin = mirror.element().get_bounding_client_rect();
        let measure = Measure {
            range: self.document.create_range().unwrap_throw(),
            origin_x: origin.left() + scroll_left,
            origin_y: origin.top() + scroll_top,
            metrics: mirror.metrics(),
        };
        (area, measure)
    }
}

/// The lines (at least partly) inside the client area, found by a binary search over the line
/// divs' boxes.
fn visible_lines(mirror: &Mirror, measure: &Measure, area: &Area) -> Range<usize> {
    let top = measure.origin_y;
    let bottom = measure.origin_y + area.height;
    let first = mirror.partition_point(|div| div.get_bounding_client_rect().bottom() <= top);
    let end = mirror.partition_point(|div| div.get_bounding_client_rect().top() < bottom);
    first..end
}

/// The boxes of the selection `selected` on the visible lines, one a row, and a narrow box at
/// each selected line break. Rows scrolled out of view are left out; the layer clips the rest.
fn selection(
    mirror: &Mirror,
    measure: &Measure,
    area: &Area,
    visible: &Range<usize>,
    selected: Range<u32>,
) -> Vec<Rect> {
    let shows = |rect: &Rect| rect.y + rect.h > 0.0 && rect.y < area.height && rect.w > 0.0;
    let (from, to) = (mirror.locate(selected.start), mirror.locate(selected.end));
    let mut rects = Vec::new();
    for l in from.line.max(visible.start)..=to.line.min(visible.end.saturating_sub(1)) {
        let line = mirror.line(l);
        let start = if l == from.line { from.column } else { 0 };
        let end = if l == to.line { to.column } else { line.len };
        if start < end {
            rects.extend(measure.text(&line, start, end).into_iter().filter(shows));
        }
        if l < to.line {
            rects.extend(measure.line_break(&line).filter(shows));
        }
    }
    rects
}

/// Where the caret at `head` is drawn: a zero-width rectangle cut to the client area, or `None`
/// if it is out of view.
fn caret_rect(
    mirror: &Mirror,
    measure: &Measure,
    area: &Area,
    visible: &Range<usize>,
    head: u32,
) -> Option<Rect> {
    let position = mirror.locate(head);
    if !visible.contains(&position.line) {
        return None;
    }
    let at = measure.caret(&mirror.line_at(position.slot), position.column)?;
    let middle = at.y + at.h / 2.0;
    if middle < 0.0 || middle > area.height {
        return None;
    }
    let x = if area.scrolls_sideways {
        if at.x < -1.0 || at.x > area.width + 1.0 {
            return None;
        }
        at.x
    } else {
        at.x.clamp(0.0, area.width)
    };
    let top = at.y.max(0.0);
    let bottom = (at.y + at.h).min(area.height);
    Some(Rect {
        x,
        y: top,
        w: 0.0,
        h: bottom - top,
    })
}
