//! The notebook's second copy in this browser, outside IndexedDB: what its two files hold and
//! which bytes go where (the browser app's `journal` writes them, in a worker).
//!
//! Why a second copy: Chromium keeps every IndexedDB of an origin in one LevelDB and reuses its
//! log on opening. A browser killed between writing a log record's header and its payload leaves
//! a torn header; the next start reads past it, the next writes land after it, and the start
//! after that finds a checksum mismatch and deletes the origin's whole IndexedDB (or, when less
//! than the torn length followed, drops every later record silently). The durability loop saw
//! it about once in a few hundred SIGKILLs. So each batch the store appends also goes here, and
//! opening a notebook merges both: what one lost, the other brings back.
//!
//! Two slot files, `….a` and `….b` ([`location`]), written in place (through sync access handles: no file is
//! created, renamed or replaced after the first open, so the file system's own directory
//! database, a LevelDB too, is not written again). A slot is a header — magic, generation,
//! checksum — then records, each its length, its checksum and its bytes (a stored update). The
//! first record is what the slot started from (the whole notebook); later ones are appended.
//! Reading takes the valid slot of the highest generation and its records up to the first that
//! does not check out (a write the kill cut short), and the writer goes on from there.
//! Compaction writes the whole notebook into the other slot under the next generation, in one
//! write: until that write is whole, the slot it replaces still reads back as before.

/// What a slot starts with; a file that starts otherwise is not a slot (never written, or not ours).
const MAGIC: &[u8; 8] = b"CPJRNL01";
/// Magic, generation (u64 LE), CRC-32 of both (u32 LE).
const HEADER_LEN: usize = 8 + 8 + 4;
/// Length (u32 LE) and CRC-32 (u32 LE) of a record's bytes.
const RECORD_HEADER_LEN: usize = 4 + 4;
/// A slot whose appended records take more than this beyond twice what it started from is
/// compacted when the notebook is opened.
const SLACK_BYTES: u64 = 1 << 20;

/// Where a room's journal is: a directory named after the room, and in it the two slot files of
/// the notebook stored under the key `key_check` names (`RoomKey::fingerprint`, or "none"): the
/// same room name with another secret is another notebook. Names are hashed (rooms and keys may
/// hold any character, file names may not).
pub fn location(room: &str, key_check: &str) -> (String, [String; 2]) {
    let key = &hex_sha256(key_check)[..16];
    (directory(room), [format!("{key}.a"), format!("{key}.b")])
}

/// The directory of every journal of `room` (each key's): what forgetting the room removes.
pub fn directory(room: &str) -> String {
    hex_sha256(room)
}

fn hex_sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What the shell writes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Go on in `slot` from `length` (what follows is a torn write: cut it off).
    Resume { slot: usize, length: u64 },
    /// Replace `slot`'s content with `bytes` and go on after them.
    Start { slot: usize, bytes: Vec<u8> },
    /// Add `bytes` at the end of the slot in use.
    Append(Vec<u8>),
}

/// What reading the two slots found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Read {
    /// The records of the newest valid slot, oldest first: the notebook as this copy has it.
    pub records: Vec<Vec<u8>>,
    /// Where writing goes on, if a slot was valid.
    resume: Option<Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    slot: usize,
    generation: u64,
    length: u64,
    /// The length of the slot's first record (the notebook it started from).
    started_with: u64,
}

/// Reads both slots (their whole files; empty if never written). Never fails: what does not
/// check out is not read, and the shell then starts afresh.
pub fn read(slots: [&[u8]; 2]) -> Read {
    let mut best: Option<(Position, Vec<Vec<u8>>)> = None;
    for (slot, bytes) in slots.iter().enumerate() {
        let Some((generation, records, length)) = read_slot(bytes) else {
            continue;
        };
        if best
            .as_ref()
            .is_some_and(|(best, _)| best.generation >= generation)
        {
            continue;
        }
        let started_with = records[0].len() as u64;
        let position = Position {
            slot,
            generation,
            length,
            started_with,
        };
        best = Some((position, records));
    }
    match best {
        Some((position, records)) => Read {
            records,
            resume: Some(position),
        },
        None => Read::default(),
    }
}

