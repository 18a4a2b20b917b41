//! Small DOM helpers the caret layer's parts share.

use wasm_bindgen::{JsCast, JsValue, UnwrapThrowExt};
use web_sys::{CssStyleDeclaration, Document, Element, HtmlElement};

pub(super) fn new_div(document: &Document, class: &str) -> HtmlElement {
    let div: HtmlElement = document
        .create_element("div")
        .unwrap_throw()
        .unchecked_into();
    div.set_class_name(class);
    div
}

pub(super) fn set_styles(style: &CssStyleDeclaration, properties: &[(&str, &str)]) {
    for (name, value) in properties {
        let _ = style.set_property(name, value);
    }
}

/// `12.5px` → 12.5. Read by JS's `parseFloat`: Rust's `f64::from_str` (its code and its tables of
/// powers) cost the download 14 kB gzipped for this alone; a computed length is a plain number.
pub(super) fn px(value: &str) -> Option<f64> {
    let number = value.trim().strip_suffix("px")?;
    let parsed = js_sys::parse_float(number);
    (!parsed.is_nan()).then_some(parsed)
}

/// `12.50px`: hundredths of a pixel, written without float formatting (which would cost the app
/// kilobytes of code for this alone).
pub(super) fn px_string(value: f64) -> String {
    let hundredths = (value * 100.0).round() as i64;
    let sign = if hundredths < 0 { "-" } else { "" };
    let h = hundredths.unsigned_abs();
    format!("{sign}{}.{:02}px", h / 100, h % 100)
}

/// `scrollTop`/`scrollLeft` as the fractions they are (web-sys rounds them to integers).
pub(super) fn scroll(element: &Element, name: &str) -> f64 {
    js_sys::Reflect::get(element, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.as_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pixels_in_hundredths() {
        assert_eq!(super::px_string(12.5), "12.50px");
        assert_eq!(super::px_string(0.0), "0.00px");
        assert_eq!(super::px_string(-0.004), "0.00px");
        assert_eq!(super::px_string(-3.456), "-3.46px");
        assert_eq!(super::px_string(1234.999), "1235.00px");
    }
}
