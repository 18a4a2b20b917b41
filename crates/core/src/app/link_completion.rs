//! Completing a `[[wiki link]]` as it is typed: whether the caret is in a link still open, the
//! pages it may name, and the splice that finishes it. The editor shows the suggestions while
//! the caret stays in the link; [`LinkCompletion`] keeps which one is chosen and whether the
//! person closed the list.
//!
//! Offsets are UTF-16 units, as the editor counts. The caret is only ever looked at together with
//! the text of its line before it (a link never spans lines), so the shell reads a bounded piece
//! of the textarea, never the page ([`CONTEXT_UNITS`]). A `[[` inside an inline code span on its
//! line (an odd number of backticks before it) opens nothing; one inside a fenced or indented
//! code block is not told apart (that needs the lines above) and is completed like any other.

use crate::notebook::title_key;
use crate::text::diff::Splice;
use crate::text::utf16;

/// How much text before the caret the shell reads: a query longer than this is not completed.
pub const CONTEXT_UNITS: u32 = 256;
/// Pages suggested at most (the create item comes on top of them).
pub const MAX_SUGGESTIONS: usize = 8;

/// A wiki link the caret is in whose `]]` is not typed yet: `[[query|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLink {
    /// Where the query begins, just after `[[`.
    pub start: u32,
    /// What was typed between `[[` and the caret.
    pub query: String,
}

/// The open link the caret at `caret` is in, given text ending at the caret (at least the part
/// of its line after the last `[[`). `None` if a `]]`, a `|` (the caret is in the link's label)
/// or a line break comes between the last `[[` and the caret, or that `[[` is in a code span.
pub fn open_link(before: &str, caret: u32) -> Option<OpenLink> {
    let line = before.rsplit('\n').next().unwrap_or(before);
    let at = line.rfind("[[")?;
    let query = &line[at + 2..];
    if query.contains("]]") || query.contains('|') {
        return None;
    }
    if line[..at].matches('`').count() % 2 == 1 {
        return None;
    }
    let start = caret.checked_sub(utf16::len(query) as u32)?;
    Some(OpenLink {
        start,
        query: query.to_owned(),
    })
}

/// [`open_link`] in a whole text with the caret at UTF-16 offset `caret`; `None` also when the
/// caret is past the end or between the halves of a surrogate pair.
pub fn open_link_in(text: &str, caret: u32) -> Option<OpenLink> {
    let end = byte_offset(text, caret)?;
    open_link(&text[..end], caret)
}

/// The byte offset of UTF-16 offset `units` in `text`, if it falls on a character boundary.
fn byte_offset(text: &str, units: u32) -> Option<usize> {
    let mut counted = 0u32;
    for (byte, c) in text.char_indices() {
        if counted == units {
            return Some(byte);
        }
        if counted > units {
            return None;
        }
        counted += c.len_utf16() as u32;
    }
    (counted == units).then_some(text.len())
}

/// One item of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suggestion {
    /// A page with this title.
    Page(String),
    /// No page has the typed title: create one with it (trimmed).
    Create(String),
}

impl Suggestion {
    /// The title the link gets.
    pub fn title(&self) -> &str {
        match self {
            Suggestion::Page(title) | Suggestion::Create(title) => title,
        }
    }
}

/// The pages `query` may name, ignoring case: titles that begin with it first, then those that
/// contain it, each in the notebook's order, at most [`MAX_SUGGESTIONS`]; then the create item,
/// unless the query is blank or a page has exactly that title (as links compare titles:
/// [`title_key`]). Untitled pages cannot be linked to and are left out; so are repeated titles.
pub fn suggest<'a>(query: &str, titles: impl IntoIterator<Item = &'a str>) -> Vec<Suggestion> {
    let wanted = title_key(query);
    let mut prefix = Vec::new();
    let mut inside = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for title in titles {
        let key = title_key(title);
        if key.is_empty() || !seen.insert(key.clone()) {
            continue;
        }
        if key.starts_with(&wanted) {
            prefix.push(title);
        } else if key.contains(&wanted) {
            inside.push(title);
        }
    }
    let mut shown: Vec<Suggestion> = prefix
        .into_iter()
        .chain(inside)
        .take(MAX_SUGGESTIONS)
        .map(|title| Suggestion::Page(title.to_owned()))
        .collect();
    if !wanted.is_empty() && !seen.contains(&wanted) {
        shown.push(Suggestion::Create(query.trim().to_owned()));
    }
    shown
}

/// What choosing a title does to the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub splice: Splice,
    /// Where the caret goes: after the link's `]]`.
    pub caret: u32,
}

