//! The server store's machine against a store that keeps records as the real one does
//! (sequence numbers, one snapshot, compare-and-swap), with browsers that edit a real document.

use commonplace_protocol::crypto::RoomKey;
use yrs::updates::decoder::Decode;
use yrs::{GetString, Text, TextRef, Update};

use super::*;

/// The server's side, as `docs/store.md` describes it.
#[derive(Default)]
pub(crate) struct Store {
    records: Vec<(u64, Vec<u8>)>,
    snapshot: Option<(u64, Vec<u8>)>,
    last_seq: u64,
    exists: bool,
    /// Fail every request (the network is down).
    down: bool,
    /// Removed by someone holding the key: a tombstone.
    gone: bool,
}

/// The server's default `--store-max-record`.
const SERVER_MAX_RECORD: usize = 256 * 1024;

impl Store {
    pub(crate) fn serve(&mut self, request: StoreRequest) -> StoreReply {
        if self.down {
            return StoreReply::Failed {
                why: "offline".into(),
            };
        }
        if self.gone && request != StoreRequest::Delete {
            return StoreReply::Gone;
        }
        match request {
            StoreRequest::Read { after } => {
                if !self.exists {
                    return StoreReply::NotFound;
                }
                let snapshot = self.snapshot.clone().filter(|(covers, _)| *covers > after);
                let from = snapshot.as_ref().map_or(after, |(covers, _)| *covers);
                let records = self
                    .records
                    .iter()
                    .filter(|(seq, _)| *seq > from)
                    .cloned()
                    .collect();
                StoreReply::Read {
                    snapshot,
                    records,
                    more: false,
                }
            }
            StoreRequest::Append { record } => {
                if record.len() > SERVER_MAX_RECORD {
                    return StoreReply::Refused {
                        why: "this record is larger than the server takes".into(),
                    };
                }
                self.exists = true;
                self.last_seq += 1;
                self.records.push((self.last_seq, record));
                StoreReply::Appended { seq: self.last_seq }
            }
            StoreRequest::Snapshot {
                covers,
                replaces,
                snapshot,
            } => {
                let current = self.snapshot.as_ref().map_or(0, |(c, _)| *c);
                if current != replaces || covers > self.last_seq || covers <= current {
                    return StoreReply::SnapshotStale { covers: current };
                }
                self.snapshot = Some((covers, snapshot));
                self.records.retain(|(seq, _)| *seq > covers);
                StoreReply::SnapshotTaken { covers }
            }
            StoreRequest::Delete => {
                *self = Store {
                    gone: true,
                    ..Store::default()
                };
                StoreReply::Deleted
            }
        }
    }
}

struct Browser {
    doc: yrs::Doc,
    text: TextRef,
    store: ServerStore,
    dropped: Vec<String>,
}

fn keys() -> StoreKeys {
    StoreKeys::derive(&RoomKey::from_bytes([5; 32]))
}

impl Browser {
    fn new(writer: u8) -> Browser {
        let doc = yrs::Doc::with_client_id(writer as u64 + 1);
        let text = doc.get_or_insert_text("page");
        let mut nonce = 0u64;
        let store = ServerStore::new(keys(), [writer; 16], move || {
            nonce += 1;
            let mut n = [writer; 12];
            n[..8].copy_from_slice(&nonce.to_be_bytes());
            n
        });
        Browser {
            doc,
            text,
            store,
            dropped: Vec::new(),
        }
    }

    fn type_at_end(&mut self, now: u64, s: &str) {
        let mut txn = self.doc.transact_mut();
        let len = self.text.len(&txn);
        self.text.insert(&mut txn, len, s);
        let update = txn.encode_update_v1();
        drop(txn);
        self.store.on_local_update(now, update);
    }

    fn delete_all(&mut self, now: u64) {
        let mut txn = self.doc.transact_mut();
        let len = self.text.len(&txn);
        self.text.remove_range(&mut txn, 0, len);
        let update = txn.encode_update_v1();
        drop(txn);
        self.store.on_local_update(now, update);
    }

    fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Sends what is due at `now` and applies the answers, until nothing more is due.
    fn pump(&mut self, now: u64, store: &mut Store) {
        for _ in 0..100 {
            let Some(request) = self.store.poll_request(now, &self.doc) else {
                return;
            };
            let reply = store.serve(request);
            let applied = self.store.on_reply(now, reply);
            for update in applied.updates {
                let update = Update::decode_v1(&update).unwrap();
                self.doc.transact_mut().apply_update(update).unwrap();
            }
            self.dropped.extend(applied.dropped);
        }
        panic!("the store machine never stops asking");
    }
}

#[test]
fn changes_reach_the_store_batched_and_a_new_browser_reads_them() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    for (i, word) in ["one ", "two ", "three"].into_iter().enumerate() {
        a.type_at_end(100 + i as u64 * 100, word);
        a.pump(100 + i as u64 * 100, &mut store);
    }
    assert_eq!(store.records.len(), 0, "nothing before FLUSH_MS");
    assert_eq!(a.store.server_copy(), ServerCopy::Pending);
    assert_eq!(a.store.poll_timeout(), Some(100 + FLUSH_MS));
    a.pump(100 + FLUSH_MS, &mut store);
    assert_eq!(store.records.len(), 1, "three changes, one record");
    assert_eq!(a.store.server_copy(), ServerCopy::Saved);

    let mut b = Browser::new(2);
    b.pump(1_000, &mut store);
    assert_eq!(b.text(), "one two three");
    assert!(b.dropped.is_empty(), "{:?}", b.dropped);
}

#[test]
fn a_first_browser_with_a_notebook_fills_an_empty_store() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    // Written before the store was known (an existing notebook, or offline): not queued.
    a.text.insert(&mut a.doc.transact_mut(), 0, "from before");
    a.pump(0, &mut store);
    assert_eq!(store.records.len(), 1);
    let mut b = Browser::new(2);
    b.pump(10, &mut store);
    assert_eq!(b.text(), "from before");
}

#[test]
fn offline_changes_wait_and_go_up_when_the_network_returns() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    store.down = true;
    a.type_at_end(10, "written offline");
    a.pump(10 + FLUSH_MS, &mut store);
    a.pump(10_000, &mut store);
    assert!(store.records.is_empty());
    assert!(a.store.has_unsent_changes());
    assert!(a.dropped.iter().any(|d| d.contains("unreachable")));
    store.down = false;
    a.store.on_online(20_000);
    a.pump(20_000, &mut store);
    assert_eq!(a.store.server_copy(), ServerCopy::Saved);
    let mut b = Browser::new(2);
    b.pump(30_000, &mut store);
    assert_eq!(b.text(), "written offline");
}

/// Issue 16's soak: an upload that never reached the store was counted as sent. Its
/// writer's counter moved on, so readers took the next record for one after a withheld one;
/// and the recovery diff was taken as stored, so it never went up again.
#[test]
fn an_upload_that_fails_on_the_way_is_sent_again_and_leaves_no_gap() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.text.insert(&mut a.doc.transact_mut(), 0, "from before ");
    // The store is read (there is none yet); the diff going up fails on the way.
    let read = a.store.poll_request(0, &a.doc).unwrap();
    let reply = store.serve(read);
    a.store.on_reply(0, reply);
    let diff = a.store.poll_request(0, &a.doc).unwrap();
    assert!(matches!(diff, StoreRequest::Append { .. }), "{diff:?}");
    let failed = StoreReply::Failed {
        why: "offline".into(),
    };
    a.store.on_reply(0, failed.clone());
    a.pump(5_000, &mut store);
    assert_eq!(store.records.len(), 1, "the diff went up after all");
    // A change whose record is lost on the way, then one that arrives.
    a.type_at_end(6_000, "one ");
    let lost = a.store.poll_request(6_000 + FLUSH_MS, &a.doc).unwrap();
    assert!(matches!(lost, StoreRequest::Append { .. }), "{lost:?}");
    a.store.on_reply(6_000 + FLUSH_MS, failed);
    a.type_at_end(20_000, "two");
    a.pump(20_000 + FLUSH_MS, &mut store);
    let mut b = Browser::new(2);
    b.pump(30_000, &mut store);
    assert_eq!(b.text(), "from before one two");
    assert!(b.dropped.is_empty(), "{:?}", b.dropped);
}

