//! `Room::edit` keeps this person's cursor without looking its relative positions up again
//! when the edit moved it exactly as the editor says (typing, deleting at the caret): those
//! kept positions must be the ones a fresh lookup gives, whatever happened before (edits
//! elsewhere, others' edits, undo).

mod support;

use commonplace_core::notebook::HOME;
use commonplace_core::room::{Output, Transmit};
use commonplace_core::text::diff::Splice;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use support::net::Net;
use support::new_room;

fn text_len(net: &Net, i: usize) -> u32 {
    net.room(i).text().encode_utf16().count() as u32
}

fn random_splice(rng: &mut SmallRng, at: u32, len: u32) -> Splice {
    let delete = if rng.random_bool(0.3) {
        rng.random_range(0..=3u32).min(len - at)
    } else {
        0
    };
    let insert = ["x", "yz", "é", " ", "", "\n"][rng.random_range(0..6)].to_owned();
    Splice {
        index: at,
        delete,
        insert,
    }
}

#[test]
fn a_kept_cursor_is_the_one_a_fresh_lookup_gives() {
    let rooms = vec![
        new_room("cursor", "a", 1, 1, 0),
        new_room("cursor", "b", 2, 2, 0),
    ];
    let mut net = Net::tabs(rooms);
    let mut rng = SmallRng::seed_from_u64(14);
    let mut caret = 0u32;
    let mut kept = 0;
    for step in 0..3_000 {
        net.now += 100;
        let now = net.now;
        match rng.random_range(0..10) {
            0..=6 => {
                let len = text_len(&net, 0);
                // Mostly at the caret (typing, backspace), sometimes somewhere else.
                let at = if rng.random_bool(0.8) {
                    let back = rng.random_bool(0.2) as u32;
                    caret.min(len).saturating_sub(back)
                } else {
                    rng.random_range(0..=len)
                };
                let splice = random_splice(&mut rng, at, len);
                let after = at + splice.insert.encode_utf16().count() as u32;
                // Now and then the selection is not where the edit leaves the caret.
                caret = if rng.random_bool(0.1) {
                    rng.random_range(0..=len - splice.delete + after - at)
                } else {
                    after
                };
                let anchor = if rng.random_bool(0.1) { 0 } else { caret };
                net.act(0, |room| {
                    room.edit(now, HOME, &[splice], Some((anchor, caret)))
                });
                net.settle();
                // A fresh lookup of the same selection: nothing to tell anyone if the kept
                // positions are the same.
                net.room_mut(0).set_cursor(now, HOME, anchor, caret);
                let told = net.drain_outputs(0).into_iter().any(|o| {
                    matches!(
                        o,
                        Output::Transmit(Transmit::Tabs(_) | Transmit::Peer { .. })
                    )
                });
                assert!(
                    !told,
                    "step {step}: the kept cursor differs from a fresh lookup"
                );
                kept += 1;
                net.settle();
            }
            7 | 8 => {
                let len = text_len(&net, 1);
                let at = rng.random_range(0..=len);
                let splice = random_splice(&mut rng, at, len);
                net.act(1, |room| room.edit(now, HOME, &[splice], None));
                net.settle();
                caret = caret.min(text_len(&net, 0));
            }
            _ => {
                net.act(0, |room| room.undo(now, HOME));
                net.settle();
                caret = caret.min(text_len(&net, 0));
            }
        }
    }
    assert!(kept > 1_000);
}