/// The splice that completes `link` with `title`, the caret at `caret` and `after` the text
/// following it: the query is replaced by `title]]`, or by `title` alone when `]]` follows the
/// caret already.
pub fn complete(link: &OpenLink, caret: u32, after: &str, title: &str) -> Completion {
    let closed = after.starts_with("]]");
    let insert = if closed {
        title.to_owned()
    } else {
        format!("{title}]]")
    };
    let index = link.start.min(caret);
    Completion {
        caret: index + utf16::len(title) as u32 + 2,
        splice: Splice {
            index,
            delete: caret - index,
            insert,
        },
    }
}

/// The list as shown: for which link, its items, the active one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub link: OpenLink,
    pub suggestions: Vec<Suggestion>,
    pub active: usize,
}

/// What a key pressed in the editor does while the list may be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Not the list's: the editor gets it.
    Pass,
    /// The list took it (moved, closed): the editor must not get it.
    Handled,
    /// Complete the link with this item.
    Accept(OpenLink, Suggestion),
}

/// The list's state across keystrokes and caret moves.
#[derive(Debug, Default)]
pub struct LinkCompletion {
    shown: Option<Shown>,
    /// Escape closed the list of the link beginning here: it stays closed while the caret stays
    /// in that link.
    dismissed: Option<u32>,
}

