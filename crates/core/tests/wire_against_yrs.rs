//! `commonplace_protocol`'s own lib0 encoding and frames against yrs's, which Commonplace used
//! before and which stock Yjs peers agree with: the same bytes out, the same messages in.

use commonplace_core::peer_message;
use commonplace_protocol::lib0::{self, Decoder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::{Awareness, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact};

/// Edge values around every byte boundary of a varint, and random ones of every width.
fn integers(rng: &mut SmallRng) -> Vec<u64> {
    let mut values = vec![0, 1, u64::MAX];
    for bits in 1..64 {
        values.extend([(1u64 << bits) - 1, 1 << bits, (1 << bits) + 1]);
        values.push(rng.random::<u64>() >> (64 - bits));
    }
    values
}

#[test]
fn var_uints_match_yrs() {
    let mut rng = SmallRng::seed_from_u64(1);
    for num in integers(&mut rng) {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        lib0::write_var_uint(&mut ours, num);
        theirs.write_var(num);
        assert_eq!(ours, theirs, "{num}");
        assert_eq!(Decoder::new(&theirs).read_var_uint(), Ok(num));
        assert_eq!(Cursor::new(&ours).read_var::<u64>().unwrap(), num);
    }
}

#[test]
fn var_ints_match_yrs() {
    let mut rng = SmallRng::seed_from_u64(2);
    for magnitude in integers(&mut rng) {
        // yrs negates with overflow for i64::MIN; no JavaScript number gets near it.
        let Ok(num) = i64::try_from(magnitude) else {
            continue;
        };
        for num in [num, -num] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            lib0::write_var_int(&mut ours, num);
            theirs.write_var(num);
            assert_eq!(ours, theirs, "{num}");
            assert_eq!(Decoder::new(&theirs).read_var_int(), Ok(num));
            assert_eq!(Cursor::new(&ours).read_var::<i64>().unwrap(), num);
        }
    }
}

#[test]
fn strings_buffers_and_floats_match_yrs() {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for text in ["", "a", "Zoë 🦀", &"x".repeat(300)] {
        lib0::write_var_string(&mut ours, text);
        theirs.write_string(text);
    }
    let buffer: Vec<u8> = (0..=255).collect();
    lib0::write_var_uint8_array(&mut ours, &buffer);
    theirs.write_buf(&buffer);
    lib0::write_float32(&mut ours, -1.5e-7);
    theirs.write_f32(-1.5e-7);
    lib0::write_float64(&mut ours, 1.7e12 + 0.25);
    theirs.write_f64(1.7e12 + 0.25);
    assert_eq!(ours, theirs);
}

/// Frames of every type, made by yrs.
fn honest_frames() -> Vec<Vec<u8>> {
    let doc = Doc::with_client_id(7);
    let text = doc.get_or_insert_text("page");
    text.insert(&mut doc.transact_mut(), 0, "hello");
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let mut awareness = Awareness::new(doc.clone());
    awareness.set_local_state_raw(r#"{"user":{"name":"Zoë"}}"#);
    let state_vector = doc.transact().state_vector();
    [
        Message::Sync(SyncMessage::SyncStep1(state_vector)),
        Message::Sync(SyncMessage::SyncStep1(StateVector::default())),
        Message::Sync(SyncMessage::SyncStep2(update.clone())),
        Message::Sync(SyncMessage::Update(update)),
        Message::Awareness(awareness.update().unwrap()),
        Message::AwarenessQuery,
        Message::Auth(Some("no".into())),
        Message::Auth(None),
        Message::Custom(5, vec![1, 2, 3]),
        Message::Custom(127, Vec::new()),
    ]
    .iter()
    .map(|message| {
        assert_eq!(peer_message::encode(message), message.encode_v1());
        message.encode_v1()
    })
    .collect()
}

/// Whether `bytes` may hold a varint of 5 bytes or more, past 32 bits, which yrs wraps around
/// into a u32 (or, past 10 bytes, a u64) and this crate refuses: the one place the two differ.
fn has_long_varint(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w.iter().all(|b| b & 0x80 != 0))
}

#[test]
fn frames_decode_as_yrs_decodes_them() {
    let honest = honest_frames();
    let mut rng = SmallRng::seed_from_u64(3);
    let mut inputs: Vec<Vec<u8>> = honest.clone();
    for _ in 0..20_000 {
        let mut bytes = honest[rng.random_range(0..honest.len())].clone();
        match rng.random_range(0..4) {
            0 => bytes.truncate(rng.random_range(0..=bytes.len())),
            1 if !bytes.is_empty() => {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            2 => bytes.insert(rng.random_range(0..=bytes.len()), rng.random()),
            _ => bytes = (0..rng.random_range(0..12)).map(|_| rng.random()).collect(),
        }
        inputs.push(bytes);
    }
    let mut compared = 0;
    for bytes in inputs {
        let ours = peer_message::decode(&bytes).ok();
        let theirs = Message::decode_v1(&bytes).ok();
        if ours != theirs && has_long_varint(&bytes) {
            assert_eq!(ours, None, "{bytes:?}");
            continue;
        }
        assert_eq!(ours, theirs, "{bytes:?}");
        compared += 1;
    }
    assert!(compared > 19_000, "{compared}");
}
