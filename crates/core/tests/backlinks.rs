//! The room keeps each page's wiki links once found: every change of a page's text, this
//! person's or anyone else's, and every change to the list must be seen in the next backlinks.

mod support;

use commonplace_core::notebook::{Notebook, HOME};
use commonplace_core::room::Room;
use commonplace_core::text::diff::Splice;
use support::new_room;
use yrs::Transact;

/// The room's backlinks of `page`, which must be what reading every page now gives.
fn ids(room: &Room, page: &str) -> Vec<String> {
    let kept = room.backlinks(page);
    let fresh = Notebook::new(room.doc()).backlinks(&room.doc().transact(), page);
    assert_eq!(kept, fresh);
    kept.into_iter().map(|p| p.id).collect()
}

fn type_at(room: &mut Room, now: u64, page: &str, index: u32, delete: u32, insert: &str) {
    let splice = Splice {
        index,
        delete,
        insert: insert.to_owned(),
    };
    room.edit(now, page, &[splice], Some((index, index)));
}

#[test]
fn an_edit_anywhere_is_seen_in_the_next_backlinks() {
    let mut room = new_room("links", "a", 1, 1, 0);
    let target = room.create_page(1, "Target", "");
    let from = room.create_page(1, "From", "see [[target]]");
    assert_eq!(ids(&room, &target), [from.as_str()]);
    // This person removes the link (the answer was kept; the edit must make it go).
    type_at(&mut room, 1_000, &from, 4, 10, "nothing");
    assert!(ids(&room, &target).is_empty());
    // ...and links from the home page.
    type_at(&mut room, 2_000, HOME, 0, 0, "[[Target]]");
    assert_eq!(ids(&room, &target), [HOME.to_owned()]);

    // Someone else links from another page, and unlinks home: their update arrives.
    let mut other = new_room("links", "b", 2, 2, 0);
    other.import_update(1, &room.encode_state()).unwrap();
    let third = other.create_page(2, "Third", "[[TARGET]] too");
    type_at(&mut other, 3_000, HOME, 0, 10, "");
    room.import_update(2, &other.encode_state()).unwrap();
    assert_eq!(ids(&room, &target), [third.as_str()]);

    // Undo (its own transaction) takes this person's new link away again; deleting a page
    // takes its links with it.
    type_at(&mut room, 4_000, &from, 0, 0, "[[Target]] ");
    assert_eq!(ids(&room, &target), [from.clone(), third.clone()]);
    assert!(room.undo(9_000, &from));
    assert_eq!(ids(&room, &target), [third.as_str()]);
    room.delete_page(4, &third);
    assert!(ids(&room, &target).is_empty());

    // A renamed target is linked by its new title only.
    room.rename_page(5, &target, "Renamed");
    type_at(&mut room, 10_000, &from, 0, 0, "[[renamed]] ");
    assert_eq!(ids(&room, &target), [from.as_str()]);
}

#[test]
fn links_kept_in_steps_give_the_same_backlinks() {
    let mut room = new_room("links", "a", 1, 1, 0);
    let target = room.create_page(1, "Target", "");
    let mut linking = Vec::new();
    for i in 0..25 {
        let body = if i % 3 == 0 {
            "see [[Target]]"
        } else {
            "see [[Elsewhere]]"
        };
        let id = room.create_page(1, &format!("Page {i}"), body);
        if i % 3 == 0 {
            linking.push(id);
        }
    }
    // 27 pages (home, the target, 25 more), 10 at a time: three steps.
    assert!(!room.keep_links(10));
    assert!(!room.keep_links(10));
    // A page's text changes between steps: its links are read again.
    type_at(&mut room, 1_000, &linking[0], 0, 0, "no link here, ");
    assert!(room.keep_links(10));
    assert!(room.keep_links(0), "all kept: nothing left to read");
    assert_eq!(ids(&room, &target), linking);
    // An edit forgets that page's links: one more to read.
    type_at(&mut room, 2_000, &linking[1], 0, 14, "");
    assert!(!room.keep_links(0));
    assert!(room.keep_links(1));
    assert_eq!(
        ids(&room, &target),
        [vec![linking[0].clone()], linking[2..].to_vec()].concat()
    );
}
