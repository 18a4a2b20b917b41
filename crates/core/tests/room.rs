//! The room as a whole: tabs, peers, the store, secrets, presence. Rooms that talk to each
//! other are wired by the test net (`support::net`), in order; the room's parts have unit tests
//! of their own beside them (`src/room/`).

mod support;

use commonplace_core::notebook::HOME;
use commonplace_core::room::{Effect, Event, Input, Output, Room, Transmit, STRANGER_ANNOUNCE_MS};
use commonplace_core::text::diff::Splice;
use commonplace_protocol::chunk;
use commonplace_protocol::crypto::RoomKey;
use serde_json::{json, Value};
use support::net::{Net, Shell};
use support::schedule::Schedule;
use support::{new_keyed_room, outputs, posted_state};

fn keyed_tab(peer_id: &str, client_id: u64, key: Option<RoomKey>) -> Room {
    new_keyed_room("r", peer_id, client_id, client_id, key, 0)
}

fn tab(peer_id: &str, client_id: u64) -> Room {
    keyed_tab(peer_id, client_id, None)
}

fn splice(index: u32, insert: &str) -> Splice {
    Splice {
        index,
        delete: 0,
        insert: insert.into(),
    }
}

/// The updates `room` asked to store (`Effect::Store`), draining its outputs.
fn stored_updates(room: &mut Room) -> Vec<Vec<u8>> {
    outputs(room)
        .into_iter()
        .filter_map(|o| match o {
            Output::Effect(Effect::Store(update)) => Some(update),
            _ => None,
        })
        .collect()
}

/// An in-order net that records every output, for tests that look at what was sent.
fn recording(shell: Shell) -> Net {
    let mut net = Net::in_order(Schedule::in_order(), shell);
    net.recorded = Some(Vec::new());
    net
}

#[test]
fn large_messages_travel_in_chunks_between_commonplace_peers() {
    let mut rooms = vec![tab("a", 1), tab("b", 2)];
    let big = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
    rooms[0].edit(0, HOME, &[splice(0, &big)], None);
    outputs(&mut rooms[0]);
    let mut net = recording(Shell::BROWSER);
    net.add_browsers(rooms);
    net.settle();
    assert_eq!(net.room(1).text(), big);
    let sent = net.recorded.take().expect("recording");
    let sizes: Vec<usize> = sent
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Transmit(Transmit::Peer { bytes, .. }) => Some(bytes.len()),
            _ => None,
        })
        .collect();
    assert!(
        sizes.iter().all(|&n| n <= chunk::CHUNK_SIZE + 32),
        "{sizes:?}"
    );
    let progress: Vec<(usize, usize)> = sent
        .iter()
        .filter_map(|(i, o)| match o {
            Output::Event(Event::Receiving {
                received, total, ..
            }) if *i == 1 => Some((*received, *total)),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 16, "{progress:?}");
    assert_eq!(progress.last().map(|(r, t)| r == t), Some(true));
}

#[test]
fn tabs_sync_over_the_broadcast_channel_and_skip_webrtc() {
    let mut rooms = vec![tab("a", 1), tab("b", 2)];
    rooms[0].edit(0, HOME, &[splice(0, "written offline")], None);
    let mut net = Net::tabs(rooms);
    assert_eq!(net.room(1).text(), "written offline");
    assert!(
        !net.peers[1].stored.is_empty(),
        "tab b stores what it learns"
    );
    assert_eq!(net.room(0).status().tabs, 1);
    assert_eq!(net.room(1).status().tabs, 1);

    net.now = 2;
    net.edit(1, HOME, &[splice(0, "> ")]);
    net.settle();
    assert_eq!(net.room(0).text(), "> written offline");

    // The other tab is known: its announce over signaling starts no WebRTC connection.
    net.now = 3;
    net.feed(0, Input::SignalingOpen);
    let announce = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
    net.room_mut(0).handle(3, Input::SignalingFrame(announce));
    assert!(!net
        .drain_outputs(0)
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));

    net.now = 4;
    net.act(1, |room| room.leave(4));
    net.settle();
    assert_eq!(net.room(0).status().tabs, 0);
}

