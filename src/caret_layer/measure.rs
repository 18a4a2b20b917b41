//! Measuring characters in the mirror (a DOM `Range` around them → `getClientRects`), in the
//! textarea's client-area coordinates.

use web_sys::{DomRect, Range};

use super::mirror::Line;
use super::styles::Metrics;

/// A rectangle relative to the textarea's client area (its padding box, as scrolled now).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

pub(super) struct Measure {
    pub range: Range,
    /// Where the textarea's client area would be in the viewport if scrolled to its top left:
    /// the mirror's border box stands for its padding box.
    pub origin_x: f64,
    pub origin_y: f64,
    pub metrics: Metrics,
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
    pub(super) fn caret(&self, line: &Line, col: u32) -> Option<Rect> {
        if line.len == 0 {
            self.range.select_node(line.br).ok()?;
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
        self.range.set_start(line.text, start).ok()?;
        self.range.set_end(line.text, end.min(line.len)).ok()?;
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
    pub(super) fn text(&self, line: &Line, start: u32, end: u32) -> Vec<Rect> {
        let mut rects = Vec::new();
        if self.range.set_start(line.text, start).is_err()
            || self.range.set_end(line.text, end).is_err()
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

    /// The selected line break at the end of `line`, as a narrow box there.
    pub(super) fn line_break(&self, line: &Line) -> Option<Rect> {
        let at = self.caret(line, line.len)?;
        Some(Rect {
            w: self.metrics.font_size * 0.5,
            ..self.line_box(at)
        })
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
