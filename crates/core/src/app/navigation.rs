//! Moving between pages.

use crate::notebook::{PageInfo, HOME};
use crate::room::Room;

/// What following a `[[wiki link]]` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Open the first page with that title (ignoring case and surrounding spaces).
    Open(String),
    /// There is none: create a page with this title, and open it.
    Create(String),
}

pub fn follow_link(room: &Room, title: &str) -> Follow {
    let title = title.trim();
    match room.find_page(title) {
        Some(id) => Follow::Open(id),
        None => Follow::Create(title.to_owned()),
    }
}

/// The page to show when the list changes: the open one while it exists, else home (someone
/// deleted the page this person had open).
pub fn page_to_show<'a>(pages: &[PageInfo], open: &'a str) -> &'a str {
    if pages.iter().any(|page| page.id == open) {
        open
    } else {
        HOME
    }
}

/// A page's title in the list (empty if it has none, or is gone).
pub fn title_of(pages: &[PageInfo], id: &str) -> String {
    pages
        .iter()
        .find(|page| page.id == id)
        .map(|page| page.title.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        crate::room::test_room()
    }

    #[test]
    fn links_open_a_page_by_title_or_create_it() {
        let mut room = room();
        let id = room.create_page(0, "Reading List", "");
        assert_eq!(follow_link(&room, " reading list "), Follow::Open(id));
        assert_eq!(
            follow_link(&room, " Ideas "),
            Follow::Create("Ideas".into())
        );
    }

    #[test]
    fn a_page_that_is_gone_falls_back_to_home() {
        let mut room = room();
        let id = room.create_page(0, "Doomed", "");
        assert_eq!(page_to_show(&room.pages(), &id), id);
        assert_eq!(title_of(&room.pages(), &id), "Doomed");
        room.delete_page(1, &id);
        assert_eq!(page_to_show(&room.pages(), &id), HOME);
        assert_eq!(title_of(&room.pages(), &id), "");
    }
}