impl LinkCompletion {
    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    /// The text or the caret changed: `link` is the open link the caret is in now, if any, and
    /// `titles` the notebook's. The active item stays while the items stay the same.
    pub fn update<'a>(
        &mut self,
        link: Option<OpenLink>,
        titles: impl IntoIterator<Item = &'a str>,
    ) {
        let Some(link) = link else {
            self.dismissed = None;
            self.shown = None;
            return;
        };
        if self.dismissed.is_some_and(|start| start != link.start) {
            self.dismissed = None;
        }
        if self.dismissed.is_some() {
            self.shown = None;
            return;
        }
        let suggestions = suggest(&link.query, titles);
        if suggestions.is_empty() {
            self.shown = None;
            return;
        }
        let active = match &self.shown {
            Some(shown) if shown.suggestions == suggestions => shown.active,
            _ => 0,
        };
        self.shown = Some(Shown {
            link,
            suggestions,
            active,
        });
    }

    /// Closes the list for now (the editor lost focus, another page opened); it opens again the
    /// next time the caret moves in a link.
    pub fn close(&mut self) {
        self.shown = None;
    }

    /// The item at `index`, for the link shown (a click).
    pub fn pick(&self, index: usize) -> Option<(OpenLink, Suggestion)> {
        let shown = self.shown.as_ref()?;
        let chosen = shown.suggestions.get(index)?;
        Some((shown.link.clone(), chosen.clone()))
    }

    /// A key pressed in the editor (`key` as `KeyboardEvent.key`; `plain`: no modifier held and
    /// no input method composing). Arrows move the active item round the list, Enter and Tab
    /// accept it, Escape closes the list until the caret leaves the link.
    pub fn key(&mut self, key: &str, plain: bool) -> KeyAction {
        let Some(shown) = &mut self.shown else {
            return KeyAction::Pass;
        };
        if !plain {
            return KeyAction::Pass;
        }
        let count = shown.suggestions.len();
        match key {
            "ArrowDown" => shown.active = (shown.active + 1) % count,
            "ArrowUp" => shown.active = (shown.active + count - 1) % count,
            "Enter" | "Tab" => {
                let chosen = shown.suggestions[shown.active.min(count - 1)].clone();
                return KeyAction::Accept(shown.link.clone(), chosen);
            }
            "Escape" => {
                self.dismissed = Some(shown.link.start);
                self.shown = None;
            }
            _ => return KeyAction::Pass,
        }
        KeyAction::Handled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(start: u32, query: &str) -> Option<OpenLink> {
        Some(OpenLink {
            start,
            query: query.into(),
        })
    }

    fn pages(names: &[&str]) -> Vec<Suggestion> {
        names
            .iter()
            .map(|n| Suggestion::Page((*n).into()))
            .collect()
    }

    const TITLES: &[&str] = &["Apple pie", "Apricot", "Banana", "Grape", "Pineapple"];

    #[test]
    fn the_caret_after_an_open_bracket_pair_is_in_a_link() {
        assert_eq!(open_link_in("See [[ap", 8), link(6, "ap"));
        assert_eq!(open_link_in("See [[", 6), link(6, ""));
        // The caret in the middle of what was typed: the query is what comes before it.
        assert_eq!(open_link_in("See [[apple", 8), link(6, "ap"));
        // Only the last `[[` counts, and only the caret's line.
        assert_eq!(open_link_in("[[Done]] and [[ne", 17), link(15, "ne"));
        assert_eq!(open_link_in("[[x\nSee [[y", 11), link(10, "y"));
    }

    #[test]
    fn a_caret_outside_an_open_link_is_not_in_one() {
        assert_eq!(open_link_in("plain text", 5), None);
        assert_eq!(open_link_in("See [[Done]] after", 18), None);
        assert_eq!(open_link_in("See [[Done]]", 12), None);
        assert_eq!(open_link_in("[[a\nb", 5), None);
        assert_eq!(open_link_in("[[Title|lab", 11), None);
        assert_eq!(open_link_in("See [ap", 7), None);
        // Before the `[[`.
        assert_eq!(open_link_in("See [[ap", 3), None);
        // In an inline code span, but after one that closed.
        assert_eq!(open_link_in("`[[code", 7), None);
        assert_eq!(open_link_in("`a` [[b", 7), link(6, "b"));
    }

    #[test]
    fn bad_offsets_are_not_in_a_link() {
        assert_eq!(open_link_in("[[ab", 9), None);
        // Between the halves of 😀 (two units).
        assert_eq!(open_link_in("[[😀", 3), None);
        assert_eq!(open_link_in("[[😀", 4), link(2, "😀"));
        // Text shorter than the query claims (an inconsistent caret).
        assert_eq!(open_link("[[abc", 1), None);
    }

    #[test]
    fn offsets_count_utf16_units() {
        // "Été 😀 " is 7 units; `[[` at 7, the query from 9.
        let text = "Été 😀 [[Crème";
        assert_eq!(open_link_in(text, 14), link(9, "Crème"));
        // Text before the caret need not begin at the page's start.
        assert_eq!(open_link("😀 [[Crè", 1000), link(997, "Crè"));
    }

    #[test]
    fn prefix_matches_come_before_others_ignoring_case() {
        assert_eq!(
            suggest("ap", TITLES.iter().copied()),
            [
                pages(&["Apple pie", "Apricot", "Grape", "Pineapple"]),
                vec![Suggestion::Create("ap".into())]
            ]
            .concat()
        );
        assert_eq!(
            suggest("APPLE", TITLES.iter().copied()),
            [
                pages(&["Apple pie", "Pineapple"]),
                vec![Suggestion::Create("APPLE".into())]
            ]
            .concat()
        );
    }

    #[test]
    fn an_existing_title_is_not_offered_for_creation() {
        assert_eq!(
            suggest(" apricot ", TITLES.iter().copied()),
            pages(&["Apricot"])
        );
        assert_eq!(
            suggest("Cherry", TITLES.iter().copied()),
            vec![Suggestion::Create("Cherry".into())]
        );
    }

    #[test]
    fn an_empty_query_offers_pages_but_no_creation() {
        let all = suggest("", TITLES.iter().copied());
        assert_eq!(all, pages(TITLES));
        assert_eq!(suggest("  ", std::iter::empty()), vec![]);
    }

    #[test]
    fn at_most_a_few_pages_are_suggested_and_none_twice_or_untitled() {
        let titles: Vec<String> = (0..20).map(|i| format!("Note {i}")).collect();
        let shown = suggest("note", titles.iter().map(String::as_str));
        assert_eq!(shown.len(), MAX_SUGGESTIONS + 1);
        assert_eq!(
            suggest("a", ["", "  ", "Ab", "ab", "AB "]),
            vec![
                Suggestion::Page("Ab".into()),
                Suggestion::Create("a".into())
            ]
        );
    }

    #[test]
    fn non_ascii_titles_match_ignoring_case() {
        let titles = ["Éclair", "Crème brûlée", "Ωmega 😀"];
        assert_eq!(
            suggest("é", titles),
            [
                pages(&["Éclair", "Crème brûlée"]),
                vec![Suggestion::Create("é".into())]
            ]
            .concat()
        );
        assert_eq!(
            suggest("BRÛ", titles),
            [
                pages(&["Crème brûlée"]),
                vec![Suggestion::Create("BRÛ".into())]
            ]
            .concat()
        );
        assert_eq!(suggest("ωmega 😀", titles), pages(&["Ωmega 😀"]));
    }

    #[test]
    fn completing_replaces_the_query_and_closes_the_link() {
        let text = "See [[ap";
        let open = open_link_in(text, 8).unwrap();
        let done = complete(&open, 8, "", "Apricot");
        assert_eq!(
            done.splice,
            Splice {
                index: 6,
                delete: 2,
                insert: "Apricot]]".into()
            }
        );
        assert_eq!(done.caret, 15);
        assert_eq!(apply(text, &done.splice), "See [[Apricot]]");
    }

    #[test]
    fn a_closing_pair_already_there_is_not_doubled() {
        let text = "See [[ap]] more";
        let open = open_link_in(text, 8).unwrap();
        let done = complete(&open, 8, "]] more", "Apricot");
        assert_eq!(apply(text, &done.splice), "See [[Apricot]] more");
        // The caret after the `]]` that was there.
        assert_eq!(done.caret, 15);
    }

    #[test]
    fn completing_counts_utf16_units() {
        let text = "😀 [[cr";
        let open = open_link_in(text, 7).unwrap();
        assert_eq!(open.start, 5);
        let done = complete(&open, 7, "", "Crème 😀");
        assert_eq!(apply(text, &done.splice), "😀 [[Crème 😀]]");
        assert_eq!(done.caret as usize, utf16::len("😀 [[Crème 😀]]"));
    }

    fn apply(text: &str, splice: &Splice) -> String {
        let mut units = utf16::units(text);
        let (from, to) = (
            splice.index as usize,
            (splice.index + splice.delete) as usize,
        );
        units.splice(from..to, splice.insert.encode_utf16());
        String::from_utf16(&units).unwrap()
    }

    #[test]
    fn keys_move_round_the_list_and_accept() {
        let mut list = LinkCompletion::default();
        list.update(open_link_in("See [[ap", 8), TITLES.iter().copied());
        assert_eq!(list.shown().unwrap().suggestions.len(), 5);
        assert_eq!(list.key("ArrowDown", true), KeyAction::Handled);
        assert_eq!(list.shown().unwrap().active, 1);
        // The same link seen again (the caret event after the input): the choice stays.
        list.update(open_link_in("See [[ap", 8), TITLES.iter().copied());
        assert_eq!(list.shown().unwrap().active, 1);
        assert_eq!(
            list.key("Enter", true),
            KeyAction::Accept(link(6, "ap").unwrap(), Suggestion::Page("Apricot".into()))
        );
        // Round from the top to the bottom (the create item).
        list.update(open_link_in("See [[apr", 9), TITLES.iter().copied());
        assert_eq!(list.shown().unwrap().active, 0);
        list.key("ArrowUp", true);
        assert_eq!(
            list.key("Tab", true),
            KeyAction::Accept(link(6, "apr").unwrap(), Suggestion::Create("apr".into()))
        );
        // With a modifier, or composing, the editor gets the key.
        assert_eq!(list.key("Enter", false), KeyAction::Pass);
        assert_eq!(list.key("a", true), KeyAction::Pass);
        assert_eq!(list.pick(1).unwrap().1, Suggestion::Create("apr".into()));
        assert_eq!(list.pick(2), None);
    }

    #[test]
    fn escape_closes_the_list_until_the_caret_leaves_the_link() {
        let mut list = LinkCompletion::default();
        let titles = || TITLES.iter().copied();
        list.update(open_link_in("See [[a", 7), titles());
        assert_eq!(list.key("Escape", true), KeyAction::Handled);
        assert!(list.shown().is_none());
        // Typing on in the same link: still closed, and keys go to the editor.
        list.update(open_link_in("See [[ap", 8), titles());
        assert!(list.shown().is_none());
        assert_eq!(list.key("Enter", true), KeyAction::Pass);
        // The caret left the link and came back: open again.
        list.update(open_link_in("See [[ap", 3), titles());
        list.update(open_link_in("See [[ap", 8), titles());
        assert!(list.shown().is_some());
        // Another link opens its own list.
        list.key("Escape", true);
        list.update(open_link_in("See [[ap [[b", 12), titles());
        assert_eq!(
            list.shown().unwrap().suggestions[0],
            Suggestion::Page("Banana".into())
        );
    }

    #[test]
    fn nothing_to_suggest_shows_no_list() {
        let mut list = LinkCompletion::default();
        list.update(open_link_in("[[", 2), std::iter::empty());
        assert!(list.shown().is_none());
        assert_eq!(list.key("Enter", true), KeyAction::Pass);
        list.update(open_link_in("[[x", 3), std::iter::empty());
        assert!(list.shown().is_some());
        list.close();
        assert!(list.shown().is_none());
    }
}
