//! Page titles as file names and back: exactly, for any title, on any file system.

/// Extensions that import takes as markdown, compared case-insensitively.
const MARKDOWN_EXTENSIONS: [&str; 3] = [".md", ".markdown", ".txt"];

/// The stem of an empty title. Encoding escapes every `%`, so no other title encodes to a lone
/// `%`; an empty stem would make the hidden file `.md`.
const EMPTY_STEM: &str = "%";

/// Longest stem a ZIP entry gets, in bytes: file systems allow 255 bytes per name, and
/// ` (NN).md` must still fit.
pub(super) const MAX_STEM: usize = 240;

/// The file name for a page titled `title`: `<title>.md`, with the characters that some file
/// system, OS or unzip tool rejects or mangles percent-encoded (`%XX`, uppercase hex of the
/// UTF-8 bytes), so that [`title_from_file_name`] gives back exactly `title`.
///
/// Encoded: `/ \ : * ? " < > | %`, ASCII control characters, a leading `.` (hidden file) or
/// space, a trailing space, and the first letter of a Windows device name (`CON`, `nul.txt`,
/// `COM1`…). Everything else, Unicode included, stays as it is. The empty title is `%.md`.
pub fn file_name(title: &str) -> String {
    format!("{}.md", encode_stem(title))
}

pub(super) fn encode_stem(title: &str) -> String {
    if title.is_empty() {
        return EMPTY_STEM.to_owned();
    }
    let last = title.chars().count() - 1;
    let device = is_windows_device_name(title);
    let mut stem = String::with_capacity(title.len());
    for (i, c) in title.chars().enumerate() {
        let at_edge = (i == 0 && (c == '.' || c == ' ' || device)) || (i == last && c == ' ');
        if at_edge || is_unsafe_in_file_name(c) {
            for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                stem.push_str(&format!("%{byte:02X}"));
            }
        } else {
            stem.push(c);
        }
    }
    stem
}

fn is_unsafe_in_file_name(c: char) -> bool {
    matches!(
        c,
        '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '%'
    ) || c.is_ascii_control()
}

/// Windows refuses these names whatever the extension (`CON.md`, `con.notes.md`).
fn is_windows_device_name(title: &str) -> bool {
    let base = title
        .split('.')
        .next()
        .unwrap_or(title)
        .trim_end_matches(' ');
    let upper = base.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => upper
            .strip_prefix("COM")
            .or_else(|| upper.strip_prefix("LPT"))
            .is_some_and(|digit| digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit()),
    }
}

/// The title for a file name: the inverse of [`file_name`], and forgiving of names people made.
/// Drops any directory part and one `.md`, `.markdown` or `.txt` extension (any case), and
/// decodes `%XX` sequences whose bytes are UTF-8; anything else is kept literally.
pub fn title_from_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = strip_markdown_extension(base).unwrap_or(base);
    if stem == EMPTY_STEM {
        return String::new();
    }
    percent_decode(stem)
}

/// The name without its markdown extension, or `None` if it has none.
fn strip_markdown_extension(name: &str) -> Option<&str> {
    MARKDOWN_EXTENSIONS.iter().find_map(|extension| {
        let split = name.len().checked_sub(extension.len())?;
        let (stem, tail) = (name.get(..split)?, name.get(split..)?);
        tail.eq_ignore_ascii_case(extension).then_some(stem)
    })
}

pub(super) fn is_markdown_name(name: &str) -> bool {
    strip_markdown_extension(name).is_some()
}

