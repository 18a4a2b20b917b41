//! `commonplace_protocol::yjs_update::check_v1` against yrs: every update yrs writes passes
//! (random documents of every content kind, a real editing trace), every mutation of one that
//! yrs still decodes passes too (no refusal of what yrs reads), and what it refuses is what
//! had yrs reserve memory for counts that were not there.
//!
//! The cost on a ~10 MB update, in an optimized build:
//!
//! ```text
//! cargo test --release -p commonplace-core --test update_check -- --nocapture cost
//! ```

mod largest_allocation;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use commonplace_core::peer_message;
use commonplace_protocol::yjs_update::{check_v1, CheckErrorKind, UpdateCheckError};
use largest_allocation::largest_allocation;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update, XmlFragmentRef,
};

fn random_any(rng: &mut SmallRng, depth: usize) -> Any {
    match rng.random_range(0..if depth > 3 { 8 } else { 10 }) {
        0 => Any::Null,
        1 => Any::Undefined,
        2 => Any::Bool(rng.random()),
        3 => Any::from(rng.random_range(-1_000_000i64..1_000_000)),
        4 => Any::from(rng.random::<f64>() * 1e6),
        5 => Any::from(rng.random::<i64>()),
        6 => Any::from("ü".repeat(rng.random_range(0..20))),
        7 => Any::Buffer(Arc::from(vec![rng.random::<u8>(); rng.random_range(0..40)])),
        8 => Any::from(
            (0..rng.random_range(0..5))
                .map(|_| random_any(rng, depth + 1))
                .collect::<Vec<_>>(),
        ),
        _ => Any::from(
            (0..rng.random_range(0..5))
                .map(|i| (format!("k{i}"), random_any(rng, depth + 1)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn random_text(rng: &mut SmallRng) -> String {
    let pieces = ["a", "bc", "ü", "🦀", "\n", "word "];
    (0..rng.random_range(1..12))
        .map(|_| pieces[rng.random_range(0..pieces.len())])
        .collect()
}

/// One random edit of every kind of content yrs writes (strings, formats, embeds, Any values
/// in maps and arrays, deletions, XML elements and texts, subdocuments) in one transaction.
fn random_edit(doc: &Doc, rng: &mut SmallRng) {
    let text = doc.get_or_insert_text("text");
    let map = doc.get_or_insert_map("map");
    let array = doc.get_or_insert_array("array");
    let xml: XmlFragmentRef = doc.get_or_insert_xml_fragment("xml");
    let mut txn = doc.transact_mut();
    let len = text.len(&txn);
    match rng.random_range(0..10) {
        0 | 1 => {
            let at = rng.random_range(0..=len);
            let chunk = random_text(rng);
            // Insert at a character boundary (yrs's default offsets are bytes).
            let s = text.get_string(&txn);
            let at = (0..=at as usize)
                .rev()
                .find(|&i| s.is_char_boundary(i))
                .unwrap();
            text.insert(&mut txn, at as u32, &chunk);
        }
        2 if len > 0 => {
            let s = text.get_string(&txn);
            let bounds: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
            let a = bounds[rng.random_range(0..bounds.len())];
            let b = bounds[rng.random_range(0..bounds.len())];
            let (a, b) = (a.min(b), a.max(b));
            if rng.random() {
                text.remove_range(&mut txn, a as u32, (b - a) as u32);
            } else {
                let attrs = HashMap::from([(Arc::from("bold"), random_any(rng, 3))]);
                text.format(&mut txn, a as u32, (b - a) as u32, attrs);
            }
        }
        3 => {
            let s = text.get_string(&txn);
            let at = s.len();
            text.insert_embed(&mut txn, at as u32, random_any(rng, 2));
        }
        4 | 5 => {
            let key = format!("k{}", rng.random_range(0..6));
            map.insert(&mut txn, key, random_any(rng, 0));
        }
        6 => {
            let at = rng.random_range(0..=array.len(&txn));
            let values: Vec<Any> = (0..rng.random_range(1..4))
                .map(|_| random_any(rng, 0))
                .collect();
            array.insert_range(&mut txn, at, values);
        }
        7 if array.len(&txn) > 0 => {
            let at = rng.random_range(0..array.len(&txn));
            array.remove_range(&mut txn, at, 1);
        }
        8 => {
            let at = rng.random_range(0..=xml.len(&txn));
            if rng.random() {
                xml.insert(
                    &mut txn,
                    at,
                    XmlElementPrelim::new("p", [XmlTextPrelim::new(random_text(rng)).into()]),
                );
            } else {
                xml.insert(&mut txn, at, XmlTextPrelim::new(random_text(rng)));
            }
        }
        _ => {
            let sub = Doc::new();
            map.insert(&mut txn, format!("sub{}", rng.random_range(0..3)), sub);
        }
    }
}

/// Updates as peers send them: each edit's, and the document's whole state now and then.
fn random_updates(seed: u64, edits: usize) -> Vec<Vec<u8>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let doc = Doc::new();
    let mut updates = Vec::new();
    for i in 0..edits {
        let before = doc.transact().state_vector();
        random_edit(&doc, &mut rng);
        updates.push(doc.transact().encode_state_as_update_v1(&before));
        if i % 10 == 9 {
            updates.push(
                doc.transact()
                    .encode_state_as_update_v1(&StateVector::default()),
            );
        }
    }
    updates
}

fn mutate(rng: &mut SmallRng, update: &[u8]) -> Vec<u8> {
    let mut bytes = update.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..5) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.random_range(0..8),
            1 if at < bytes.len() => bytes[at] = rng.random(),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 => bytes.insert(at, rng.random()),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[test]
fn every_update_yrs_writes_passes() {
    let mut count = 0;
    for seed in 0..support::seed_count("UPDATE_CHECK_SEEDS", 20) {
        for update in random_updates(seed, 100) {
            assert_eq!(check_v1(&update), Ok(()), "seed {seed}: {update:?}");
            assert!(peer_message::decode_update(&update).is_ok());
            count += 1;
        }
    }
    assert!(count >= 2_000);
}

#[test]
fn every_update_of_an_editing_trace_passes() {
    let Some(patches) = support::trace::seph_blog1_patches("UPDATE_CHECK_FULL", 5_000) else {
        return;
    };
    let doc = Doc::new();
    let text = doc.get_or_insert_text("page");
    let mut content = String::new();
    for support::trace::Patch(pos, del, ins) in &patches {
        let byte = |s: &str, cp: usize| s.char_indices().nth(cp).map_or(s.len(), |(i, _)| i);
        let start = byte(&content, *pos);
        let end = start + byte(&content[start..], *del);
        content.replace_range(start..end, ins);
        let mut txn = doc.transact_mut();
        let before = txn.state_vector();
        text.remove_range(&mut txn, start as u32, (end - start) as u32);
        text.insert(&mut txn, start as u32, ins);
        let update = txn.encode_state_as_update_v1(&before);
        assert_eq!(check_v1(&update), Ok(()));
    }
    let whole = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    assert_eq!(check_v1(&whole), Ok(()));
    assert_eq!(text.get_string(&doc.transact()), content);
}

/// No refusal of what yrs reads: a mutation the check refuses, yrs refuses too. (Only where
/// the refused count is small: a large one is what would have yrs reserve gigabytes.)
#[test]
fn what_yrs_decodes_the_check_passes() {
    let mut rng = SmallRng::seed_from_u64(99);
    let (mut refused, mut passed) = (0, 0);
    for seed in 0..support::seed_count("UPDATE_CHECK_SEEDS", 20) {
        for update in random_updates(1000 + seed, 40) {
            for _ in 0..20 {
                let bytes = mutate(&mut rng, &update);
                match check_v1(&bytes) {
                    Ok(()) => passed += 1,
                    Err(UpdateCheckError {
                        kind: CheckErrorKind::CountTooLarge { count, .. },
                        ..
                    }) if count > 1 << 16 => {}
                    Err(why) => {
                        refused += 1;
                        assert!(
                            Update::decode_v1(&bytes).is_err(),
                            "yrs decodes what the check refused ({why}): {bytes:?}"
                        );
                    }
                }
            }
        }
    }
    println!("mutations: {passed} passed, {refused} refused (and yrs refused them)");
    assert!(refused > 1_000 && passed > 1_000);
}

/// What the check is for: a few bytes claiming 2^16 blocks, or an Any array of 2^16 values, had
/// yrs reserve megabytes (2^32 would be hundreds of gigabytes); the check refuses them before.
#[test]
fn hostile_counts_are_refused_before_yrs_reserves_them() {
    // One client claiming 2^16 blocks, then nothing.
    let blocks = [1, 0x80, 0x80, 0x04, 1, 0, 0, 0];
    // One item in root type "p" holding an Any array claiming 2^16 values.
    let values = [1, 1, 1, 0, 8, 1, 1, b'p', 0x80, 0x80, 0x04, 0];
    for hostile in [&blocks[..], &values[..]] {
        let reserved = largest_allocation(|| assert!(Update::decode_v1(hostile).is_err()));
        assert!(reserved >= 1 << 20, "yrs reserved {reserved} bytes");
        let reserved = largest_allocation(|| {
            let refused = peer_message::decode_update(hostile).unwrap_err();
            assert!(refused.starts_with("the count of"), "{refused}");
        });
        assert!(reserved < 1 << 12, "{reserved} bytes allocated");
    }
}

/// Prints what the check costs on a ~10 MB update beside what yrs's decoding of it costs.
#[test]
fn cost_of_checking_a_large_update() {
    let mut rng = SmallRng::seed_from_u64(5);
    let doc = Doc::new();
    let pages = doc.get_or_insert_map("pages");
    let map = doc.get_or_insert_map("map");
    let target = if cfg!(debug_assertions) {
        1 << 18
    } else {
        10 << 20
    };
    // A notebook of many pages, each edited near its end: yrs finds an offset by walking a
    // text's blocks from its start, so one text of 10 MB edited at random took minutes to build.
    const PAGES: usize = 512;
    let texts: Vec<_> = {
        let mut txn = doc.transact_mut();
        (0..PAGES)
            .map(|i| pages.insert(&mut txn, format!("p{i}"), yrs::TextPrelim::new("")))
            .collect()
    };
    let mut batches = 0;
    loop {
        let mut txn = doc.transact_mut();
        for _ in 0..1_000 {
            let text = &texts[rng.random_range(0..PAGES)];
            // ASCII only, so every offset is a boundary.
            let len = text.len(&txn);
            let chunk = "word ".repeat(rng.random_range(1..4));
            let at = len.saturating_sub(rng.random_range(0..64));
            text.insert(&mut txn, at, &chunk);
            if rng.random_range(0..4) == 0 && len > 64 {
                text.remove_range(&mut txn, len - rng.random_range(4..64), 3);
            }
            let key = format!("k{}", rng.random_range(0..100_000));
            map.insert(&mut txn, key, random_any(&mut rng, 1));
        }
        drop(txn);
        batches += 1;
        // Encoding the whole document is the costly part here: measured every 16 batches.
        if batches % 16 == 0
            && doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default())
                .len()
                >= target
        {
            break;
        }
    }
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let started = Instant::now();
    check_v1(&update).unwrap();
    let check = started.elapsed();
    let started = Instant::now();
    Update::decode_v1(&update).unwrap();
    let decode = started.elapsed();
    let mut apply = Doc::new();
    let started = Instant::now();
    apply
        .transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let applied = started.elapsed();
    drop(std::mem::take(&mut apply));
    println!(
        "a {:.1} MB update: check_v1 {:.1} ms, yrs decode {:.1} ms, decode and apply {:.1} ms{}",
        update.len() as f64 / 1e6,
        check.as_secs_f64() * 1e3,
        decode.as_secs_f64() * 1e3,
        applied.as_secs_f64() * 1e3,
        if cfg!(debug_assertions) {
            " (a debug build: a smaller update)"
        } else {
            ""
        },
    );
}