/// A tab posts the room's updates only once it knows another tab (encrypting a late join's
/// whole notebook for nobody cost more than applying it). What it wrote before meeting the
/// other is still theirs: meeting a tab, each asks it for what it lacks.
#[test]
fn what_a_tab_wrote_before_meeting_another_reaches_it() {
    let key = Some(RoomKey::from_bytes([9; 32]));
    let (mut a, mut b) = (keyed_tab("a", 1, key.clone()), keyed_tab("b", 2, key));
    let tabs = |outputs: Vec<Output>| -> Vec<Vec<u8>> {
        outputs
            .into_iter()
            .filter_map(|o| match o {
                Output::Transmit(Transmit::Tabs(bytes)) => Some(bytes),
                _ => None,
            })
            .collect()
    };
    a.handle(0, Input::BroadcastOpen);
    let _unheard = tabs(outputs(&mut a)); // b was not there yet
    b.handle(1, Input::BroadcastOpen);
    let b_greeting = tabs(outputs(&mut b));
    // Each writes before hearing of the other: posted to no one.
    a.edit(2, HOME, &[splice(0, "a wrote ")], None);
    b.edit(2, HOME, &[splice(0, "b wrote")], None);
    assert!(tabs(outputs(&mut a)).is_empty() && tabs(outputs(&mut b)).is_empty());
    let mut to_a = b_greeting;
    let mut to_b = Vec::new();
    while !to_a.is_empty() || !to_b.is_empty() {
        for frame in std::mem::take(&mut to_a) {
            a.handle(3, Input::BroadcastFrame(&frame));
        }
        to_b.extend(tabs(outputs(&mut a)));
        for frame in std::mem::take(&mut to_b) {
            b.handle(3, Input::BroadcastFrame(&frame));
        }
        to_a.extend(tabs(outputs(&mut b)));
    }
    assert_eq!(a.page_text(HOME), b.page_text(HOME));
    let text = a.page_text(HOME).unwrap_or_default();
    assert!(
        text.contains("a wrote") && text.contains("b wrote"),
        "{text:?}"
    );
}

#[test]
fn every_change_is_stored_once_and_loads_back() {
    let mut writer = tab("a", 1);
    // The shell carries out the outputs after each input (a batch's are merged into one record).
    writer.edit(0, HOME, &[splice(0, "héllo 👋")], None);
    let mut stored = stored_updates(&mut writer);
    writer.edit(0, HOME, &[splice(0, "¡")], None);
    stored.extend(stored_updates(&mut writer));
    assert_eq!(stored.len(), 2);

    let mut reader = tab("b", 2);
    reader.load(1, &stored);
    assert_eq!(reader.text(), "¡héllo 👋");
    let loaded = outputs(&mut reader);
    assert!(!loaded
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Store(_)))));
    assert!(loaded
        .iter()
        .any(|o| matches!(o, Output::Event(Event::PageChanged { .. }))));

    let mut compacted = tab("c", 3);
    compacted.load(1, &[reader.encode_state()]);
    assert_eq!(compacted.text(), "¡héllo 👋");

    let mut damaged = tab("d", 4);
    damaged.load(1, &[vec![1, 2, 3], writer.encode_state()]);
    assert_eq!(damaged.text(), "¡héllo 👋");
    assert!(outputs(&mut damaged)
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Dropped(_)))));
}

