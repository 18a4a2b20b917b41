//! What a keystroke costs on the app's path next to yrs alone, on a real trace (seph-blog1):
//! prints both times and their ratio, asserts only that both end at the same text.
//!
//! The path, per patch of the trace, as the browser takes it: `EditorText::simple_input` (the
//! textarea's selection before, caret and length after, and the few units it reads back) →
//! `Room::edit` with the caret → the encoded update, framed for the peer → the second room's
//! `Input::PeerFrame` → the `PageChanged` splices into its `EditorText`; timers as the rooms
//! ask, a keystroke every 50 ms. Raw yrs does the same inserts and deletes on a `TextRef` in a
//! transaction, encodes the update, and a second document applies it with an observer reading
//! the delta (what any binding needs to show it): the least the path could cost.
//!
//! ```text
//! cargo test --release -p commonplace-core --test edit_path -- --nocapture
//! EDIT_PATH_FULL=1 cargo test --release -p commonplace-core --test edit_path -- --nocapture
//! ```
//! Times are this thread's CPU time where Linux says it (the machine may be shared), else wall
//! time; each side runs twice, alternating, and the faster run counts.
//! The first 20,000 patches by default (scripts/test's budget; 2,000 without optimizations),
//! all 137,993 with `EDIT_PATH_FULL=1`. Skipped when the traces are absent.

mod support;

use std::hint::black_box;
use std::time::Duration;

use commonplace_core::notebook::{self, HOME};
use commonplace_core::room::{Event, Input, Output, Room, Transmit};
use commonplace_core::text::editor::{EditorText, SimpleEdit};
use support::clock::Clock;
use support::net::Net;
use support::trace::{self, Patch, Value};
use yrs::updates::decoder::Decode;
use yrs::{GetString, Observable, Text, Transact, Update};

/// One patch as the browser reports it, and as raw yrs applies it.
struct Keystroke {
    edit: SimpleEdit,
    /// What `simple_input` reads back from the textarea (read once, ahead, untimed).
    read: String,
    index: u32,
    delete: u32,
    insert: String,
}

/// The trace's first `limit` patches as keystrokes, and the text they make.
fn keystrokes(patches: &[Patch]) -> (Vec<Keystroke>, String) {
    let mut value = Value::default();
    let mut mirror = EditorText::new("");
    let mut out = Vec::with_capacity(patches.len());
    for patch in patches {
        let Patch(pos, del, ins) = patch;
        let index = value.utf16_offset(*pos);
        let end = value.utf16_offset(pos + del);
        let inserted = ins.encode_utf16().count();
        let len = mirror.len() - (end - index) + inserted;
        value.apply(patch);
        let edit = SimpleEdit {
            selection: (index as u32, end as u32),
            caret: (index + inserted) as u32,
            len: len as u32,
        };
        let mut read = String::new();
        let splice = mirror.simple_input(edit, |from, to| {
            read = value.utf16_slice(from, to);
            read.clone()
        });
        assert!(splice.is_ok(), "simple_input refused a trace patch");
        out.push(Keystroke {
            edit,
            read,
            index: index as u32,
            delete: (end - index) as u32,
            insert: ins.clone(),
        });
    }
    (out, value.into_string())
}

/// Two rooms connected as browsers, each with its editor mirror.
struct Pair {
    rooms: [Room; 2],
    editors: [EditorText; 2],
    ids: [String; 2],
    frames: Vec<(usize, Vec<u8>)>,
    now: u64,
}

impl Pair {
    fn new() -> Pair {
        let net = Net::held_pair([0xA, 0xB]);
        let ids = [0, 1].map(|i| net.room(i).peer_id().to_owned());
        let mut rooms = net.into_rooms().into_iter();
        let (Some(a), Some(b)) = (rooms.next(), rooms.next()) else {
            panic!("a pair of rooms");
        };
        Pair {
            rooms: [a, b],
            editors: [EditorText::new(""), EditorText::new("")],
            ids,
            frames: Vec::new(),
            now: 1_000,
        }
    }

