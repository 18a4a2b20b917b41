//! Colours come from other peers: one is used only if it looks like a colour and nothing more
//! (it goes into a style property).

/// Where colours from peers do not look like colours.
pub(super) const DEFAULT_COLOR: &str = "#30bced";

/// `color` if it is a plain colour (`#rgb`, `#rrggbb`, with alpha, `rgb(…)`, `hsl(…)`: digits,
/// spaces, commas, dots and `%` only), else the default.
pub(super) fn safe_color(color: &str) -> &str {
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

#[cfg(test)]
mod tests {
    use super::{safe_color, DEFAULT_COLOR};

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
            assert_eq!(safe_color(bad), DEFAULT_COLOR);
        }
    }
}