/// The browser's second copy (`app::journal`) is merged after the store: what the store had lost
/// comes back, as one update to store again; a second copy that adds nothing asks for nothing.
#[test]
fn the_second_copy_brings_back_what_the_store_lost() {
    let mut writer = tab("a", 1);
    let mut stored = Vec::new();
    for (at, text) in [(0, "kept, "), (6, "lost, "), (12, "later"), (12, "last ")] {
        writer.edit(0, HOME, &[splice(at, text)], None);
        stored.extend(stored_updates(&mut writer));
    }
    assert_eq!(writer.text(), "kept, lost, last later");

    // The store kept only the first record (the browser wiped or cut the rest).
    let mut reader = tab("b", 2);
    reader.load(1, &stored[..1]);
    let restored = reader
        .load_second_copy(2, &stored)
        .expect("the second copy adds what the store lost");
    assert_eq!(reader.text(), writer.text());
    assert!(!outputs(&mut reader)
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Store(_)))));

    // Stored again, what was restored is the whole notebook in the store alone.
    let mut again = tab("c", 3);
    again.load(1, &[stored[0].clone(), restored]);
    assert_eq!(again.text(), writer.text());
    assert_eq!(again.load_second_copy(2, &stored), None);
    assert_eq!(reader.load_second_copy(3, &stored), None);
}

/// The shell connects while the store still loads (signaling and the tabs' channel open at
/// once): what the store then adds reaches the peer and the tab it already synced with, and a
/// store read before anyone listened sends nothing.
#[test]
fn a_notebook_loaded_after_peers_connected_reaches_them() {
    let mut writer = tab("w", 9);
    writer.edit(0, HOME, &[splice(0, "stored here")], None);
    let stored = stored_updates(&mut writer);

    let mut peer = tab("b", 2);
    peer.edit(0, HOME, &[splice(0, "B typed. ")], None);
    outputs(&mut peer);
    let mut net = Net::browsers(vec![tab("a", 1), peer], 0, Schedule::in_order());
    assert_eq!(
        net.room(0).status().peers,
        1,
        "A and B connected before A's store loaded"
    );
    assert_eq!(net.room(0).text(), "B typed. ");
    net.act(0, |room| room.load(1, &stored));
    net.settle();
    assert!(net.room(1).text().contains("stored here"));
    assert_eq!(net.room(1).text(), net.room(0).text());

    let mut tabs = Net::tabs(vec![tab("t1", 5), tab("t2", 6)]);
    assert_eq!(tabs.room(0).status().tabs, 1);
    tabs.act(0, |room| room.load(1, &stored));
    tabs.settle();
    assert_eq!(tabs.room(1).text(), "stored here");

    let mut alone = tab("c", 4);
    alone.load(1, &stored);
    assert!(!outputs(&mut alone)
        .iter()
        .any(|o| matches!(o, Output::Transmit(_))));
}

/// The network came back (`online`): an old data channel may sit out SCTP's retransmission
/// backoff for seconds with what was typed meanwhile, so each Commonplace peer's connection is
/// made anew, this side offering and the peer answering on a fresh connection of its own.
#[test]
fn back_online_each_connection_is_made_anew() {
    let mut net = Net::browsers(vec![tab("a", 1), tab("b", 2)], 0, Schedule::in_order());
    net.recorded = Some(Vec::new());
    net.now = 10;
    net.feed(0, Input::Online);
    net.settle();
    let connects: Vec<(usize, bool)> = net
        .recorded
        .take()
        .expect("recording")
        .into_iter()
        .filter_map(|(i, o)| match o {
            Output::Effect(Effect::Connect { initiator, .. }) => Some((i, initiator)),
            _ => None,
        })
        .collect();
    assert_eq!(connects, [(0, true), (1, false)]);
    for i in 0..2 {
        let status = net.room(i).status();
        assert!(status.peers == 1 && status.synced, "room {i}: {status:?}");
    }
    net.edit(0, HOME, &[splice(0, "from A. ")]);
    net.edit(1, HOME, &[splice(0, "from B. ")]);
    net.settle();
    assert_eq!(net.room(0).text(), net.room(1).text());
    assert!(net.room(0).text().contains("from A. ") && net.room(0).text().contains("from B. "));
}

