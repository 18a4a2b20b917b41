//! What a late join costs each side, step by step, for a 1 MiB and a 10 MiB page: prints
//! milliseconds per step. Ignored by default (it measures, asserts nothing about speed); run it
//! optimised:
//!
//! ```text
//! cargo test --release -p commonplace-core --test late_join_cost -- --ignored --nocapture
//! ```
//!
//! The browser adds what this cannot see (the data channel, the textarea's layout); the
//! benchmark `tests/e2e/join_bench.mjs` prints those.

use std::time::Instant;

use commonplace_core::notebook::{self, HOME};
use commonplace_core::room::{Output, Room, RoomConfig};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::EditorText;
use commonplace_core::text::lines::LineIndex;
use commonplace_protocol::chunk;
use commonplace_protocol::crypto::RoomKey;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact, Update};

fn page(units: usize) -> String {
    let line = "commonplace notebook peer sync café naïve 日本 data channel 🎉 late joiner.\n";
    let mut text = line.repeat(units / line.encode_utf16().count() + 1);
    while text.encode_utf16().count() > units {
        text.pop();
    }
    text
}

fn room(client_id: u64) -> Room {
    let config = RoomConfig {
        name: "cost".into(),
        peer_id: format!("peer-{client_id}"),
        client_id,
        entropy: [client_id as u8; 32],
        max_conns: 20,
        key: None,
    };
    Room::new(config, notebook::new_doc(client_id), 0)
}

fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = f();
    println!(
        "  {what:<48} {:>8.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    result
}

#[test]
#[ignore]
fn late_join_cost() {
    for units in [1 << 20, 10 << 20] {
        println!("{} MiB page", units >> 20);
        let text = page(units);
        let mut a = room(1);
        a.edit(
            1,
            HOME,
            &[Splice {
                index: 0,
                delete: 0,
                insert: text.clone(),
            }],
            None,
        );
        while a.poll_output().is_some() {}
        let b = room(2);
        let sv = b.doc().transact().state_vector();
        // The sender.
        let diff = time("sender: encode the diff (sync step 2)", || {
            a.doc().transact().encode_diff_v1(&sv)
        });
        let chunks = time("sender: split into 64 KiB chunks", || {
            chunk::split(0, &diff, chunk::CHUNK_SIZE)
        });
        // The receiver.
        let mut reassembler = chunk::Reassembler::new(chunk::MAX_MESSAGE);
        let whole = time("receiver: reassemble", || {
            let mut whole = None;
            for c in &chunks {
                if let Ok(chunk::Reassembled::Complete(bytes)) = reassembler.push(c) {
                    whole = Some(bytes);
                }
            }
            whole.unwrap()
        });
        let update = time("receiver: decode the update", || {
            Update::decode_v1(&whole).unwrap()
        });
        let mut b = room(2);
        drop(update);
        time("receiver: apply it, observers' splices (load)", || {
            b.load(2, std::slice::from_ref(&whole))
        });
        let splices: Vec<Splice> = std::iter::from_fn(|| b.poll_output())
            .filter_map(|o| match o {
                Output::Event(commonplace_core::room::Event::PageChanged { splices, .. }) => {
                    Some(splices)
                }
                _ => None,
            })
            .flatten()
            .collect();
        time("receiver: encode what was new (to relay, store)", || {
            b.doc()
                .transact()
                .encode_state_as_update_v1(&StateVector::default())
        });
        let key = RoomKey::derive("secret", "cost");
        time("receiver: encrypt it for other tabs (keyed)", || {
            key.encrypt(&whole, [0; 12])
        });
        let mut editor = EditorText::default();
        time("receiver: the editor's mirror text", || {
            for s in &splices {
                editor.apply(s);
            }
        });
        let mut lines = LineIndex::default();
        time("receiver: the caret layer's line index", || {
            for s in &splices {
                lines.splice(s.index, s.delete, &s.insert, &mut ());
            }
        });
        assert_eq!(editor.len(), text.encode_utf16().count());
    }
}
