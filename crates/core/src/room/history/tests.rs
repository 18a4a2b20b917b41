use super::*;
use crate::notebook::HOME;
use crate::room::server_store::tests::{keyed_room, pump_store, Store};
use crate::room::server_store::StoreRequest;
use crate::room::{test_room, Input, Output};
use crate::text::Splice;

fn typed(room: &mut Room, now: u64, page: &str, text: &str) {
    let end = room
        .page_text(page)
        .map_or(0, |t| crate::text::utf16::len(&t) as u32);
    let splice = Splice {
        index: end,
        delete: 0,
        insert: text.into(),
    };
    room.edit(now, page, &[splice], None);
}

/// Drains outputs; returns the history updates to store and whether the history changed.
fn drain(room: &mut Room) -> (Vec<Vec<u8>>, bool) {
    let mut stored = Vec::new();
    let mut changed = false;
    while let Some(output) = room.poll_output() {
        match output {
            Output::Effect(Effect::StoreHistory(update)) => stored.push(update),
            Output::Event(Event::HistoryChanged) => changed = true,
            _ => {}
        }
    }
    (stored, changed)
}

fn room_with_history() -> Room {
    let mut room = test_room();
    room.set_user(0, "Ada", "#1e88e5");
    room.load_history(0, &[]);
    drain(&mut room);
    room
}

/// Lets time pass until `to`, handling every timeout the room asks for on the way.
fn advance(room: &mut Room, to: u64) {
    while let Some(due) = room.poll_timeout().filter(|&due| due <= to) {
        room.handle(due, Input::Timeout);
        drain(room);
    }
}

#[test]
fn a_version_follows_a_pause_in_editing_and_no_sooner() {
    let start = 1_000 * AUTO_EVERY_MS;
    let mut room = test_room();
    room.set_user(start, "Ada", "#1e88e5");
    typed(&mut room, start, HOME, "before the history is read");
    advance(&mut room, start + 2 * AUTO_EVERY_MS);
    assert!(
        room.versions().is_empty(),
        "none while this browser's history is unread"
    );
    let loaded = start + 2 * AUTO_EVERY_MS;
    room.load_history(loaded, &[]);
    typed(&mut room, loaded + 1_000, HOME, " and after");
    advance(&mut room, loaded + 1_000 + AUTO_PAUSE_MS - 1);
    assert!(room.versions().is_empty(), "not before the pause");
    room.handle(loaded + 1_000 + AUTO_PAUSE_MS, Input::Timeout);
    let (stored, changed) = drain(&mut room);
    assert!(changed && !stored.is_empty());
    let versions = room.versions();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].authors, vec!["Ada"]);
    assert_eq!(versions[0].name, None);
    // Nothing changed since: no other version, however long the wait.
    advance(&mut room, loaded + 20 * AUTO_EVERY_MS);
    assert_eq!(room.versions().len(), 1);
}

#[test]
fn automatic_versions_are_at_most_every_few_minutes() {
    let mut room = room_with_history();
    room.set_version_timing(VersionTiming {
        pause_ms: 1_000,
        every_ms: 60_000,
    });
    let start = 1_000_000;
    typed(&mut room, start, HOME, "one");
    advance(&mut room, start + 1_000);
    assert_eq!(room.versions().len(), 1);
    typed(&mut room, start + 2_000, HOME, " two");
    advance(&mut room, start + 59_999);
    assert_eq!(room.versions().len(), 1, "a minute at least between two");
    advance(&mut room, start + 61_000);
    assert_eq!(room.versions().len(), 2);
}

#[test]
fn a_named_version_is_kept_even_unchanged_and_its_page_shows_what_changed_since() {
    let mut room = room_with_history();
    typed(&mut room, 1_000, HOME, "line one\nline two");
    let id = room.save_version(2_000, Some("  First draft ")).unwrap();
    assert!(room.save_version(2_001, Some("again")).is_some());
    let versions = room.versions();
    assert_eq!(versions[1].name.as_deref(), Some("First draft"));
    let page = room.create_page(3_000, "Later", "added after");
    typed(&mut room, 3_000, HOME, "\nline three");
    let view = room.version_view(&id, HOME).unwrap();
    assert_eq!(view.title.as_deref(), Some("Home"));
    assert_eq!(
        view.lines.unwrap(),
        vec![
            ChangedLine::Same("line one".into()),
            ChangedLine::Same("line two".into()),
            ChangedLine::Added("line three".into()),
        ]
    );
    assert_eq!(view.added, vec!["Later"]);
    assert!(view.removed.is_empty());
    assert!(room.version_view(&id, &page).unwrap().title.is_none());
    assert!(room.version_view("no such version", HOME).is_none());
}

