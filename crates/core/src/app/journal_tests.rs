use super::*;

fn records(names: &[&str]) -> Vec<Vec<u8>> {
    names.iter().map(|name| name.as_bytes().to_vec()).collect()
}

/// A journal opened on empty files, started from `state`, with `appended` added.
fn written(state: &str, appended: &[&str]) -> (Journal, SlotFiles) {
    let mut files = SlotFiles::default();
    let (mut journal, write) = Journal::open(&files.read(), || state.as_bytes().to_vec());
    files.write(&write);
    files.write(&journal.append(&records(appended)));
    (journal, files)
}

#[test]
fn empty_files_start_the_first_slot_from_the_notebook() {
    let files = SlotFiles::default();
    assert_eq!(files.read(), Read::default());
    let (_, write) = Journal::open(&files.read(), || b"state".to_vec());
    let Write::Start { slot: 0, bytes } = write else {
        panic!("expected a start of slot 0, got {write:?}");
    };
    assert_eq!(read([&bytes, &[]]).records, records(&["state"]));
}

#[test]
fn what_was_appended_reads_back_after_what_the_slot_started_from() {
    let (_, files) = written("state", &["one", "two"]);
    assert_eq!(files.read().records, records(&["state", "one", "two"]));
}

#[test]
fn reopening_goes_on_where_the_slot_ends() {
    let (_, mut files) = written("state", &["one"]);
    let (mut journal, write) = Journal::open(&files.read(), || unreachable!("no new start"));
    assert_eq!(
        write,
        Write::Resume {
            slot: 0,
            length: files.slots[0].len() as u64
        }
    );
    files.write(&write);
    files.write(&journal.append(&records(&["two"])));
    assert_eq!(files.read().records, records(&["state", "one", "two"]));
}

#[test]
fn a_tab_taking_the_files_over_starts_the_other_slot_from_its_notebook() {
    // Another tab wrote the files; this one has all of it and more since.
    let (_, mut files) = written("state", &["one"]);
    let read = files.read();
    let (mut journal, write) = Journal::take_over(&read, b"state one two");
    let Write::Start { slot: 1, .. } = write else {
        panic!("expected a start of the slot not read from, got {write:?}");
    };
    files.write(&write);
    files.write(&journal.append(&records(&["three"])));
    assert_eq!(files.read().records, records(&["state one two", "three"]));
    // Nothing valid read: the first slot, as on empty files.
    let (_, write) = Journal::take_over(&Read::default(), b"state");
    assert!(matches!(write, Write::Start { slot: 0, .. }), "{write:?}");
}

/// The write Chromium's LevelDB got wrong: a kill cuts an append anywhere; what was whole before
/// it reads back, and what is written after reopening reads back too (the torn bytes are cut off
/// first, never left for a later record to be read through).
#[test]
fn an_append_cut_anywhere_loses_only_itself_and_later_writes_read_back() {
    let (_, whole) = written("state", &["one"]);
    let before = whole.slots[0].len();
    let mut after = whole.clone();
    let (mut journal, write) = Journal::open(&whole.read(), || unreachable!());
    after.write(&write);
    after.write(&journal.append(&records(&["a torn append"])));
    let full = after.slots[0].len();
    for cut in before..full {
        let mut files = after.clone();
        files.slots[0].truncate(cut);
        assert_eq!(
            files.read().records,
            records(&["state", "one"]),
            "cut at {cut}"
        );
        let (mut journal, write) = Journal::open(&files.read(), || unreachable!());
        files.write(&write);
        files.write(&journal.append(&records(&["next"])));
        assert_eq!(
            files.read().records,
            records(&["state", "one", "next"]),
            "written after a cut at {cut}"
        );
    }
}

/// Compaction writes the other slot in one write: cut anywhere, the slot in use still reads
/// back whole; once whole, the new slot wins (its generation is higher).
#[test]
fn a_compaction_cut_anywhere_leaves_the_old_slot_and_a_whole_one_wins() {
    let (mut journal, files) = written("state", &["one", "two"]);
    let write = journal.start(b"compacted");
    let Write::Start { slot: 1, bytes } = &write else {
        panic!("expected a start of slot 1, got {write:?}");
    };
    for cut in 0..bytes.len() {
        let mut cut_files = files.clone();
        cut_files.slots[1] = bytes[..cut].to_vec();
        assert_eq!(
            cut_files.read().records,
            records(&["state", "one", "two"]),
            "cut at {cut}"
        );
    }
    let mut files = files;
    files.write(&write);
    files.write(&journal.append(&records(&["three"])));
    assert_eq!(files.read().records, records(&["compacted", "three"]));

    // And back to the first slot, over what it held: its old content is gone only when the
    // new is whole.
    let write = journal.start(b"again");
    assert!(matches!(write, Write::Start { slot: 0, .. }));
    files.write(&write);
    assert_eq!(files.read().records, records(&["again"]));
}

#[test]
fn a_slot_grown_well_past_its_start_is_compacted_on_opening() {
    let big = "x".repeat(SLACK_BYTES as usize / 4);
    let (_, files) = written("state", &[&big, &big, &big, &big, &big]);
    let (_, write) = Journal::open(&files.read(), || b"merged".to_vec());
    let mut files = files;
    assert!(matches!(write, Write::Start { slot: 1, .. }), "{write:?}");
    files.write(&write);
    assert_eq!(files.read().records, records(&["merged"]));
}

#[test]
fn what_does_not_check_out_is_not_read() {
    let (_, whole) = written("state", &["one"]);
    // A flipped bit in the header, in the first record, or a file that is not a journal.
    for at in [0, 9, 17, HEADER_LEN + 1, HEADER_LEN + RECORD_HEADER_LEN] {
        let mut files = whole.clone();
        files.slots[0][at] ^= 0x40;
        assert_eq!(files.read(), Read::default(), "flipped byte {at}");
    }
    // A flipped bit in a later record: the records before it are read.
    let mut files = whole.clone();
    let last = files.slots[0].len() - 1;
    files.slots[0][last] ^= 1;
    assert_eq!(files.read().records, records(&["state"]));
    // A length that runs past the end, or past any size at all.
    let mut files = whole;
    let at = HEADER_LEN + RECORD_HEADER_LEN + "state".len();
    files.slots[0][at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(files.read().records, records(&["state"]));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for length in 0..600 {
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut prefixed = MAGIC.to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = read([&bytes, &prefixed]);
    }
}

#[test]
fn locations_are_file_names_and_tell_rooms_and_keys_apart() {
    let (dir, files) = location("notes/of a room", "none");
    assert_eq!(dir.len(), 64);
    let names = [dir.as_str(), files[0].as_str(), files[1].as_str()];
    assert!(names
        .iter()
        .all(|name| name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.')));
    assert_ne!(files[0], files[1]);
    assert_ne!(dir, location("notes/of a room ", "none").0);
    assert_eq!(dir, location("notes/of a room", "Xy/9").0);
    assert_eq!(dir, directory("notes/of a room"));
    assert_ne!(files, location("notes/of a room", "Xy/9").1);
}
