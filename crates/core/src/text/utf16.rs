//! UTF-16 lengths and units of UTF-8 text, fast where text is mostly ASCII: a late joiner's
//! 10 MB page goes through both once (its editor's mirror, its line index), and
//! `encode_utf16` decodes every character one by one (in wasm, ~4× slower than these).

/// UTF-16 units of `text`, from its UTF-8 bytes: every byte but continuation bytes starts a
/// character, and a 4-byte character (lead byte 0xF0 and up) is two units. A loop the compiler
/// vectorizes.
pub fn len(text: &str) -> usize {
    text.bytes()
        .map(|b| usize::from((b as i8) >= -0x40) + usize::from(b >= 0xF0))
        .sum()
}

/// `text` in UTF-16 units (what `text.encode_utf16().collect()` gives): runs of ASCII are
/// widened byte by byte, only other characters are decoded.
pub fn units(text: &str) -> Vec<u16> {
    // Never more units than bytes (1–3 bytes make one unit, 4 make two).
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let run = bytes[at..]
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(bytes.len() - at);
        out.extend(bytes[at..at + run].iter().map(|&b| u16::from(b)));
        at += run;
        if let Some(c) = text[at..].chars().next() {
            out.extend_from_slice(c.encode_utf16(&mut [0; 2]));
            at += c.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_std_counts_and_encodes() {
        for text in [
            "",
            "plain ascii\nlines",
            "café naïve 日本 🎉 late joiner\n",
            "🎉🎉",
            "é",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
            "a\u{0}b",
        ] {
            let want: Vec<u16> = text.encode_utf16().collect();
            assert_eq!(units(text), want, "{text:?}");
            assert_eq!(len(text), want.len(), "{text:?}");
        }
    }

    #[test]
    fn every_character_as_std() {
        let all: String = (0..=0x10ffff_u32)
            .step_by(7)
            .filter_map(char::from_u32)
            .collect();
        let want: Vec<u16> = all.encode_utf16().collect();
        assert_eq!(units(&all), want);
        assert_eq!(len(&all), want.len());
    }
}