#[test]
fn changes_a_closed_session_never_sent_go_up_as_one_diff_deletions_too() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    a.type_at_end(0, "kept then deleted");
    a.pump(FLUSH_MS, &mut store);
    // Offline, a deletion; the tab closes before the store hears of it.
    store.down = true;
    a.delete_all(1_000);
    a.type_at_end(1_001, "new text");
    a.pump(2_000, &mut store);
    assert!(a.store.has_unsent_changes());
    let doc = a.doc;
    // The next session starts from the browser's copy; reading the store shows what it lacks.
    store.down = false;
    let mut again = Browser::new(9);
    let copy = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    again
        .doc
        .transact_mut()
        .apply_update(Update::decode_v1(&copy).unwrap())
        .unwrap();
    again.pump(10_000, &mut store);
    assert!(!again.store.has_unsent_changes());
    let mut b = Browser::new(2);
    b.pump(20_000, &mut store);
    assert_eq!(b.text(), "new text");
}

#[test]
fn what_the_server_alters_invents_or_withholds_is_dropped_and_said() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    for i in 0..4u64 {
        a.type_at_end(i * 1_000, &format!("<{i}>"));
        a.pump(i * 1_000 + FLUSH_MS, &mut store);
    }
    assert_eq!(store.records.len(), 4);
    // Altered: one bit of record 2. Invented: a record in the right shape. Withheld: record 3.
    store.records[1].1[20] ^= 1;
    let mut invented = store.records[0].1.clone();
    invented[15] ^= 0xFF;
    store.records.push((99, invented));
    store.records.remove(2);
    let mut b = Browser::new(2);
    b.pump(10_000, &mut store);
    assert_eq!(
        b.text(),
        "<0>",
        "only what opened and follows without a gap"
    );
    let dropped = b.dropped.join("\n");
    assert!(dropped.contains("store record 2:"), "{dropped}");
    assert!(dropped.contains("store record 99:"), "{dropped}");
    assert!(
        dropped.contains("2 of its writer's records before it are missing"),
        "{dropped}"
    );
}

#[test]
fn a_snapshot_served_under_another_sequence_is_dropped() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    for i in 0..SNAPSHOT_RECORDS + 1 {
        a.type_at_end(i * 1_000, "x");
        a.pump(i * 1_000 + FLUSH_MS, &mut store);
    }
    let (covers, sealed) = store.snapshot.clone().expect("a snapshot was taken");
    store.snapshot = Some((covers + 5, sealed));
    let mut b = Browser::new(2);
    b.pump(10_000_000, &mut store);
    assert!(
        b.dropped.iter().any(|d| d.contains("sealed as covering")),
        "{:?}",
        b.dropped
    );
}

#[test]
fn the_store_is_compacted_and_two_browsers_snapshotting_at_once_lose_nothing() {
    let mut store = Store::default();
    let (mut a, mut b) = (Browser::new(1), Browser::new(2));
    let mut now = 0;
    for round in 0..2 * SNAPSHOT_RECORDS {
        now += 1_000;
        a.type_at_end(now, "a");
        b.type_at_end(now, "b");
        a.pump(now + FLUSH_MS, &mut store);
        b.pump(now + FLUSH_MS, &mut store);
        if round % 50 == 0 {
            // Both read now and then, so both may want to snapshot at about the same time.
            a.store.on_online(now);
            b.store.on_online(now);
        }
    }
    a.store.on_online(now + 10_000);
    b.store.on_online(now + 10_000);
    a.pump(now + 10_000, &mut store);
    b.pump(now + 10_000, &mut store);
    assert!(store.snapshot.is_some());
    assert!(
        (store.records.len() as u64) < 2 * SNAPSHOT_RECORDS,
        "{} records kept",
        store.records.len()
    );
    let mut c = Browser::new(3);
    c.pump(now + 20_000, &mut store);
    assert_eq!(c.text().matches('a').count() as u64, 2 * SNAPSHOT_RECORDS);
    assert_eq!(c.text().matches('b').count() as u64, 2 * SNAPSHOT_RECORDS);
    assert_eq!(c.text(), a.text());
    assert!(c.dropped.is_empty(), "{:?}", c.dropped);
}

