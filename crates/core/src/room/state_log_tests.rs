//! The state log through the room: whoever joins with nothing gets the updates that made the
//! document, and gets all of it whichever way the document changed.

use yrs::sync::{Message, SyncMessage};
use yrs::{Map, ReadTxn, StateVector, Transact};

use super::{test_room, test_room_as, Input, Output, Room, Source, Transmit};
use crate::notebook::HOME;
use crate::peer_message;
use crate::text::diff::Splice;

fn room(client_id: u64) -> Room {
    test_room_as(&format!("peer-{client_id}"), client_id)
}

fn insert(index: u32, text: &str) -> Splice {
    Splice {
        index,
        delete: 0,
        insert: text.into(),
    }
}

/// What the room tells a tab that greets it with an empty state vector.
fn answer_to_newcomer(room: &mut Room) -> Vec<Message> {
    room.handle(0, Input::BroadcastOpen);
    while room.poll_output().is_some() {}
    let empty = Message::Sync(SyncMessage::SyncStep1(StateVector::default()));
    room.on_message(Source::Broadcast, empty);
    let mut answer = Vec::new();
    while let Some(output) = room.poll_output() {
        if let Output::Transmit(Transmit::Tabs(bytes)) = output {
            answer.push(peer_message::decode(&bytes).unwrap());
        }
    }
    answer
}

/// A room that heard only `answer`, which must hold the same notebook as `room`.
fn assert_newcomer_gets_all(room: &Room, answer: Vec<Message>) {
    let mut newcomer = self::room(50);
    for message in answer {
        newcomer.on_message(Source::Broadcast, message);
    }
    let state = |room: &Room| room.doc().transact().state_vector();
    assert_eq!(state(&newcomer), state(room));
    assert_eq!(newcomer.pages(), room.pages());
    for page in room.pages() {
        assert_eq!(newcomer.page_text(&page.id), room.page_text(&page.id));
    }
}

/// A page's worth of text past the size from which the log is sent as it is.
fn big_text() -> String {
    "a line of a big page\n".repeat(16_000)
}

fn stored(room: &mut Room) -> Vec<Vec<u8>> {
    let mut updates = Vec::new();
    while let Some(output) = room.poll_output() {
        if let Output::Effect(super::Effect::Store(update)) = output {
            updates.push(update);
        }
    }
    updates
}

#[test]
fn every_way_the_document_changes_is_in_what_a_newcomer_gets() {
    let mut elsewhere = room(7);
    elsewhere.create_page(0, "Stored", "from this browser's store");
    elsewhere.edit(0, HOME, &[insert(0, "home text ")], None);
    let from_store = stored(&mut elsewhere);
    let mut other = room(8);
    other.edit(0, HOME, &[insert(0, "a peer's words ")], None);
    let from_peer = stored(&mut other);
    let mut exported = room(9);
    exported.create_page(0, "Imported", "from a file");
    let file = exported.encode_state();

    let mut room = test_room();
    room.load(0, &from_store);
    room.create_page(5, "Big", &big_text());
    room.edit(10, HOME, &[insert(0, "typed ")], Some((6, 6)));
    room.edit(2_000, HOME, &[insert(0, "more ")], Some((5, 5)));
    assert!(room.undo(3_000, HOME));
    assert!(room.redo(3_100, HOME));
    assert!(room.undo(3_200, HOME));
    room.create_page(4_000, "Mine", "new page");
    room.import_update(5_000, &file).unwrap();
    for update in &from_peer {
        room.on_message(
            Source::Broadcast,
            Message::Sync(SyncMessage::Update(update.clone())),
        );
    }
    for i in 0..200 {
        room.edit(6_000 + i, HOME, &[insert(i as u32, "x")], None);
    }
    assert!(room.log.updates().is_some(), "every change logged");
    let answer = answer_to_newcomer(&mut room);
    assert!(answer.len() > 1, "the log's updates, not one encoding");
    assert!(matches!(
        answer[0],
        Message::Sync(SyncMessage::SyncStep2(_))
    ));
    assert_newcomer_gets_all(&room, answer);
}

