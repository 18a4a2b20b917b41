//! The notebook's second copy as the browser reads it back (`app::journal`): two slot files of
//! any bytes (a 2-byte length of the first, then both). Reading never panics; whatever it read, the journal opened on it writes slots that
//! read back as what it started from plus what it appended.
#![no_main]

use commonplace_core::app::journal::{self, Journal, SlotFiles, Write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A 2-byte little-endian length of the first slot, then the slots.
    let Some((split, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (a, b) = rest.split_at(usize::from(u16::from_le_bytes(*split)).min(rest.len()));
    let read = journal::read([a, b]);
    let mut files = SlotFiles::new([a.to_vec(), b.to_vec()]);
    let (mut journal, write) = Journal::open(&read, || b"state".to_vec());
    let started = matches!(write, Write::Start { .. });
    if let Write::Resume { slot, length } = write {
        assert!(length as usize <= files.slots[slot].len(), "resumes past the end");
    }
    files.write(&write);
    files.write(&journal.append(&[b"appended".to_vec()]));
    let again = files.read();
    let mut expected = if started {
        vec![b"state".to_vec()]
    } else {
        read.records.clone()
    };
    expected.push(b"appended".to_vec());
    assert_eq!(again.records, expected);
});