#[test]
fn refused_and_removed_say_so() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    a.type_at_end(0, "x");
    assert!(a.store.poll_request(FLUSH_MS, &a.doc).is_some());
    a.store.on_reply(
        FLUSH_MS,
        StoreReply::Refused {
            why: "this store is full".into(),
        },
    );
    assert_eq!(a.store.server_copy(), ServerCopy::Refused);
    let request = a.store.delete_request();
    assert_eq!(store.serve(request), StoreReply::Deleted);
    assert_eq!(a.store.server_copy(), ServerCopy::Removed);
    a.type_at_end(10_000, "y");
    assert_eq!(a.store.poll_request(20_000, &a.doc), None);
}

#[test]
fn a_change_too_large_for_a_record_goes_up_in_a_snapshot() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    // A large paste into an empty store: no record past the snapshot to cover, so an empty
    // record makes one, and the snapshot carries the paste.
    let paste = "a paragraph pasted whole. ".repeat(40_000);
    a.type_at_end(10, &paste);
    a.pump(10 + FLUSH_MS, &mut store);
    assert_eq!(a.store.server_copy(), ServerCopy::Saved, "{:?}", a.dropped);
    assert!(store.records.is_empty(), "{:?}", store.records.len());
    assert_eq!(store.snapshot.as_ref().map(|(covers, _)| *covers), Some(1));
    // Then small changes go as records again, and a new browser reads both.
    a.type_at_end(2_000, "and a last word");
    a.pump(2_000 + FLUSH_MS, &mut store);
    assert_eq!(store.records.len(), 1);
    let mut b = Browser::new(2);
    b.pump(5_000, &mut store);
    assert_eq!(b.text(), a.text());
    assert!(
        a.dropped.is_empty() && b.dropped.is_empty(),
        "{:?}",
        b.dropped
    );
    // A large change while records follow the snapshot: a snapshot at once.
    a.type_at_end(6_000, &paste);
    a.pump(6_000 + FLUSH_MS, &mut store);
    assert_eq!(a.store.server_copy(), ServerCopy::Saved);
    assert_eq!(store.snapshot.as_ref().map(|(covers, _)| *covers), Some(2));
    let mut c = Browser::new(3);
    c.pump(9_000, &mut store);
    assert_eq!(c.text(), a.text());
}

#[test]
fn a_session_sends_only_what_the_store_lacks_deletions_included() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.type_at_end(0, "some words, then fewer");
    a.pump(FLUSH_MS, &mut store);
    a.delete_all(1_000);
    a.type_at_end(1_000, "fewer");
    a.pump(1_000 + FLUSH_MS, &mut store);
    let records = store.records.len();
    // A browser that holds exactly what the store holds writes nothing when it opens.
    let copy = |from: &Browser, to: &mut Browser| {
        let state = from
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        to.doc
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
    };
    let mut b = Browser::new(2);
    copy(&a, &mut b);
    b.pump(5_000, &mut store);
    assert_eq!(store.records.len(), records, "nothing new, nothing written");
    assert_eq!(b.store.server_copy(), ServerCopy::Saved);
    // One whose copy has a deletion the store never heard of sends it.
    let mut c = Browser::new(3);
    copy(&a, &mut c);
    {
        let mut txn = c.doc.transact_mut();
        c.text.remove_range(&mut txn, 0, 1);
    }
    c.pump(6_000, &mut store);
    assert_eq!(store.records.len(), records + 1);
    let mut d = Browser::new(4);
    d.pump(7_000, &mut store);
    assert_eq!(d.text(), "ewer");
}

#[test]
fn a_server_that_always_calls_snapshots_stale_is_not_asked_in_a_loop() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.type_at_end(0, &"x".repeat(300_000));
    a.pump(FLUSH_MS, &mut store);
    a.type_at_end(1_000, &"y".repeat(300_000));
    let now = 1_000 + FLUSH_MS;
    let mut snapshots = 0;
    for _ in 0..50 {
        let Some(request) = a.store.poll_request(now, &a.doc) else {
            break;
        };
        let reply = match request {
            StoreRequest::Snapshot { replaces, .. } => {
                snapshots += 1;
                StoreReply::SnapshotStale { covers: replaces }
            }
            other => store.serve(other),
        };
        a.store.on_reply(now, reply);
    }
    assert_eq!(snapshots, 1, "asked again at once");
    assert!(a.store.poll_timeout().is_some_and(|at| at > now));
}

