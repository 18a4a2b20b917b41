//! A QR code of the room link as SVG, so a phone can join by pointing its camera at the screen.

use qrcodegen::{QrCode, QrCodeEcc};
use std::fmt::Write;

/// Light modules around the code: scanners need this margin to find it (the standard asks for 4).
const QUIET_ZONE: i32 = 4;

/// `text` as a QR code in SVG, or `None` if it is too long for any QR code (about 2.3 KB of
/// UTF-8 at level Medium, 2.9 KB at Low).
///
/// Error correction is Medium (survives ~15% damage, e.g. glare on a screen), falling back to
/// Low for long text. The code is always black on white, whatever the page's theme: many
/// scanners cannot read inverted codes. The SVG has no size (CSS sets it) and no
/// `aria-label` (the caller knows what it encodes).
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium)
        .or_else(|_| QrCode::encode_text(text, QrCodeEcc::Low))
        .ok()?;
    Some(render(&code))
}

fn render(code: &QrCode) -> String {
    let side = code.size() + 2 * QUIET_ZONE;
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" "#,
            r#"shape-rendering="crispEdges" role="img">"#,
            r##"<rect width="{side}" height="{side}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{path}"/></svg>"##
        ),
        side = side,
        path = path(code),
    )
}

/// One rectangle per horizontal run of dark modules: a quarter of the size of one per module.
fn path(code: &QrCode) -> String {
    let mut d = String::new();
    for y in 0..code.size() {
        let mut x = 0;
        while x < code.size() {
            if !code.get_module(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < code.size() && code.get_module(x, y) {
                x += 1;
            }
            let run = x - start;
            let (left, top) = (start + QUIET_ZONE, y + QUIET_ZONE);
            // Writing to a String cannot fail.
            let _ = write!(d, "M{left} {top}h{run}v1h-{run}z");
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_box_side(svg: &str) -> i32 {
        let rest = svg.split(r#"viewBox="0 0 "#).nth(1).unwrap();
        rest.split(' ').next().unwrap().parse().unwrap()
    }

    fn path_data(svg: &str) -> &str {
        svg.split(r#" d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
    }

    /// Dark modules drawn by a path made of `M{x} {y}h{run}v1h-{run}z` commands, as a set of
    /// (x, y) in QR coordinates; panics on any other command.
    fn drawn_modules(d: &str) -> std::collections::BTreeSet<(i32, i32)> {
        let mut modules = std::collections::BTreeSet::new();
        for command in d.split('z').filter(|c| !c.is_empty()) {
            let command = command
                .strip_prefix('M')
                .expect("each rectangle starts with M");
            let (x, rest) = command.split_once(' ').unwrap();
            let (y, rest) = rest.split_once('h').unwrap();
            let (run, rest) = rest.split_once("v1h-").unwrap();
            assert_eq!(run, rest, "rectangle closes where it started");
            let (x, y, run): (i32, i32, i32) =
                (x.parse().unwrap(), y.parse().unwrap(), run.parse().unwrap());
            assert!(run > 0);
            for dx in 0..run {
                let module = (x + dx - QUIET_ZONE, y - QUIET_ZONE);
                assert!(modules.insert(module), "module {module:?} drawn twice");
            }
        }
        modules
    }

    #[test]
    fn is_one_black_path_on_white() {
        let svg = svg("https://example.org/#room=kitchen&key=s3cret").unwrap();
        assert!(svg.starts_with("<svg "));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains(r##"fill="#fff""##) && svg.contains(r##"fill="#000""##));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert!(svg.contains(r#"role="img""#));
    }

    #[test]
    fn path_draws_exactly_the_dark_modules() {
        for text in [
            "a",
            "https://example.org/#room=kitchen&key=s3cret",
            &"日本".repeat(100),
        ] {
            let code = QrCode::encode_text(text, QrCodeEcc::Medium).unwrap();
            let svg = svg(text).unwrap();
            assert_eq!(view_box_side(&svg), code.size() + 2 * QUIET_ZONE);
            let expected: std::collections::BTreeSet<_> = (0..code.size())
                .flat_map(|y| (0..code.size()).map(move |x| (x, y)))
                .filter(|&(x, y)| code.get_module(x, y))
                .collect();
            assert_eq!(drawn_modules(path_data(&svg)), expected);
        }
    }

    #[test]
    fn grows_with_the_text() {
        let sides: Vec<i32> = [10, 100, 1000]
            .iter()
            .map(|&n| view_box_side(&svg(&"x".repeat(n)).unwrap()))
            .collect();
        assert!(sides[0] < sides[1] && sides[1] < sides[2], "{sides:?}");
    }

    #[test]
    fn falls_back_to_low_then_gives_up() {
        // Too long for Medium (2,331 bytes at version 40) but fits Low (2,953).
        let long = "é".repeat(1300);
        assert!(QrCode::encode_text(&long, QrCodeEcc::Medium).is_err());
        assert!(svg(&long).is_some());
        assert_eq!(svg(&"x".repeat(5000)), None);
    }
}
