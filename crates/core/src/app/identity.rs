//! The names and colours people show each other: the one policy for ours (a palette and
//! default names) and for reading others' (from their awareness states, which anyone in the
//! room can write).

/// Distinct on light and dark backgrounds alike.
pub const COLORS: &[&str] = &[
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
    "#469990", "#bf6f00", "#800000", "#000075",
];
const ANIMALS: &[&str] = &[
    "Otter", "Heron", "Fox", "Badger", "Wren", "Lynx", "Hare", "Finch", "Owl", "Marten", "Newt",
    "Stoat",
];
/// Names are cut to this many characters, ours and others'.
pub const MAX_NAME_CHARS: usize = 40;
/// The colour of someone who did not say, or said nonsense.
pub const DEFAULT_COLOR: &str = "#7a7a7a";

/// A name for someone who has not chosen one, from a random number.
pub fn default_name(random: u64) -> String {
    format!(
        "Anonymous {}",
        ANIMALS[(random % ANIMALS.len() as u64) as usize]
    )
}

/// A colour from the palette, from a random number.
pub fn default_color(random: u64) -> &'static str {
    COLORS[(random % COLORS.len() as u64) as usize]
}

/// A remembered colour is kept only if it is one of ours.
pub fn is_palette_color(color: &str) -> bool {
    COLORS.contains(&color)
}

/// A name as shown: trimmed and cut to [`MAX_NAME_CHARS`]; `None` if nothing is left.
pub fn clean_name(name: &str) -> Option<String> {
    let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

/// `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`: the only colours taken from others, so that a
/// colour can never carry anything else into a style.
pub fn valid_color(color: &str) -> Option<&str> {
    let hex = color.strip_prefix('#')?;
    (matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(color)
}

/// A colour as drawn: valid, or [`DEFAULT_COLOR`].
pub fn color_or_default(color: &str) -> &str {
    valid_color(color).unwrap_or(DEFAULT_COLOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_pass() {
        for good in ["#abc", "#abcd", "#a1b2c3", "#A1B2C3FF"] {
            assert_eq!(valid_color(good), Some(good));
        }
        for bad in [
            "",
            "#",
            "#ab",
            "#abcde",
            "#12345g",
            "red",
            "rgb(1,2,3)",
            "#fff;background:url(x)",
            "#fff\"",
            " #fff",
            "#ffffffff0",
        ] {
            assert_eq!(valid_color(bad), None, "{bad:?}");
            assert_eq!(color_or_default(bad), DEFAULT_COLOR);
        }
        assert!(COLORS.iter().all(|c| valid_color(c).is_some()));
    }

    #[test]
    fn names_are_trimmed_and_cut() {
        assert_eq!(clean_name("  Ada  ").as_deref(), Some("Ada"));
        assert_eq!(clean_name("   "), None);
        let long = "é".repeat(100);
        assert_eq!(clean_name(&long).unwrap().chars().count(), MAX_NAME_CHARS);
        assert!(default_name(7).starts_with("Anonymous "));
        assert!(is_palette_color(default_color(u64::MAX)));
        assert!(!is_palette_color("#123456"));
    }
}