#[test]
fn a_writer_compacts_its_own_records_by_size() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    a.pump(0, &mut store);
    // Another's record first: reading it, `a` reads its own first one too.
    let mut other = Browser::new(2);
    other.type_at_end(0, "b");
    other.pump(FLUSH_MS, &mut store);
    a.type_at_end(0, "a");
    a.pump(FLUSH_MS, &mut store);
    let paste = "one of several long paragraphs. ".repeat(4_000);
    for i in 1..10u64 {
        let now = i * 1_000;
        a.type_at_end(now, &paste);
        a.pump(now + FLUSH_MS, &mut store);
    }
    assert!(
        store.snapshot.is_some(),
        "no snapshot past {SNAPSHOT_BYTES} bytes"
    );
    assert!(store.records.len() < 11, "{} records", store.records.len());
    // Its snapshot says how far its own run went: the records after it follow on.
    a.type_at_end(15_000, "the end");
    a.pump(15_000 + FLUSH_MS, &mut store);
    let mut b = Browser::new(3);
    b.pump(20_000, &mut store);
    assert_eq!(b.text(), a.text());
    assert!(b.dropped.is_empty(), "{:?}", b.dropped);
}

#[test]
fn a_store_removed_elsewhere_stays_removed() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    let mut b = Browser::new(2);
    a.type_at_end(0, "ours");
    a.pump(FLUSH_MS, &mut store);
    b.pump(FLUSH_MS, &mut store);
    let request = a.store.delete_request();
    assert_eq!(store.serve(request), StoreReply::Deleted);
    // b still has the notebook and keeps writing: the store is not made again.
    b.type_at_end(1_000, " and b's");
    b.pump(1_000 + FLUSH_MS, &mut store);
    assert_eq!(b.store.server_copy(), ServerCopy::Removed);
    assert!(store.records.is_empty() && !store.exists);
    assert!(
        b.dropped.iter().any(|why| why.contains("removed")),
        "{:?}",
        b.dropped
    );
    assert_eq!(
        b.text(),
        "ours and b's",
        "the notebook stays in the browser"
    );
    assert_eq!(b.store.poll_timeout(), None);
}

#[test]
fn a_read_cut_at_its_size_bound_goes_on_at_once() {
    let mut store = Store::default();
    let mut a = Browser::new(1);
    for (i, word) in ["one ", "two ", "three"].into_iter().enumerate() {
        let now = i as u64 * 1_000;
        a.type_at_end(now, word);
        a.pump(now + FLUSH_MS, &mut store);
    }
    let mut b = Browser::new(2);
    assert_eq!(
        b.store.poll_request(10_000, &b.doc),
        Some(StoreRequest::Read { after: 0 })
    );
    // The server cut its reply after the first record.
    let first = store.records[0].clone();
    b.store.on_reply(
        10_000,
        StoreReply::Read {
            snapshot: None,
            records: vec![first],
            more: true,
        },
    );
    assert_eq!(b.store.server_copy(), ServerCopy::Pending);
    assert_eq!(
        b.store.poll_request(10_000, &b.doc),
        Some(StoreRequest::Read { after: 1 })
    );
}

/// A room wired to the store as the shell wires it: requests out, replies in.
fn pump_room(room: &mut crate::room::Room, now: u64, store: &mut Store) -> Vec<Effect> {
    pump_store(room, now, store, false)
}

/// The same for the notebook's store or (`history`) the version history's; the other's
/// requests go unanswered. Returns the effects.
pub(crate) fn pump_store(
    room: &mut crate::room::Room,
    now: u64,
    store: &mut Store,
    history: bool,
) -> Vec<Effect> {
    use crate::room::{Input, Output, Transmit};
    let mut effects = Vec::new();
    for _ in 0..100 {
        let mut replies = Vec::new();
        while let Some(output) = room.poll_output() {
            match output {
                Output::Transmit(Transmit::Store(request)) if !history => {
                    replies.push(store.serve(request))
                }
                Output::Transmit(Transmit::HistoryStore(request)) if history => {
                    replies.push(store.serve(request))
                }
                Output::Effect(effect) => effects.push(effect),
                _ => {}
            }
        }
        if replies.is_empty() {
            return effects;
        }
        for reply in replies {
            room.handle(
                now,
                if history {
                    Input::HistoryStoreReply(reply)
                } else {
                    Input::StoreReply(reply)
                },
            );
        }
    }
    panic!("the room never stops asking the store");
}

