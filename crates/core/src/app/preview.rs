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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notebook::HOME;
    use crate::room::RoomConfig;
    use crate::text::Splice;

    fn room() -> Room {
        let config = RoomConfig {
            name: "r".into(),
            peer_id: "me".into(),
            client_id: 1,
            entropy: [1; 32],
            max_conns: 20,
            key: None,
        };
        Room::new(config, notebook::new_doc(1), 0)
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
}
