//! What opening a notebook stored as many small records costs: a pasted page, then every
//! keystroke of seph-blog1 stored as its own update (what IndexedDB holds before compaction, or
//! what a stock y-indexeddb peer left), loaded by a new room, beside the same updates applied to a bare yrs
//! document in one transaction. Prints figures; asserts only that the loaded notebook is the
//! text typed.
//!
//! 20,000 edits in an optimized build (2,000 in a debug one; all 137,993 with `LOAD_FULL=1`):
//!
//! ```text
//! cargo test --release -p commonplace-core --test load_cost -- --nocapture
//! ```

mod support;

use std::time::Instant;

use commonplace_core::notebook::{self, HOME};
use commonplace_core::room::{Effect, Output};
use support::trace;
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

#[test]
fn loading_many_small_stored_updates() {
    let Some(patches) = trace::seph_blog1_patches("LOAD_FULL", 20_000) else {
        eprintln!("skipped: ../shared/traces is absent");
        return;
    };
    let now = 1_800_000_000_000;
    let mut typist = support::new_room("load-cost", "typist", 7, 7, now);
    let mut text = String::new();
    let mut stored = Vec::new();
    typist.create_page(now, "Pasted", &"a pasted line\n".repeat(5_000));
    for patch in &patches {
        let splices = trace::to_splices(std::slice::from_ref(patch), Some(text.clone()));
        trace::apply_patches(&mut text, std::slice::from_ref(patch));
        typist.edit(now, HOME, &splices, None);
        for output in support::outputs(&mut typist) {
            if let Output::Effect(Effect::Store(update)) = output {
                stored.push(update);
            }
        }
    }
    let bytes: usize = stored.iter().map(Vec::len).sum();

    let start = Instant::now();
    let bare = notebook::new_doc(9);
    {
        let mut txn = bare.transact_mut();
        for update in &stored {
            txn.apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
    }
    let raw_ms = start.elapsed().as_secs_f64() * 1000.0;

    let mut opener = support::new_room("load-cost", "opener", 9, 9, now);
    let start = Instant::now();
    opener.load(now, &stored);
    let load_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(opener.page_text(HOME).as_deref(), Some(text.as_str()));

    println!(
        "load of {} stored updates ({} kB): Room::load {load_ms:.1} ms, raw yrs one transaction \
         {raw_ms:.1} ms ({:.2}×)",
        stored.len(),
        bytes / 1000,
        load_ms / raw_ms
    );
}