/// A slot's generation, records and valid length; `None` unless its header and first record
/// check out.
fn read_slot(bytes: &[u8]) -> Option<(u64, Vec<Vec<u8>>, u64)> {
    let header = bytes.get(..HEADER_LEN)?;
    if &header[..8] != MAGIC || crate::crc32::crc32(&header[..16]) != u32_at(header, 16) {
        return None;
    }
    let generation = u64::from_le_bytes(header[8..16].try_into().ok()?);
    // Never written (the next would not be higher): a file made to look like a journal.
    if generation == u64::MAX {
        return None;
    }
    let mut records = Vec::new();
    let mut at = HEADER_LEN;
    while let Some(record) = record_at(bytes, at) {
        records.push(record.to_vec());
        at += RECORD_HEADER_LEN + record.len();
    }
    (!records.is_empty()).then_some((generation, records, at as u64))
}

/// The record at `at`, if it is whole and checks out.
fn record_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let header = bytes.get(at..at.checked_add(RECORD_HEADER_LEN)?)?;
    let length = u32_at(header, 0) as usize;
    let start = at + RECORD_HEADER_LEN;
    let record = bytes.get(start..start.checked_add(length)?)?;
    (crate::crc32::crc32(record) == u32_at(header, 4)).then_some(record)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn put_record(out: &mut Vec<u8>, record: &[u8]) {
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&crate::crc32::crc32(record).to_le_bytes());
    out.extend_from_slice(record);
}

/// Where the journal is being written: the slot in use, its generation and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    at: Position,
}

impl Journal {
    /// Goes on from what `read` found, or starts afresh from `state` (the whole notebook, as
    /// the store and the journal's records merged make it) when nothing was valid or the slot
    /// has grown well past what it started from.
    pub fn open(read: &Read, state: impl FnOnce() -> Vec<u8>) -> (Journal, Write) {
        match read.resume {
            Some(at) if at.length - HEADER_LEN as u64 <= 2 * at.started_with + SLACK_BYTES => (
                Journal { at },
                Write::Resume {
                    slot: at.slot,
                    length: at.length,
                },
            ),
            _ => Self::take_over(read, &state()),
        }
    }

    /// Starts afresh from `state` whatever `read` found, in the slot it did not read from:
    /// for a tab taking the files over from another that wrote them (what that tab wrote is
    /// in `state` by now; what came between its leaving and now is not in the files).
    pub fn take_over(read: &Read, state: &[u8]) -> (Journal, Write) {
        let mut journal = Journal {
            at: read.resume.unwrap_or(Position {
                slot: 1,
                generation: 0,
                length: 0,
                started_with: 0,
            }),
        };
        let write = journal.start(state);
        (journal, write)
    }

    /// The bytes that add `records` at the end of the slot in use.
    pub fn append(&mut self, records: &[Vec<u8>]) -> Write {
        let mut bytes = Vec::new();
        for record in records {
            put_record(&mut bytes, record);
        }
        self.at.length += bytes.len() as u64;
        Write::Append(bytes)
    }

    /// Starts the other slot, under the next generation, from `state` (the whole notebook):
    /// compaction. The slot in use stays as it is until this write is whole.
    pub fn start(&mut self, state: &[u8]) -> Write {
        let slot = 1 - self.at.slot;
        let generation = self.at.generation + 1;
        let mut bytes = Vec::with_capacity(HEADER_LEN + RECORD_HEADER_LEN + state.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&generation.to_le_bytes());
        bytes.extend_from_slice(&crate::crc32::crc32(&bytes).to_le_bytes());
        put_record(&mut bytes, state);
        self.at = Position {
            slot,
            generation,
            length: bytes.len() as u64,
            started_with: state.len() as u64,
        };
        Write::Start { slot, bytes }
    }
}

/// The two slot files as the worker keeps them (static/journal_worker.js does the same with
/// each [`Write`]): the model the tests, the fuzz target and its seeds write through.
#[derive(Debug, Default, Clone)]
pub struct SlotFiles {
    pub slots: [Vec<u8>; 2],
    in_use: usize,
}

impl SlotFiles {
    pub fn new(slots: [Vec<u8>; 2]) -> SlotFiles {
        SlotFiles { slots, in_use: 0 }
    }

    pub fn write(&mut self, write: &Write) {
        match write {
            Write::Resume { slot, length } => {
                self.in_use = *slot;
                self.slots[*slot].truncate(*length as usize);
            }
            Write::Start { slot, bytes } => {
                self.slots[*slot] = bytes.clone();
                self.in_use = *slot;
            }
            Write::Append(bytes) => self.slots[self.in_use].extend_from_slice(bytes),
        }
    }

    pub fn read(&self) -> Read {
        read([&self.slots[0], &self.slots[1]])
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