#[test]
fn restoring_a_page_is_an_edit_that_undo_takes_back() {
    let mut room = room_with_history();
    typed(&mut room, 1_000, HOME, "kept\nfirst");
    let id = room.save_version(2_000, None).unwrap();
    let mut peer = test_room();
    let state = room.encode_state();
    peer.import_update(2_000, &state).unwrap();
    typed(&mut room, 10_000, HOME, " and later");
    room.rename_page(10_000, HOME, "Renamed since");
    let before = room.page_text(HOME).unwrap();
    drain(&mut room);
    assert!(room.restore_page(20_000, &id, HOME, HOME));
    assert_eq!(room.page_text(HOME).as_deref(), Some("kept\nfirst"));
    // Its title stays: links to it elsewhere were rewritten when it was renamed.
    assert_eq!(room.pages()[0].title, "Renamed since");
    // An ordinary change: it goes to peers and the store as updates.
    let mut updates = Vec::new();
    while let Some(output) = room.poll_output() {
        if let Output::Effect(Effect::Store(update)) = output {
            updates.push(update);
        }
    }
    assert_eq!(updates.len(), 1);
    peer.import_update(20_000, &room.encode_state()).unwrap();
    assert_eq!(peer.page_text(HOME).as_deref(), Some("kept\nfirst"));
    assert!(room.undo(21_000, HOME));
    assert_eq!(room.page_text(HOME), Some(before));
}

#[test]
fn restoring_the_notebook_brings_pages_back_and_removes_later_ones_in_one_undo_step() {
    let mut room = room_with_history();
    let old = room.create_page(1_000, "Old", "old page");
    room.rename_notebook(1_000, "Book");
    let id = room.save_version(2_000, None).unwrap();
    assert!(room.delete_page(10_000, &old));
    let new = room.create_page(10_000, "New", "new page");
    room.rename_notebook(10_000, "Renamed");
    typed(&mut room, 10_000, HOME, "home later");
    let titles = |room: &Room| {
        room.pages()
            .into_iter()
            .map(|p| p.title)
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&room), vec!["Home", "New"]);
    // Restored from the page added since: it goes, so the home page holds the undo step.
    assert_eq!(
        room.restore_notebook(20_000, &id, &new).as_deref(),
        Some(HOME)
    );
    assert_eq!(titles(&room), vec!["Home", "Old"]);
    assert_eq!(room.page_text(&old).as_deref(), Some("old page"));
    assert_eq!(room.page_text(HOME).as_deref(), Some(""));
    assert_eq!(room.notebook_title().as_deref(), Some("Book"));
    assert!(room.undo(21_000, HOME));
    assert_eq!(titles(&room), vec!["Home", "New"]);
    assert_eq!(room.page_text(&new).as_deref(), Some("new page"));
    assert_eq!(room.page_text(HOME).as_deref(), Some("home later"));
    assert_eq!(room.notebook_title().as_deref(), Some("Renamed"));
}

/// A room and the server's history store, wired as the shell wires them: what the room stored
/// of the history in this browser.
fn pump(room: &mut Room, now: u64, store: &mut Store) -> Vec<Vec<u8>> {
    pump_store(room, now, store, true)
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::StoreHistory(update) => Some(update),
            _ => None,
        })
        .collect()
}

/// A keyed room (writer `writer`) whose history is read and kept in `store`, with a version
/// named `name` saved at `at` and sent up.
fn room_with_a_version_in(store: &mut Store, writer: u8, at: u64, name: &str) -> Room {
    let mut room = keyed_room(writer);
    room.load_history(0, &[]);
    room.open_history_store(0, [writer; 16]);
    pump(&mut room, 0, store);
    typed(&mut room, at, HOME, "written in a");
    room.save_version(at, Some(name)).unwrap();
    pump(&mut room, at, store);
    let flushed = at + crate::room::server_store::FLUSH_MS;
    room.handle(flushed, Input::Timeout);
    pump(&mut room, flushed, store);
    room
}

#[test]
fn a_new_browser_reads_the_history_from_the_server_store() {
    let mut store = Store::default();
    let a = room_with_a_version_in(&mut store, 1, 2_000, "from a");
    // Another browser, with an empty history of its own.
    let mut b = keyed_room(2);
    b.load_history(5_000, &[]);
    b.open_history_store(5_000, [2; 16]);
    let stored = pump(&mut b, 5_000, &mut store);
    assert!(!stored.is_empty(), "kept in b's own history database too");
    let versions = b.versions();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].name.as_deref(), Some("from a"));
    // The history's store is not the notebook's.
    assert_ne!(
        a.history_store_keys().unwrap().id(),
        a.store_keys().unwrap().id()
    );
}

#[test]
fn a_damaged_history_record_is_dropped_not_applied() {
    let mut room = test_room();
    room.load_history(0, &[vec![0xff, 0x00, 0x13]]);
    let mut dropped = false;
    while let Some(output) = room.poll_output() {
        dropped |= matches!(output, Output::Event(Event::Dropped(_)));
    }
    assert!(dropped);
    assert!(room.history_loaded());
    assert!(room.versions().is_empty());
}

#[test]
fn timing_reads_as_written_or_not_at_all() {
    assert_eq!(
        VersionTiming::parse("1000, 60000"),
        Some(VersionTiming {
            pause_ms: 1_000,
            every_ms: 60_000
        })
    );
    for bad in ["", "1000", "a,b", "-1,5", "1,2,3"] {
        assert_eq!(VersionTiming::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn removing_the_server_copy_removes_the_history_there_too() {
    let mut store = Store::default();
    let mut a = room_with_a_version_in(&mut store, 1, 10, "kept");
    assert!(store.serve(StoreRequest::Read { after: 0 }) != StoreReply::NotFound);
    a.remove_server_copy(2_000);
    pump(&mut a, 2_000, &mut store);
    assert_eq!(
        store.serve(StoreRequest::Read { after: 0 }),
        StoreReply::Gone
    );
}
