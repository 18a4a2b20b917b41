//! A big page in the `<textarea>`: only a window of its lines is the textarea's value
//! (`text::big_page` decides which; this carries it out). A textarea lays out all of its value,
//! a megabyte in about a second: a window of a few hundred lines lays out at once.
//!
//! The textarea scrolls its window; when the view comes near the window's edge the window moves
//! and the scroll position moves by the rows that went or came above it, so what is on screen
//! stays put. Big pages are not wrapped, so a row is a line and that is exact. The scrollbar
//! stands for the window, not the page (paddings standing for the rest would grow the
//! textarea's box with them: a layout with a scrolling wrapper is left to do).

use commonplace_core::text::big_page::{BigPage, Moved, Rows};
use commonplace_core::text::window::WindowPolicy;
use web_sys::HtmlTextAreaElement;

/// The textarea's own measures.
#[derive(Clone, Copy)]
struct Geometry {
    line_height: f64,
    pad_top: f64,
}

pub struct Windowed {
    pub page: BigPage,
    geometry: Geometry,
}

impl Windowed {
    /// `text` in `element`, the window around the row of page offset `near`. The caller shows
    /// `window_text()`.
    pub fn new(element: &HtmlTextAreaElement, text: &str, near: u32) -> Windowed {
        let geometry = read_geometry(element);
        let mut page = BigPage::new(text, 0..1, WindowPolicy::default());
        let rows = rows_on_screen(&geometry, element);
        let top = page.row_of(near).saturating_sub(rows / 2);
        page.move_to(top..top + rows, (0, 0));
        Windowed { page, geometry }
    }

    /// The page's rows on screen, from the textarea's scroll position.
    pub fn visible(&self, element: &HtmlTextAreaElement) -> std::ops::Range<usize> {
        let g = &self.geometry;
        let top = ((scroll_top(element) - g.pad_top) / g.line_height)
            .floor()
            .max(0.0) as usize;
        let top = self.page.rows().above + top;
        top..top + rows_on_screen(g, element)
    }

    /// Where the textarea scrolls to show the row of page offset `offset` (in the window) in
    /// the middle of the view.
    pub fn scroll_for(&self, element: &HtmlTextAreaElement, offset: u32) -> f64 {
        let g = &self.geometry;
        let row = self
            .page
            .row_of(offset)
            .saturating_sub(self.page.rows().above) as f64;
        (g.pad_top + row * g.line_height - f64::from(element.client_height()) / 2.0).max(0.0)
    }

    /// After the person's input (`selection`: the textarea's, anchor and head): a window a big
    /// paste made far too big moves around the caret, and where the textarea then scrolls.
    pub fn fit_input(
        &mut self,
        element: &HtmlTextAreaElement,
        selection: (u32, u32),
    ) -> Option<(Moved, f64)> {
        let head = self.page.window().to_page(selection.1);
        let rows = rows_on_screen(&self.geometry, element);
        let moved = self.page.fit_input(head, rows, selection)?;
        Some((moved, self.scroll_for(element, head)))
    }

    /// How far the scroll position moves for the rows above the window going from `before` to
    /// now (the same lines stay on screen).
    pub fn shift(&self, before: Rows) -> f64 {
        let above = self.page.rows().above as f64;
        (before.above as f64 - above) * self.geometry.line_height
    }

    /// Tells tests the page's length and where the window starts in it (the textarea's value
    /// is only the window).
    pub fn mark_length(&self, element: &HtmlTextAreaElement) {
        let _ = element.set_attribute("data-page-length", &self.page.len().to_string());
        let start = self.page.window().start().to_string();
        let _ = element.set_attribute("data-window-start", &start);
    }

    /// The textarea shows its whole page again.
    pub fn leave(element: &HtmlTextAreaElement) {
        let _ = element.remove_attribute("data-page-length");
        let _ = element.remove_attribute("data-window-start");
    }
}

fn read_geometry(element: &HtmlTextAreaElement) -> Geometry {
    let computed = gloo::utils::window()
        .get_computed_style(element)
        .ok()
        .flatten();
    let px = |name: &str| {
        computed
            .as_ref()
            .and_then(|c| c.get_property_value(name).ok())
            .and_then(|v| v.trim_end_matches("px").parse::<f64>().ok())
    };
    let font_size = px("font-size").unwrap_or(16.0);
    Geometry {
        // `normal` is about 1.2 em; the app's stylesheet gives a number.
        line_height: px("line-height")
            .filter(|h| *h > 0.0)
            .unwrap_or(font_size * 1.2),
        pad_top: px("padding-top").unwrap_or(0.0),
    }
}

fn rows_on_screen(g: &Geometry, element: &HtmlTextAreaElement) -> usize {
    (f64::from(element.client_height()) / g.line_height).ceil() as usize + 1
}

/// `scrollTop` as the fraction it is (web-sys rounds it to an integer).
pub fn scroll_top(element: &HtmlTextAreaElement) -> f64 {
    js_sys::Reflect::get(element, &"scrollTop".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

pub fn set_scroll_top(element: &HtmlTextAreaElement, top: f64) {
    let _ = js_sys::Reflect::set(element, &"scrollTop".into(), &top.into());
}