#[test]
fn a_silent_signaling_server_is_pinged_then_given_up() {
    let mut room = tab("me", 1);
    room.handle(0, Input::SignalingOpen);
    outputs(&mut room);
    room.handle(10_000, Input::Timeout);
    assert!(outputs(&mut room)
        .iter()
        .all(|o| !matches!(o, Output::Transmit(Transmit::Server(_)))));
    room.handle(15_000, Input::Timeout);
    assert!(
        outputs(&mut room).contains(&Output::Transmit(Transmit::Server(
            r#"{"type":"ping"}"#.into()
        )))
    );
    room.handle(16_000, Input::Timeout);
    assert!(!outputs(&mut room)
        .iter()
        .any(|o| matches!(o, Output::Transmit(Transmit::Server(_)))));
    room.handle(29_000, Input::SignalingFrame(r#"{"type":"pong"}"#));
    room.handle(45_000, Input::Timeout);
    assert!(!outputs(&mut room).contains(&Output::Effect(Effect::ReconnectSignaling)));
    room.handle(59_000, Input::Timeout);
    let asked = outputs(&mut room);
    assert!(
        asked.contains(&Output::Effect(Effect::ReconnectSignaling)),
        "{asked:?}"
    );
    assert!(!room.status().online);
}

#[test]
fn keyed_tabs_encrypt_the_broadcast_channel() {
    let key = || Some(RoomKey::from_bytes([1; 32]));
    let mut rooms = vec![
        keyed_tab("a", 1, key()),
        keyed_tab("b", 2, key()),
        keyed_tab("c", 3, Some(RoomKey::from_bytes([2; 32]))),
    ];
    rooms[0].edit(0, HOME, &[splice(0, "secret words")], None);
    let mut net = recording(Shell::TAB);
    // Tab c cannot read the others: what it drops is expected.
    net.strict = false;
    net.now = 1;
    net.add_tabs(rooms);
    let frames: Vec<Vec<u8>> = net
        .recorded
        .take()
        .expect("recording")
        .into_iter()
        .filter_map(|(i, o)| match o {
            Output::Transmit(Transmit::Tabs(bytes)) if i == 0 => Some(bytes),
            _ => None,
        })
        .collect();
    assert!(!frames.is_empty());
    for bytes in &frames {
        assert!(bytes.starts_with(b"\x07AES-GCM"), "{bytes:?}");
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
    }
    net.settle();
    assert_eq!(net.room(1).text(), "secret words");
    let tabs = |net: &Net, i: usize| net.room(i).status().tabs;
    assert_eq!((tabs(&net, 0), tabs(&net, 1)), (1, 1));
    assert_eq!(net.room(2).text(), "");
    assert_eq!(tabs(&net, 2), 0);
    // Every tab learns that someone in the room holds another key.
    assert!((0..3).all(|i| net.room(i).status().undecryptable));
}

#[test]
fn keyed_rooms_publish_ciphertext_and_read_only_ciphertext() {
    let key = RoomKey::from_bytes([1; 32]);
    let mut keyed = keyed_tab("me", 1, Some(key.clone()));
    keyed.handle(0, Input::SignalingOpen);
    let publishes: Vec<String> = outputs(&mut keyed)
        .into_iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Server(frame)) if frame.contains("publish") => Some(frame),
            _ => None,
        })
        .collect();
    assert_eq!(publishes.len(), 1);
    let publish: Value = serde_json::from_str(&publishes[0]).unwrap();
    let data = publish["data"].as_str().expect("a string");
    assert_eq!(
        key.decrypt_signal(data).unwrap(),
        json!({"type": "announce", "from": "me"})
    );

    // A clear announce starts nothing; the room answers it (once) with its own, encrypted.
    let clear = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
    keyed.handle(1, Input::SignalingFrame(clear));
    let answer = outputs(&mut keyed);
    assert!(!answer
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));
    assert_eq!(answer.len(), 2, "{answer:?}"); // subscribe, announce
    assert!(matches!(&answer[1], Output::Transmit(Transmit::Server(f)) if !f.contains("announce")));
    // Another key's signals are dropped and flagged; answered again only after a while.
    let announce = json!({"type": "announce", "from": "b"});
    let frame = |key: &RoomKey| {
        let data = key.encrypt_signal(&announce, [9; 12]);
        json!({"type": "publish", "topic": "r", "data": data}).to_string()
    };
    let other = RoomKey::from_bytes([2; 32]);
    keyed.handle(2, Input::SignalingFrame(&frame(&other)));
    assert!(
        matches!(outputs(&mut keyed)[..], [Output::Event(Event::Dropped(_)), Output::Event(Event::StatusChanged(s))] if s.undecryptable)
    );
    keyed.handle(
        STRANGER_ANNOUNCE_MS + 1,
        Input::SignalingFrame(&frame(&other)),
    );
    assert_eq!(outputs(&mut keyed).len(), 3); // subscribe, announce, dropped
    keyed.handle(
        STRANGER_ANNOUNCE_MS + 2,
        Input::SignalingFrame(&frame(&key)),
    );
    assert!(
        outputs(&mut keyed).contains(&Output::Effect(Effect::Connect {
            peer: "b".into(),
            initiator: true
        }))
    );

    let mut open = tab("me", 1);
    open.handle(0, Input::SignalingOpen);
    outputs(&mut open);
    open.handle(1, Input::SignalingFrame(&frame(&key)));
    assert!(!outputs(&mut open)
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));
    assert!(open.status().undecryptable);
}

