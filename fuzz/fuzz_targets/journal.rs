//! The notebook's second copy as the browser reads it back (`app::journal`): two slot files of
//! any bytes (a 2-byte length of the first, then both). Reading never panics; whatever it read, the journal opened on it writes slots that
//! read back as what it started from plus what it appended.
#![no_main]

use commonplace_core::app::journal::{self, Journal, Write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A 2-byte little-endian length of the first slot, then the slots.
    let Some((split, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (a, b) = rest.split_at(usize::from(u16::from_le_bytes(*split)).min(rest.len()));
    let read = journal::read([a, b]);
    let mut slots = [a.to_vec(), b.to_vec()];
    let mut in_use = 0;
    let mut apply = |write: Write, slots: &mut [Vec<u8>; 2]| match write {
        Write::Resume { slot, length } => {
            in_use = slot;
            assert!(length as usize <= slots[slot].len());
            slots[slot].truncate(length as usize);
        }
        Write::Start { slot, bytes } => {
            slots[slot] = bytes;
            in_use = slot;
        }
        Write::Append(bytes) => slots[in_use].extend_from_slice(&bytes),
    };
    let (mut journal, write) = Journal::open(&read, || b"state".to_vec());
    let started = matches!(write, Write::Start { .. });
    apply(write, &mut slots);
    apply(journal.append(&[b"appended".to_vec()]), &mut slots);
    let again = journal::read([&slots[0], &slots[1]]);
    let mut expected = if started {
        vec![b"state".to_vec()]
    } else {
        read.records.clone()
    };
    expected.push(b"appended".to_vec());
    assert_eq!(again.records, expected);
});
