//! Finding a query in a page's text, ignoring case, without a lowercased copy of the page.
//!
//! What "ignoring case" means is fixed by the first implementation (kept in the tests as the
//! reference): a match starts at a character of the text, and the text's characters from there,
//! each lowercased on its own (`char::to_lowercase`), spell the query (already lowercase).
//! Everything here finds exactly those matches, only faster: most queries are ASCII, and an
//! ASCII query can only be spelled by ASCII characters, K (Kelvin sign, lowercase `k`) and İ
//! (lowercase `i` + U+0307) — `only_kelvin_and_dotted_i_lowercase_to_ascii` checks that against
//! every character — so it is a byte search that never decodes or copies the text.

use memchr::{memchr2_iter, memmem};

use crate::text::utf16::len as utf16_len;

const KELVIN: &str = "\u{212A}";
const DOTTED_I: &str = "\u{130}";

/// The first case-insensitive match of `query` (already lowercase) in `text`: its UTF-16 offset
/// and a one-line snippet around it.
pub(super) fn find_in(text: &str, query: &str) -> Option<(u32, String)> {
    const CONTEXT: usize = 40;
    let start = match_start(text, query)?;
    let index = utf16_len(&text[..start]) as u32;
    let from = text[..start]
        .char_indices()
        .rev()
        .take(CONTEXT)
        .last()
        .map_or(start, |(at, _)| at);
    let to = text[start..]
        .char_indices()
        .nth(query.chars().count() + CONTEXT)
        .map_or(text.len(), |(at, _)| start + at);
    let mut snippet = String::with_capacity(to - from + 6);
    if from > 0 {
        snippet.push('…');
    }
    snippet.extend(
        text[from..to]
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c }),
    );
    if to < text.len() {
        snippet.push('…');
    }
    Some((index, snippet))
}

/// The byte offset in `text` of the first character where `query` (lowercase) begins, ignoring
/// case as the module says.
pub(super) fn match_start(text: &str, query: &str) -> Option<usize> {
    let first = query.chars().next()?;
    let bytes = text.as_bytes();
    // The non-ASCII characters that lowercase to an ASCII letter, and whether the text has one
    // (checked only when the query has that letter: a search for "the" never looks).
    let odd = |letter: u8, odd: &str| {
        query.as_bytes().contains(&letter) && memmem::find(bytes, odd.as_bytes()).is_some()
    };
    let (kelvin, dotted_i) = (odd(b'k', KELVIN), odd(b'i', DOTTED_I));
    if query
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        && !kelvin
        && !dotted_i
    {
        return ascii_find(bytes, query.as_bytes());
    }
    // A query that begins with ASCII ("straße"): that prefix is spelled only by ASCII
    // characters (K and İ aside, not here), so its places are found as bytes, and only those
    // are checked character by character, not every place its first letter is.
    // And each of its ASCII runs is somewhere in the text, or it is nowhere: the longest is
    // looked for first, as bytes ("straße nicht" is not in a text without " nicht").
    if !kelvin && !dotted_i {
        let longest = query
            .as_bytes()
            .split(|b| !b.is_ascii())
            .max_by_key(|run| run.len())
            .unwrap_or_default();
        if longest.len() >= 2 && ascii_find(bytes, longest).is_none() {
            return None;
        }
    }
    let prefix = query.bytes().take_while(u8::is_ascii).count();
    if prefix >= 2 && !kelvin && !dotted_i {
        return ascii_matches(bytes, &query.as_bytes()[..prefix])
            .find(|&at| lowercase_starts_with(&text[at..], query));
    }
    let odd_first = (first == 'k' && kelvin) || (first == 'i' && dotted_i);
    if first.is_ascii() && !odd_first {
        // Only the first letter in either case can begin a match.
        let lower = first as u8;
        let upper = lower.to_ascii_uppercase();
        return memchr2_iter(lower, upper, bytes)
            .find(|&at| lowercase_starts_with(&text[at..], query));
    }
    let non_ascii_only = !first.is_ascii();
    let mut last: Option<(char, bool)> = None;
    let mut at = 0;
    while at < bytes.len() {
        if non_ascii_only {
            // An ASCII character lowercases to ASCII: it cannot begin this match.
            at += ascii_run(&bytes[at..]);
            if at == bytes.len() {
                break;
            }
        }
        let c = text[at..].chars().next()?;
        // Looking a character's lowercase up is a table search: remember the last one.
        let begins = match last {
            Some((seen, begins)) if seen == c => begins,
            _ => {
                let begins = c.to_lowercase().next() == Some(first);
                last = Some((c, begins));
                begins
            }
        };
        if begins && lowercase_starts_with(&text[at..], query) {
            return Some(at);
        }
        at += c.len_utf8();
    }
    None
}

/// Whether the characters of `text`, each lowercased, spell `query` from the start.
fn lowercase_starts_with(text: &str, query: &str) -> bool {
    let mut wanted = query.chars();
    for c in text.chars().flat_map(char::to_lowercase) {
        match wanted.next() {
            None => return true,
            Some(w) if w == c => {}
            Some(_) => return false,
        }
    }
    wanted.next().is_none()
}

/// How many bytes at the start of `bytes` are ASCII, eight at a time.
fn ascii_run(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let high = word & 0x8080_8080_8080_8080;
        if high != 0 {
            return at + (high.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..].iter().take_while(|b| b.is_ascii()).count()
}

/// The first place `needle` (lowercase ASCII) occurs in `hay` ignoring ASCII case. Only ASCII
/// bytes match ASCII bytes, and they never occur inside a multi-byte character, so a match is
/// always at a character boundary. The scan jumps between occurrences of the needle's rarest
/// byte (memchr, in both cases), so common letters do not stop it at every other byte.
fn ascii_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    ascii_matches(hay, needle).next()
}

/// Every place, in order, where `needle` (lowercase ASCII, not empty) occurs in `hay` ignoring
/// ASCII case, found as [`ascii_find`] says.
fn ascii_matches<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let (anchor, rare) = needle
        .iter()
        .enumerate()
        .min_by_key(|&(_, &b)| commonness(b))
        .map_or((0, 0), |(at, &b)| (at, b));
    // Not a letter: its "upper case" is itself, and memchr2 looks for it twice.
    let places = (!needle.is_empty()).then(|| memchr2_iter(rare, rare.to_ascii_uppercase(), hay));
    places.into_iter().flatten().filter_map(move |at| {
        let start = at.checked_sub(anchor)?;
        let candidate = hay.get(start..start + needle.len())?;
        candidate.eq_ignore_ascii_case(needle).then_some(start)
    })
}

/// How often a byte turns up in prose, roughly (a rank: 0 is rarest). Letters by English
/// frequency, then space; digits and punctuation rarer than letters.
fn commonness(b: u8) -> u8 {
    const LETTERS: &[u8] = b"zqxjkvbpygfwmucldrhsnioate";
    match b {
        b' ' => 200,
        b'a'..=b'z' => 100 + LETTERS.iter().position(|&l| l == b).unwrap_or(0) as u8,
        b'0'..=b'9' | b'.' | b',' | b'\n' | b'-' => 50,
        _ => 0,
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