pub(crate) fn keyed_room(writer: u8) -> crate::room::Room {
    use crate::room::{Room, RoomConfig};
    let config = RoomConfig {
        name: "stored".into(),
        peer_id: format!("peer-{writer}"),
        client_id: writer as u64 + 10,
        entropy: [writer; 32],
        max_conns: 20,
        key: Some(RoomKey::from_bytes([5; 32])),
    };
    let mut room = Room::new(config, crate::notebook::new_doc(writer as u64 + 10), 0);
    room.open_server_store(0, [writer; 16]);
    room
}

use crate::room::Effect;

#[test]
fn a_room_keeps_its_notebook_in_the_store_and_another_opens_it_with_nobody_online() {
    use crate::notebook::HOME;
    use crate::room::Status;
    use crate::text::Splice;
    let mut store = Store::default();
    let mut a = keyed_room(1);
    pump_room(&mut a, 0, &mut store);
    let splice = Splice {
        index: 0,
        delete: 0,
        insert: "kept by the server, read by nobody there".into(),
    };
    a.edit(10, HOME, &[splice], None);
    pump_room(&mut a, 10, &mut store);
    assert_eq!(a.status().server_copy, ServerCopy::Pending);
    a.handle(10 + FLUSH_MS, crate::room::Input::Timeout);
    pump_room(&mut a, 10 + FLUSH_MS, &mut store);
    assert_eq!(a.status().server_copy, ServerCopy::Saved);
    // Nobody else is online: a new browser opens the link and reads the store alone.
    let mut b = keyed_room(2);
    let effects = pump_room(&mut b, 1_000, &mut store);
    assert_eq!(
        b.page_text(HOME).as_deref(),
        Some("kept by the server, read by nobody there")
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Store(_))),
        "kept in b's own copy too"
    );
    assert_eq!(b.status().server_copy, ServerCopy::Saved);
    // An open room keeps no server copy.
    assert_eq!(Status::default().server_copy, ServerCopy::None);
}

/// Issue 16's soak (seeds 656 and 1379): records come in the order they were written, not in
/// the order of what they build on. Here a's first record needs c's text, which reaches the
/// store last, in one record with a's latest (a recovery diff, written by another session).
/// Taken one by one, a's first waited in yrs for c's, a's second waited for a's first, and the
/// last record for a's second: a browser opening the notebook from the store showed nothing.
#[test]
fn records_that_build_on_a_later_record_are_all_read() {
    use crate::notebook::HOME;
    use crate::text::Splice;
    let insert = |room: &mut crate::room::Room, at: u32, text: &str| {
        let before = room.doc().transact().state_vector();
        let splice = Splice {
            index: at,
            delete: 0,
            insert: text.into(),
        };
        room.edit(0, HOME, &[splice], None);
        room.doc().transact().encode_diff_v1(&before)
    };
    let (mut a, mut c) = (keyed_room(1), keyed_room(3));
    let from_c = insert(&mut c, 0, "c");
    a.doc()
        .transact_mut()
        .apply_update(Update::decode_v1(&from_c).unwrap())
        .unwrap();
    let (first, second, third) = (
        insert(&mut a, 1, "a"),
        insert(&mut a, 2, "b"),
        insert(&mut a, 3, "d"),
    );
    let mut store = Store::default();
    let mut writer = Browser::new(7);
    let mut now = 0;
    for update in [first, second] {
        writer.store.on_local_update(now, update);
        now += FLUSH_MS;
        writer.pump(now, &mut store);
    }
    let mut other = Browser::new(8);
    other
        .store
        .on_local_update(now, yrs::merge_updates_v1([from_c, third]).unwrap());
    other.pump(now + FLUSH_MS, &mut store);
    assert_eq!(store.records.len(), 3);
    let mut reader = keyed_room(4);
    pump_room(&mut reader, 10_000, &mut store);
    assert_eq!(reader.page_text(HOME).as_deref(), Some("cabd"));
}