    /// Carries out what both rooms ask until nothing is left: frames to the other room, its
    /// `PageChanged` splices into its editor, timers that are due.
    fn pump(&mut self) {
        for i in 0..2 {
            if self.rooms[i].poll_timeout().is_some_and(|t| t <= self.now) {
                self.rooms[i].handle(self.now, Input::Timeout);
            }
        }
        loop {
            for i in 0..2 {
                while let Some(output) = self.rooms[i].poll_output() {
                    match output {
                        Output::Transmit(Transmit::Peer { bytes, .. }) => {
                            self.frames.push((1 - i, bytes))
                        }
                        Output::Event(Event::PageChanged { page, splices }) if page == HOME => {
                            for splice in &splices {
                                self.editors[i].apply(splice);
                            }
                        }
                        Output::Event(Event::Dropped(why)) => panic!("room {i} dropped {why}"),
                        _ => {}
                    }
                }
            }
            if self.frames.is_empty() {
                return;
            }
            for (to, bytes) in std::mem::take(&mut self.frames) {
                let peer = &self.ids[1 - to];
                self.rooms[to].handle(
                    self.now,
                    Input::PeerFrame {
                        peer,
                        bytes: &bytes,
                    },
                );
            }
        }
    }
}

/// The app's path: returns the time and the second editor's text.
fn through_the_app(keystrokes: &mut [Keystroke]) -> (Duration, String) {
    let mut pair = Pair::new();
    let started = Clock::start();
    for k in keystrokes.iter_mut() {
        pair.now += 50;
        let read = std::mem::take(&mut k.read);
        let splice = pair.editors[0].simple_input(k.edit, |_, _| read.clone());
        k.read = read;
        let Ok(Some(splice)) = splice else {
            continue;
        };
        let caret = Some((k.edit.caret, k.edit.caret));
        pair.rooms[0].edit(pair.now, HOME, &[splice], caret);
        pair.pump();
    }
    let elapsed = started.elapsed();
    assert_eq!(pair.rooms[1].page_text(HOME), Some(pair.editors[1].text()));
    (elapsed, pair.editors[1].text())
}

/// yrs alone: the same edits, encoded, applied to a second document whose observer reads the
/// delta. With `sync` false, only the edits (for scale).
fn raw_yrs(keystrokes: &[Keystroke], sync: bool) -> (Duration, String) {
    let (doc_a, doc_b) = (notebook::new_doc(0xA), notebook::new_doc(0xB));
    let (text_a, text_b) = (
        doc_a.get_or_insert_text("page"),
        doc_b.get_or_insert_text("page"),
    );
    text_b.observe("raw", |txn, event| {
        black_box(event.delta(txn));
    });
    let started = Clock::start();
    for k in keystrokes {
        let update = {
            let mut txn = doc_a.transact_mut();
            if k.delete > 0 {
                text_a.remove_range(&mut txn, k.index, k.delete);
            }
            if !k.insert.is_empty() {
                text_a.insert(&mut txn, k.index, &k.insert);
            }
            sync.then(|| txn.encode_update_v1())
        };
        if let Some(update) = update {
            let update = Update::decode_v1(&update).expect("yrs decodes its own update");
            let mut txn = doc_b.transact_mut();
            txn.apply_update(update)
                .expect("yrs applies its own update");
        }
    }
    let elapsed = started.elapsed();
    let text = if sync {
        text_b.get_string(&doc_b.transact())
    } else {
        text_a.get_string(&doc_a.transact())
    };
    (elapsed, text)
}

#[test]
fn seph_blog1_edit_path_against_raw_yrs() {
    let Some(patches) = trace::seph_blog1_patches("EDIT_PATH_FULL", 20_000) else {
        return;
    };
    let (mut keystrokes, end) = keystrokes(&patches);
    // Twice each, alternating: the machine is shared, the faster run is the less disturbed.
    let (mut path, mut raw, mut local) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..2 {
        let (t, text) = raw_yrs(&keystrokes, true);
        assert!(text == end, "raw yrs ends at the trace's text");
        raw = raw.min(t);
        let (t, text) = through_the_app(&mut keystrokes);
        assert!(text == end, "the second editor ends at the trace's text");
        path = path.min(t);
        local = local.min(raw_yrs(&keystrokes, false).0);
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / patches.len() as f64;
    println!(
        "seph-blog1, {} patches{}: app path {:.0} ms ({:.1} µs/keystroke), raw yrs {:.0} ms \
         ({:.1} µs; its edits alone {:.0} ms): {:.2}x raw yrs",
        patches.len(),
        if std::env::var_os("EDIT_PATH_FULL").is_some() {
            ""
        } else {
            " (EDIT_PATH_FULL=1 for all)"
        },
        path.as_secs_f64() * 1e3,
        per(path),
        raw.as_secs_f64() * 1e3,
        per(raw),
        local.as_secs_f64() * 1e3,
        path.as_secs_f64() / raw.as_secs_f64()
    );
}