/// The caret tab `i` last shared, as it went out to the other tabs.
fn shared_cursor(net: &Net, i: usize) -> Value {
    let recorded = net.recorded.as_deref().expect("recording");
    let frames = recorded.iter().filter_map(|(from, o)| match o {
        Output::Transmit(Transmit::Tabs(bytes)) if *from == i => Some(&bytes[..]),
        _ => None,
    });
    posted_state(frames, net.peers[i].client_id).expect("the tab shared its state")["cursor"]
        .clone()
}

fn carets(room: &Room, page: &str) -> Vec<(u32, u32)> {
    room.remote_cursors(page)
        .iter()
        .map(|c| (c.anchor, c.head))
        .collect()
}

#[test]
fn a_caret_at_the_end_of_a_page_is_shared_as_yjs_does() {
    let mut net = recording(Shell::TAB);
    net.add_tabs(vec![tab("a", 1), tab("b", 2)]);
    net.settle();

    // An empty home page: the root text itself, as `{ tname: "page" }`.
    net.act(0, |room| room.set_cursor(1, HOME, 0, 0));
    assert_eq!(
        shared_cursor(&net, 0)["head"],
        json!({ "tname": "page", "assoc": 0 })
    );
    net.settle();
    assert_eq!(carets(net.room(1), HOME), [(0, 0)]);

    // At the end of a text: still shared, and it stays at the end.
    net.now = 2;
    net.edit(0, HOME, &[splice(0, "abc")]);
    net.act(0, |room| room.set_cursor(2, HOME, 1, 3));
    net.settle();
    assert_eq!(carets(net.room(1), HOME), [(1, 3)]);
    net.now = 3;
    net.edit(1, HOME, &[splice(3, "de")]);
    net.settle();
    assert_eq!(carets(net.room(1), HOME), [(1, 5)]);

    // An empty page of its own: its text as `{ type: <id> }`.
    let page = net.act(0, |room| room.create_page(4, "Notes", ""));
    net.act(0, |room| room.set_cursor(4, &page, 0, 0));
    assert!(shared_cursor(&net, 0)["head"]["type"].is_object());
    net.settle();
    assert_eq!(carets(net.room(1), &page), [(0, 0)]);
    assert!(carets(net.room(1), HOME).is_empty());
}
