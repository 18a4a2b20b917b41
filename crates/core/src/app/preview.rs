//! The rendered preview of the open page.

use std::collections::HashSet;

use crate::notebook::{self, markdown};
use crate::room::Room;

/// Past this, rendering would stall the page for longer than a pause in typing lasts.
pub const PREVIEW_MAX_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Safe HTML (see [`markdown::render`]) to set as the preview's content.
    Html(String),
    /// The page is too large to render live: this text instead.
    TooLarge(String),
}

/// The preview of `page` (empty if it is gone); wiki links to missing pages are marked.
pub fn preview(room: &Room, page: &str) -> Preview {
    let text = room.page_text(page).unwrap_or_default();
    if text.len() > PREVIEW_MAX_BYTES {
        // Tenths of a megabyte, in integers: no float formatting code in the app for this.
        let tenths = (text.len() + 50_000) / 100_000;
        return Preview::TooLarge(format!(
            "This page ({}.{} MB) is too large for a live preview.",
            tenths / 10,
            tenths % 10
        ));
    }
    let titles: HashSet<String> = room
        .pages()
        .iter()
        .map(|page| notebook::title_key(&page.title))
        .collect();
    let exists = |title: &str| titles.contains(&notebook::title_key(title));
    Preview::Html(markdown::render(&text, &exists))
}

/// Which of the preview's top-level nodes a new rendering changes: the shown nodes
/// `start..old_end` give way to the new rendering's `start..new_end`; those before `start` and
/// after the ends are the same in both and stay. Replacing the whole preview had the browser lay
/// out and shape every paragraph of the page again, 50-100 ms for 100 kB, whenever typing paused
/// (and on a peer, whenever typing reached it): a keystroke changes one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedNodes {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
}

/// The span of `old` shown nodes and `new` rendered ones that differs, by the longest common
/// start and then the longest common end of what is left; `same(i, j)` says whether shown node
/// `i` equals rendered node `j`.
pub fn changed_nodes(
    old: usize,
    new: usize,
    mut same: impl FnMut(usize, usize) -> bool,
) -> ChangedNodes {
    let mut start = 0;
    while start < old && start < new && same(start, start) {
        start += 1;
    }
    let (mut old_end, mut new_end) = (old, new);
    while old_end > start && new_end > start && same(old_end - 1, new_end - 1) {
        old_end -= 1;
        new_end -= 1;
    }
    ChangedNodes {
        start,
        old_end,
        new_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notebook::HOME;
    use crate::text::Splice;

    fn room() -> Room {
        crate::room::test_room()
    }

    fn write(room: &mut Room, text: &str) {
        let splice = Splice {
            index: 0,
            delete: 0,
            insert: text.into(),
        };
        room.edit(0, HOME, &[splice], None);
    }

    #[test]
    fn links_to_missing_pages_render_differently() {
        let mut room = room();
        room.create_page(0, "Here", "");
        write(&mut room, "[[here]] and [[gone]]");
        let Preview::Html(html) = preview(&room, HOME) else {
            panic!("a small page renders");
        };
        assert!(
            html.contains(r#"<a class="wikilink" data-title="here""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a class="wikilink missing" data-title="gone""#),
            "{html}"
        );
    }

    #[test]
    fn huge_pages_get_a_notice_instead() {
        let mut room = room();
        write(&mut room, &"x".repeat(PREVIEW_MAX_BYTES + 1));
        assert_eq!(
            preview(&room, HOME),
            Preview::TooLarge("This page (1.0 MB) is too large for a live preview.".into())
        );
    }

    fn changed(old: &str, new: &str) -> (usize, usize, usize) {
        let (old, new): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
        let c = changed_nodes(old.len(), new.len(), |i, j| old[i] == new[j]);
        // What stays and what comes in make the new rendering.
        let mut rebuilt: Vec<char> = old[..c.start].to_vec();
        rebuilt.extend(&new[c.start..c.new_end]);
        rebuilt.extend(&old[c.old_end..]);
        assert_eq!(rebuilt, new);
        (c.start, c.old_end, c.new_end)
    }

    #[test]
    fn only_the_blocks_that_differ_are_replaced() {
        assert_eq!(changed("abc", "abc"), (3, 3, 3));
        assert_eq!(changed("abc", "aXc"), (1, 2, 2));
        assert_eq!(changed("abc", "abXc"), (2, 2, 3));
        assert_eq!(changed("abXc", "abc"), (2, 3, 2));
        assert_eq!(changed("abc", "xyz"), (0, 3, 3));
        assert_eq!(changed("", "ab"), (0, 0, 2));
        assert_eq!(changed("ab", ""), (0, 2, 0));
    }

    #[test]
    fn a_repeated_block_is_not_counted_twice() {
        // The common end stops at the common start: the spans never cross.
        assert_eq!(changed("aa", "aaa"), (2, 2, 3));
        assert_eq!(changed("aaa", "aa"), (2, 3, 2));
        assert_eq!(changed("abab", "ab"), (2, 4, 2));
    }
}
