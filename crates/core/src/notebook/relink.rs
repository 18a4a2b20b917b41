//! Wiki links that follow a renamed page: `[[Old]]` and `[[Old|label]]` become `[[New]]` and
//! `[[New|label]]`.
//!
//! A link is found exactly where the preview renders one ([`markdown::wiki_link_spans`]): not in
//! code, not inside another link, and its title compares as link resolution compares titles
//! ([`title_key`]). Only the title's own characters are replaced, so a label, the spaces around
//! the title and everything else in the page stay as they were, and concurrent edits elsewhere
//! merge.

use super::{markdown, title_key};
use crate::text::diff::Splice;
use crate::text::utf16;

/// Whether `title` can stand in a wiki link as typed: a title with `[`, `]` or `|`, a line
/// break, or nothing but spaces would not read back as the same link.
pub fn linkable(title: &str) -> bool {
    let title = title.trim();
    !title.is_empty() && !title.chars().any(|c| c.is_control() || "[]|".contains(c))
}

/// The splices turning every link to `old` in `markdown` into a link to `new`, last first:
/// each index is an offset (UTF-16) in the text as it was, so they apply one after another.
/// None if `new` is not [`linkable`].
pub fn rewrite(markdown: &str, old: &str, new: &str) -> Vec<Splice> {
    let (wanted, new) = (title_key(old), new.trim());
    if !linkable(new) {
        return Vec::new();
    }
    let mut titles: Vec<std::ops::Range<usize>> = markdown::wiki_link_spans(markdown)
        .into_iter()
        .filter(|(title, _)| title_key(title) == wanted)
        .filter_map(|(title, link): (String, _)| title_range(markdown, &title, link))
        .filter(|range| &markdown[range.clone()] != new)
        .collect();
    titles.dedup();
    // UTF-16 offsets found in one pass over the text, then reversed.
    let mut splices = Vec::with_capacity(titles.len());
    let (mut byte, mut unit) = (0, 0);
    for range in titles {
        unit += utf16::len(&markdown[byte..range.start]);
        byte = range.start;
        splices.push(Splice {
            index: unit as u32,
            delete: utf16::len(&markdown[range]) as u32,
            insert: new.to_owned(),
        });
    }
    splices.reverse();
    splices
}

/// Where `title` (trimmed, as the parser gave it) is in the link at `link`: right after the
/// `[[` (or `![[`) and any spaces, ending at a space, `|` or `]`. None if the source does not
/// read so (then the link is left alone rather than guessed at).
fn title_range(
    markdown: &str,
    title: &str,
    link: std::ops::Range<usize>,
) -> Option<std::ops::Range<usize>> {
    let source = markdown.get(link.clone())?;
    let after_open = source.find("[[")? + 2;
    let rest = &source[after_open..];
    let start = after_open + (rest.len() - rest.trim_start().len());
    let end = start + title.len();
    let follows = source.get(end..)?.chars().next()?;
    let exact = source.get(start..end) == Some(title);
    (exact && (follows.is_whitespace() || follows == '|' || follows == ']'))
        .then(|| link.start + start..link.start + end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, splices: &[Splice]) -> String {
        let mut units = utf16::units(text);
        for splice in splices {
            let at = splice.index as usize;
            let insert: Vec<u16> = splice.insert.encode_utf16().collect();
            units.splice(at..at + splice.delete as usize, insert);
        }
        String::from_utf16(&units).unwrap()
    }

    fn renamed(text: &str, old: &str, new: &str) -> String {
        apply(text, &rewrite(text, old, new))
    }

    #[test]
    fn both_forms_and_the_way_titles_compare() {
        assert_eq!(
            renamed("see [[Alpha]] and [[Alpha|the first]]", "Alpha", "Gamma"),
            "see [[Gamma]] and [[Gamma|the first]]"
        );
        // Case and surrounding spaces as resolution ignores them; the spaces stay.
        assert_eq!(
            renamed("[[ alpha ]], [[ALPHA|x]], ![[Alpha]]", " Alpha", "Gamma "),
            "[[ Gamma ]], [[Gamma|x]], ![[Gamma]]"
        );
    }

    #[test]
    fn only_links_to_that_title() {
        // Not a longer title, not a label, not in code; a link in a link's text is one (the
        // outer one is then not a link, as CommonMark says and the preview shows).
        let text = "[[Alphabet]] [[Alpha beta]] [[Alpha]] Alpha `[[Alpha]]`\n\n    [[Alpha]]\n\n\
                    ```\n[[Alpha]]\n```\n\n[x [[Alpha]]](https://example.com) [[Beta|Alpha]]";
        assert_eq!(
            renamed(text, "Alpha", "Gamma"),
            text.replacen("[[Alpha]] Alpha", "[[Gamma]] Alpha", 1)
                .replace("[x [[Alpha]]]", "[x [[Gamma]]]")
        );
    }

    #[test]
    fn utf16_offsets_and_several_links_in_one_pass() {
        let text = "😀 [[Ärger]] é [[ärger|😀]]\n- [[ÄRGER]]";
        assert_eq!(
            renamed(text, "Ärger", "Freude 😀"),
            "😀 [[Freude 😀]] é [[Freude 😀|😀]]\n- [[Freude 😀]]"
        );
    }

    #[test]
    fn a_title_that_cannot_be_linked_rewrites_nothing() {
        for new in ["", "  ", "a|b", "a]]", "[a", "a\nb"] {
            assert!(rewrite("[[Alpha]]", "Alpha", new).is_empty(), "{new:?}");
        }
        assert!(rewrite("[[Alpha]]", "Alpha", "Alpha").is_empty());
    }
}