/// A store that was never compacted: a big record (a paste), then a keystroke per record. The
/// keystrokes are merged in runs (one merge of them all took minutes for a long trace), and the
/// log stays a handful of entries.
#[test]
fn a_big_record_then_thousands_of_keystrokes_load_into_a_few_entries() {
    let mut typist = room(7);
    typist.create_page(0, "Pasted", &big_text());
    let mut records = stored(&mut typist);
    // Drained after each edit, as the shell does: the queue merges what it holds.
    for i in 0..5_000 {
        typist.edit(i, HOME, &[insert(i as u32, "k")], None);
        records.extend(stored(&mut typist));
    }
    assert!(records.len() > 5_000);

    let mut room = test_room();
    room.load(0, &records);
    let entries = room.log.updates().expect("every record logged").len();
    assert!(
        entries < 40,
        "{entries} entries for {} records",
        records.len()
    );
    let answer = answer_to_newcomer(&mut room);
    assert_newcomer_gets_all(&room, answer);
}

#[test]
fn an_update_that_failed_sends_the_encoding_and_the_log_starts_again() {
    let mut room = test_room();
    room.edit(0, HOME, &[insert(0, &big_text())], None);
    room.on_message(
        Source::Broadcast,
        Message::Sync(SyncMessage::Update(vec![1, 2, 3])),
    );
    assert!(room.log.updates().is_none(), "a garbled update drops trust");
    let answer = answer_to_newcomer(&mut room);
    assert_eq!(answer.len(), 1, "the document encoded");
    assert_newcomer_gets_all(&room, answer);
    room.edit(10, HOME, &[insert(0, "after ")], None);
    let answer = answer_to_newcomer(&mut room);
    assert_eq!(answer.len(), 2, "the encoding, then the edit since");
    assert_newcomer_gets_all(&room, answer);
}

#[test]
fn a_small_notebook_goes_as_one_encoding() {
    let mut room = test_room();
    for i in 0..20 {
        room.edit(i, HOME, &[insert(i as u32, "x")], None);
        if i == 10 {
            // Someone joining has the log encode what it holds so far: a second entry follows.
            answer_to_newcomer(&mut room);
        }
    }
    assert!(room.log.updates().is_some_and(|updates| updates.len() > 1));
    let answer = answer_to_newcomer(&mut room);
    assert_eq!(answer.len(), 1, "one frame, not one per keystroke");
    assert_newcomer_gets_all(&room, answer);
}

#[test]
fn a_change_past_the_room_is_seen_and_not_trusted() {
    let mut room = test_room();
    room.edit(0, HOME, &[insert(0, "logged")], None);
    let home = room.doc().get_or_insert_map("unlogged");
    home.insert(&mut room.doc().transact_mut(), "k", "v");
    room.edit(10, HOME, &[insert(0, "again ")], None);
    assert!(room.log.updates().is_none());
    let answer = answer_to_newcomer(&mut room);
    assert_eq!(answer.len(), 1);
    assert_newcomer_gets_all(&room, answer);
}

/// What the room sends a peer whose data channel just opened, before hearing anything from it.
fn greeting(room: &mut Room) -> Vec<Message> {
    room.mesh.on_announce(0, "newcomer".into(), &mut room.out);
    room.handle(
        0,
        Input::ChannelOpen {
            peer: "newcomer",
            announced: false,
        },
    );
    let mut frames = Vec::new();
    while let Some(output) = room.poll_output() {
        if let Output::Transmit(Transmit::Peer { bytes, .. }) = output {
            frames.push(peer_message::decode(&bytes).unwrap());
        }
    }
    frames
}

#[test]
fn a_small_notebook_goes_with_the_greeting_a_big_one_when_asked() {
    let mut small = test_room();
    small.edit(0, HOME, &[insert(0, "already here")], None);
    let frames = greeting(&mut small);
    // The text first (what the newcomer waits to see), then the question.
    let Message::Sync(SyncMessage::SyncStep2(state)) = &frames[0] else {
        panic!("the notebook first in the greeting: {frames:?}");
    };
    assert!(matches!(
        frames[1],
        Message::Sync(SyncMessage::SyncStep1(_))
    ));
    assert_newcomer_gets_all(
        &small,
        vec![Message::Sync(SyncMessage::SyncStep2(state.clone()))],
    );

    let mut big = test_room();
    big.edit(0, HOME, &[insert(0, &big_text())], None);
    let frames = greeting(&mut big);
    assert!(matches!(
        frames[0],
        Message::Sync(SyncMessage::SyncStep1(_))
    ));
    assert!(
        !frames
            .iter()
            .any(|m| matches!(m, Message::Sync(SyncMessage::SyncStep2(_)))),
        "a big notebook waits to be asked"
    );
}