fn percent_decode(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        let run = escaped_run_len(rest.as_bytes());
        if run == 0 {
            decoded.push('%');
            rest = &rest[1..];
        } else {
            decode_run(&rest[..run], &mut decoded);
            rest = &rest[run..];
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Length in bytes of the `%XX%XX…` run that `text` starts with.
fn escaped_run_len(text: &[u8]) -> usize {
    text.chunks(3)
        .take_while(|c| c.len() == 3 && c[0] == b'%' && hex(c[1]).is_some() && hex(c[2]).is_some())
        .count()
        * 3
}

/// Decodes a run of `%XX` escapes: bytes that form UTF-8 become text, the others stay escaped
/// as they were written.
fn decode_run(escaped: &str, decoded: &mut String) {
    let bytes: Vec<u8> = escaped
        .as_bytes()
        .chunks(3)
        .map(|c| hex(c[1]).unwrap_or(0) << 4 | hex(c[2]).unwrap_or(0))
        .collect();
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        decoded.push_str(chunk.valid());
        at += chunk.valid().len();
        let invalid = chunk.invalid().len();
        decoded.push_str(&escaped[3 * at..3 * (at + invalid)]);
        at += invalid;
    }
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Titles that exercise every rule of the encoding.
    fn awkward_titles() -> Vec<String> {
        let mut titles: Vec<String> = [
            "",
            " ",
            ".",
            "..",
            "...",
            " . ",
            ".hidden",
            " lead",
            "trail ",
            "trail.",
            "a/b\\c:d*e?f\"g<h>i|j%k",
            "%",
            "%%",
            "%41",
            "%2",
            "%zz",
            "100%",
            "a.md",
            "a.MD",
            "a.txt",
            "a.markdown",
            "CON",
            "con.txt",
            "Con .md",
            "nul",
            "aux.",
            "COM1",
            "lpt9.notes",
            "COM",
            "COM10",
            "CONSOLE",
            "é",
            "日本語のノート",
            "emoji 🦀 crab",
            "tab\there",
            "line\nbreak",
            "\u{7f}",
            "\u{0}",
            "  ",
            "\u{feff}bom",
            "Ünïcödé…",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        titles.extend((0u8..0x80).map(|b| format!("{}", b as char)));
        titles.extend((0u8..0x80).map(|b| format!("x{}x", b as char)));
        titles
    }

    fn assert_safe(name: &str) {
        let stem = name.strip_suffix(".md").expect("ends with .md");
        assert!(!stem.is_empty(), "{name:?}");
        assert!(!stem.starts_with(['.', ' ']), "{name:?}");
        assert!(!stem.ends_with(' '), "{name:?}");
        assert!(
            !stem
                .chars()
                .any(|c| matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')),
            "{name:?}"
        );
        assert!(!stem.chars().any(|c| c.is_ascii_control()), "{name:?}");
        assert!(!is_windows_device_name(stem), "{name:?}");
    }

    #[test]
    fn titles_round_trip_through_safe_file_names() {
        for title in awkward_titles() {
            let name = file_name(&title);
            assert_safe(&name);
            assert_eq!(title_from_file_name(&name), title, "via {name:?}");
        }
    }

    #[test]
    fn random_titles_round_trip() {
        let palette: Vec<char> = "ab .%/\\:*?\"<>|\u{0}\u{1f}\u{7f}é日🦀%4A1Cc"
            .chars()
            .collect();
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..5000 {
            let len = rng.random_range(0..8);
            let title: String = (0..len)
                .map(|_| palette[rng.random_range(0..palette.len())])
                .collect();
            let name = file_name(&title);
            assert_safe(&name);
            assert_eq!(title_from_file_name(&name), title, "via {name:?}");
        }
    }

    #[test]
    fn ordinary_titles_are_kept_as_they_are() {
        assert_eq!(file_name("Shopping list"), "Shopping list.md");
        assert_eq!(file_name("Café 日本 🦀"), "Café 日本 🦀.md");
        assert_eq!(file_name("What? 50%: a/b"), "What%3F 50%25%3A a%2Fb.md");
        assert_eq!(file_name(".env"), "%2Eenv.md");
        assert_eq!(file_name("con"), "%63on.md");
        assert_eq!(file_name(""), "%.md");
    }

    #[test]
    fn hand_made_names_are_read_forgivingly() {
        for (name, title) in [
            ("Notes.md", "Notes"),
            ("dir/sub/Notes.MD", "Notes"),
            ("C:\\Users\\me\\Plan.Markdown", "Plan"),
            ("todo.txt", "todo"),
            ("no extension", "no extension"),
            ("archive.md.md", "archive.md"),
            (".md", ""),
            ("日.md", "日"),
            ("é", "é"),
            ("%C3%A9t%c3%a9.md", "été"),
            ("100%.md", "100%"),
            ("%zz%4%.md", "%zz%4%"),
            ("%E9t%E9.md", "%E9t%E9"),
            ("%C3%A9%FF%41.md", "é%FFA"),
            ("%F0%9F%A6.md", "%F0%9F%A6"),
            ("%F0%9F%A6%80.md", "🦀"),
            ("%2541.md", "%41"),
        ] {
            assert_eq!(title_from_file_name(name), title, "{name:?}");
        }
    }

    #[test]
    fn title_from_file_name_never_panics() {
        let palette: Vec<char> = "%%%0aAfFgG9/\\.mdMDtx é日\u{80}".chars().collect();
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let len = rng.random_range(0..12);
            let name: String = (0..len)
                .map(|_| palette[rng.random_range(0..palette.len())])
                .collect();
            title_from_file_name(&name);
        }
    }
}
