//! What makes the mirror lay text out as the textarea does: the textarea's text styles and
//! paddings, copied when the mirror is first shown and again after the textarea is resized (it
//! may have changed them), and its content width, set again whenever its widths change.

use web_sys::{HtmlElement, HtmlTextAreaElement};

use super::dom::px;

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

/// Copied from the textarea's computed style.
#[derive(Clone, Copy)]
pub(super) struct Metrics {
    pub padding_x: f64,
    /// `None` for `line-height: normal`.
    pub line_height: Option<f64>,
    pub font_size: f64,
}

pub(super) struct Styling {
    /// The textarea may have changed its styles (it was resized), or the first line is new:
    /// copy them again.
    dirty: bool,
    metrics: Metrics,
    /// The textarea's widths the mirror's width was computed from.
    applied_width: Option<(i32, i32, f64)>,
}

impl Styling {
    pub(super) fn new() -> Styling {
        Styling {
            dirty: true,
            metrics: Metrics {
                padding_x: 0.0,
                line_height: None,
                font_size: 16.0,
            },
            applied_width: None,
        }
    }

    pub(super) fn restyle(&mut self) {
        self.dirty = true;
    }

    pub(super) fn metrics(&self) -> Metrics {
        self.metrics
    }

    /// Copies the textarea's text styles to the mirror, if they may have changed.
    /// `first_line` is the mirror's first line div (the textarea indents only its first line).
    pub(super) fn copy_if_dirty(
        &mut self,
        textarea: &HtmlTextAreaElement,
        mirror: &HtmlElement,
        first_line: &HtmlElement,
    ) {
        if !std::mem::replace(&mut self.dirty, false) {
            return;
        }
        let Ok(Some(computed)) = gloo::utils::window().get_computed_style(textarea) else {
            return;
        };
        let style = mirror.style();
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
        if indent.contains("each-line") {
            let _ = style.set_property("text-indent", &indent);
            let _ = first_line.style().remove_property("text-indent");
        } else {
            let _ = style.set_property("text-indent", "0");
            let _ = first_line.style().set_property("text-indent", &indent);
        }
        let px = |name: &str| px(&computed.get_property_value(name).unwrap_or_default());
        self.metrics = Metrics {
            padding_x: px("padding-left").unwrap_or(0.0) + px("padding-right").unwrap_or(0.0),
            line_height: px("line-height"),
            font_size: px("font-size").unwrap_or(16.0),
        };
        self.applied_width = None;
    }

    /// Gives the mirror the textarea's content width, to the fraction, if the textarea's
    /// widths changed: its border box (`width`) less borders and scrollbar
    /// (`offset_width - client_width`) and paddings.
    pub(super) fn fit_width(
        &mut self,
        mirror: &HtmlElement,
        width: f64,
        client_width: i32,
        offset_width: i32,
    ) {
        let key = (client_width, offset_width, width);
        if self.applied_width == Some(key) {
            return;
        }
        let content =
            (width - f64::from(offset_width - client_width) - self.metrics.padding_x).max(0.0);
        let _ = mirror
            .style()
            .set_property("width", &format!("{content}px"));
        self.applied_width = Some(key);
    }
}
