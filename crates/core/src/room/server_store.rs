//! The room's encrypted copy on the server (issue 12), as its own machine: what to ask the
//! store next, and what its answers mean for the document.
//!
//! On open, after the browser's own copy: read everything after the last sequence seen (a
//! snapshot and the records after it), check each record's seal, and hand the updates to the
//! room. Then local changes go up batched (at most [`FLUSH_MS`] apart, merged into one record),
//! one request at a time so that sequence numbers follow the order of the changes; a failed
//! request is tried again with backoff, and the batch is kept until the store acknowledges it.
//! After the first read of a session, whatever the document holds that the store lacks (changes
//! made while it could not hear them, in a session that ended offline, or by a peer that keeps
//! no copy) goes up as one diff: nothing has to be remembered between sessions for that. When the records
//! after the snapshot pass [`SNAPSHOT_RECORDS`] or [`SNAPSHOT_BYTES`], a browser that has read
//! them all writes a new snapshot, compare-and-swap on the sequence it replaces: two browsers
//! doing so at once lose nothing, since the loser's records stay until a snapshot covers them.
//!
//! Everything the server returns is opened with the store key: a record it altered, made up
//! or moved from another store is dropped with a reason, never applied; so is a snapshot
//! served under another sequence than the one sealed in it. A writer's counter that skips
//! shows records withheld from the middle of its run.

use std::collections::BTreeMap;

use commonplace_protocol::store_crypto::{self, StoreKeys, WriterId};
use yrs::{IdSet, ReadTxn, StateVector, Transact, ID};

use crate::peer_message;

/// Local changes wait at most this long before they go to the store together.
pub const FLUSH_MS: u64 = 500;
/// A new snapshot once this many records follow the last one…
pub const SNAPSHOT_RECORDS: u64 = 300;
/// …or this many bytes of them.
pub const SNAPSHOT_BYTES: u64 = 1 << 20;
/// The store is read again this often (others may write while no peer connects us).
pub const READ_EVERY_MS: u64 = 60_000;
/// A change larger than this goes up inside a snapshot rather than as a record: the server
/// refuses records past `--store-max-record` (256 KiB by default), snapshots only past the
/// store's quota. (A first upload of a large notebook, a large paste.)
pub const MAX_RECORD_BYTES: usize = 192 * 1024;
const RETRY_MS: u64 = 1_000;
const RETRY_MAX_MS: u64 = 60_000;

/// What to ask the server's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRequest {
    /// Everything after sequence `after`.
    Read { after: u64 },
    /// One sealed record.
    Append { record: Vec<u8> },
    /// A sealed snapshot covering `covers`, if the current one still covers `replaces`.
    Snapshot {
        covers: u64,
        replaces: u64,
        snapshot: Vec<u8>,
    },
    /// The whole store.
    Delete,
}

/// The store's answer to the request in flight, as the shell decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreReply {
    /// A read: the snapshot (covers, sealed) if newer than asked, then the records (seq, sealed).
    Read {
        snapshot: Option<(u64, Vec<u8>)>,
        records: Vec<(u64, Vec<u8>)>,
        /// The reply was cut at its size bound: there is more to read at once.
        more: bool,
    },
    /// There is no store yet (a read), or no longer (anything else).
    NotFound,
    /// Someone holding the key removed the server copy: it stays removed.
    Gone,
    /// An append was committed as `seq`.
    Appended {
        seq: u64,
    },
    /// A snapshot was taken.
    SnapshotTaken {
        covers: u64,
    },
    /// A snapshot lost the race: the current one covers `covers`.
    SnapshotStale {
        covers: u64,
    },
    Deleted,
    /// Refused for good (a wrong write token, over quota): `why` is for the person.
    Refused {
        why: String,
    },
    /// The network or the server failed: try again later.
    Failed {
        why: String,
    },
}

/// What the person is told about the server's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCopy {
    /// There is none: an open room (no key to seal with), or no store on the server.
    #[default]
    None,
    /// Every change this browser knows of is in the store.
    Saved,
    /// Some are not yet.
    Pending,
    /// The store refuses this browser's changes (why: in a `Dropped` event).
    Refused,
    /// Removed by this person; the notebook stays in the browsers.
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Read,
    /// How many queued updates the record carried (and whether it was the recovery diff).
    Append {
        batched: usize,
        diff: bool,
        /// The record's size, counted towards the next snapshot once it is stored.
        bytes: usize,
    },
    /// `batched`, `diff`: local changes the snapshot carries up (a change too large for a
    /// record), settled once it is taken.
    Snapshot {
        covers: u64,
        batched: usize,
        diff: bool,
    },
    Delete,
}

/// The store, as one browser session sees it.
pub struct ServerStore {
    keys: StoreKeys,
    writer: WriterId,
    next_counter: u64,
    /// Every record up to this sequence is in the document (read, or covered by a snapshot read).
    seen: u64,
    /// The sequence the current snapshot covers, as last heard.
    snapshot_covers: u64,
    /// Records and bytes after that snapshot, as far as this browser knows.
    records_after: u64,
    bytes_after: u64,
    /// The union of every update known to be in the store: what it inserted and deleted.
    store_inserted: IdSet,
    store_deleted: IdSet,
    /// Each writer's last counter read, to see records withheld from a run.
    counters: BTreeMap<WriterId, u64>,
    /// Local updates not yet sent, oldest first.
    queued: Vec<Vec<u8>>,
    /// The update in the record in flight: known to be in the store once appended.
    uploading: Option<Vec<u8>>,
    /// Once the store has been read: send what it lacks of the document (changes made while it
    /// could not hear them, in this session or an earlier one, or by a peer that keeps none).
    diff_due: bool,
    read_once: bool,
    in_flight: Option<InFlight>,
    /// What the snapshot in flight holds: the store's known state once it is taken.
    snapshot_state: Option<yrs::Snapshot>,
    flush_at: Option<u64>,
    read_at: u64,
    retry_at: Option<u64>,
    retry_ms: u64,
    refused: Option<String>,
    removed: bool,
    /// Nonces for sealing, from the caller's randomness.
    nonces: Box<dyn FnMut() -> [u8; 12]>,
}

impl std::fmt::Debug for ServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStore")
            .field("store", &self.keys)
            .field("seen", &self.seen)
            .field("snapshot_covers", &self.snapshot_covers)
            .field("queued", &self.queued.len())
            .field("diff_due", &self.diff_due)
            .field("in_flight", &self.in_flight)
            .field("refused", &self.refused)
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

impl ServerStore {
    /// `writer` and the nonces must be random.
    pub fn new(
        keys: StoreKeys,
        writer: WriterId,
        nonces: impl FnMut() -> [u8; 12] + 'static,
    ) -> ServerStore {
        ServerStore {
            keys,
            writer,
            next_counter: 0,
            seen: 0,
            snapshot_covers: 0,
            records_after: 0,
            bytes_after: 0,
            store_inserted: IdSet::default(),
            store_deleted: IdSet::default(),
            counters: BTreeMap::new(),
            queued: Vec::new(),
            uploading: None,
            diff_due: false,
            read_once: false,
            in_flight: None,
            snapshot_state: None,
            flush_at: None,
            read_at: 0,
            retry_at: None,
            retry_ms: RETRY_MS,
            refused: None,
            removed: false,
            nonces: Box::new(nonces),
        }
    }

    /// The store id and write token the shell addresses requests with.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }

    /// A change this browser made (a Yjs update): it goes to the store within [`FLUSH_MS`].
    pub fn on_local_update(&mut self, now: u64, update: Vec<u8>) {
        if self.removed {
            return;
        }
        self.queued.push(update);
        self.flush_at.get_or_insert(now + FLUSH_MS);
    }

    /// Whether changes may wait to reach the store (or it has not been read yet to tell).
    pub fn has_unsent_changes(&self) -> bool {
        self.diff_due || !self.queued.is_empty() || !self.read_once
    }

    pub fn server_copy(&self) -> ServerCopy {
        if self.removed {
            ServerCopy::Removed
        } else if self.refused.is_some() {
            ServerCopy::Refused
        } else if self.has_unsent_changes() {
            ServerCopy::Pending
        } else {
            ServerCopy::Saved
        }
    }

    /// The person removes the server's copy; the notebook stays in the browsers.
    pub fn remove(&mut self) {
        self.removed = true;
        self.queued.clear();
        self.diff_due = false;
    }

    /// The network is back (or the signaling server reconnected): try now, and read again.
    pub fn on_online(&mut self, now: u64) {
        self.retry_at = None;
        self.retry_ms = RETRY_MS;
        self.read_at = now;
    }

    /// The next request to send, if one is due and none is in flight. `doc` is the room's
    /// document (for a snapshot, or the diff of unsent changes).
    pub fn poll_request(&mut self, now: u64, doc: &yrs::Doc) -> Option<StoreRequest> {
        if self.in_flight.is_some() || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if self.removed {
            return None;
        }
        if !self.read_once || now >= self.read_at {
            return self.send(InFlight::Read, StoreRequest::Read { after: self.seen });
        }
        if self.refused.is_some() {
            return None;
        }
        if self.diff_due {
            let diff = doc.transact().encode_state_as_update_v1(&self.store_sv());
            if !self.lacks(&diff) {
                // The usual case: everything here is in the store already.
                self.diff_due = false;
                return self.poll_request(now, doc);
            }
            return self.upload(doc, diff, true);
        }
        if self.flush_at.is_some_and(|at| now >= at) && !self.queued.is_empty() {
            let merged = match yrs::merge_updates_v1(self.queued.iter()) {
                Ok(merged) => merged,
                // Our own updates always merge; if not, send the document's diff instead.
                Err(_) => doc.transact().encode_state_as_update_v1(&self.store_sv()),
            };
            return self.upload(doc, merged, false);
        }
        let large = self.records_after >= SNAPSHOT_RECORDS || self.bytes_after >= SNAPSHOT_BYTES;
        if large && self.seen > self.snapshot_covers {
            return Some(self.snapshot(doc, 0, false));
        }
        None
    }

    /// Local changes up: as one record, or inside a snapshot when too large for one. A
    /// snapshot must cover a record this browser has read; with none past the current
    /// snapshot, an empty record goes first to make one.
    fn upload(&mut self, doc: &yrs::Doc, update: Vec<u8>, diff: bool) -> Option<StoreRequest> {
        let batched = self.queued.len();
        if update.len() <= MAX_RECORD_BYTES {
            let record = self.seal(update);
            let bytes = record.len();
            return self.send(
                InFlight::Append {
                    batched,
                    diff,
                    bytes,
                },
                StoreRequest::Append { record },
            );
        }
        if self.seen > self.snapshot_covers {
            return Some(self.snapshot(doc, batched, diff));
        }
        // Yjs's empty update: no structs, an empty delete set.
        let record = self.seal(vec![0, 0]);
        self.send(
            InFlight::Append {
                batched: 0,
                diff: false,
                bytes: record.len(),
            },
            StoreRequest::Append { record },
        )
    }

    /// The whole document, covering every record read so far.
    fn snapshot(&mut self, doc: &yrs::Doc, batched: usize, diff: bool) -> StoreRequest {
        let txn = doc.transact();
        let state = txn.encode_state_as_update_v1(&StateVector::default());
        self.snapshot_state = Some(txn.snapshot());
        drop(txn);
        let snapshot = store_crypto::Snapshot {
            covers: self.seen,
            writers: self.counters.clone(),
            state,
        };
        let sealed = self.keys.seal_snapshot(&snapshot, (self.nonces)());
        self.in_flight = Some(InFlight::Snapshot {
            covers: self.seen,
            batched,
            diff,
        });
        StoreRequest::Snapshot {
            covers: self.seen,
            replaces: self.snapshot_covers,
            snapshot: sealed,
        }
    }

    /// The person's request to remove the server copy, to send now (before anything else).
    pub fn delete_request(&mut self) -> StoreRequest {
        self.remove();
        self.in_flight = Some(InFlight::Delete);
        StoreRequest::Delete
    }

    /// The answer to the request in flight. Returns the updates read (to apply to the
    /// document, as the store's) and what was dropped, with reasons.
    pub fn on_reply(&mut self, now: u64, reply: StoreReply) -> Applied {
        let mut applied = Applied::default();
        // Sealed again if it must go again (as the next record of the writer's run).
        let uploading = self.uploading.take();
        let Some(in_flight) = self.in_flight.take() else {
            applied
                .dropped
                .push("a store reply with no request in flight".into());
            return applied;
        };
        match (in_flight, reply) {
            (_, StoreReply::Failed { why }) => {
                self.back_off(now);
                applied.dropped.push(format!("store unreachable: {why}"));
                return applied;
            }
            (
                InFlight::Read,
                StoreReply::Read {
                    snapshot,
                    records,
                    more,
                },
            ) => {
                self.on_read(snapshot, records, &mut applied);
                applied.more = more;
                if more {
                    self.read_at = now;
                } else {
                    if !self.read_once {
                        self.diff_due = true;
                    }
                    self.read_once = true;
                    self.read_at = now + READ_EVERY_MS;
                }
            }
            (InFlight::Read, StoreReply::NotFound) => {
                // No store yet: the first append makes one, with everything this browser has.
                self.diff_due = true;
                self.read_once = true;
                self.read_at = now + READ_EVERY_MS;
            }
            (
                InFlight::Append {
                    batched,
                    diff,
                    bytes,
                },
                StoreReply::Appended { seq },
            ) => {
                if let Some(update) = &uploading {
                    self.learn(update);
                }
                let counter = self.next_counter;
                self.next_counter += 1;
                self.settle(now, batched, diff);
                self.records_after += 1;
                self.bytes_after += bytes as u64;
                // Records between the last read and this one are others': read them soon.
                if seq > self.seen + 1 {
                    self.read_at = self.read_at.min(now);
                } else {
                    self.seen = seq;
                    // Read as if from the store: a snapshot of ours says how far our own run
                    // goes, or its readers would take our next record for one after a
                    // withheld one (issue 16's soak).
                    let last = self.counters.entry(self.writer).or_insert(counter);
                    *last = (*last).max(counter);
                }
            }
            (
                InFlight::Snapshot {
                    covers,
                    batched,
                    diff,
                },
                StoreReply::SnapshotTaken { .. },
            ) => {
                self.settle(now, batched, diff);
                if let Some(state) = self.snapshot_state.take() {
                    for (&client, &clock) in state.state_map.iter() {
                        self.store_inserted.insert(ID::new(client, 0), clock);
                    }
                    self.store_deleted.merge_with(state.delete_set);
                }
                self.snapshot_covers = covers;
                self.records_after = 0;
                self.bytes_after = 0;
            }
            (InFlight::Snapshot { .. }, StoreReply::SnapshotStale { covers })
                if covers == self.snapshot_covers =>
            {
                // "Stale" against the very snapshot it replaced: not a race another browser
                // won. Wait as after a failure rather than ask again at once, and again.
                self.back_off(now);
                applied.dropped.push(format!(
                    "a snapshot refused as stale against its own base {covers}"
                ));
                return applied;
            }
            (InFlight::Snapshot { .. }, StoreReply::SnapshotStale { covers }) => {
                // Another browser took one: read what it covers before any other.
                self.snapshot_covers = covers;
                self.read_at = now;
            }
            (InFlight::Delete, StoreReply::Deleted | StoreReply::NotFound | StoreReply::Gone) => {}
            (_, StoreReply::Gone) => {
                self.remove();
                applied.dropped.push(
                    "the server copy was removed by someone holding the key; changes stay here"
                        .into(),
                );
            }
            (_, StoreReply::NotFound) => {
                // The store was removed meanwhile (elsewhere): this browser's changes make a
                // new one, with everything it has.
                self.diff_due = true;
                self.seen = 0;
                self.snapshot_covers = 0;
                self.store_inserted = IdSet::default();
                self.store_deleted = IdSet::default();
            }
            (_, StoreReply::Refused { why }) => {
                self.refused = Some(why.clone());
                applied.dropped.push(format!("the store refused: {why}"));
            }
            (_, other) => applied.dropped.push(format!(
                "a store reply that does not answer the request: {other:?}"
            )),
        }
        self.retry_at = None;
        self.retry_ms = RETRY_MS;
        applied
    }

    fn on_read(
        &mut self,
        snapshot: Option<(u64, Vec<u8>)>,
        records: Vec<(u64, Vec<u8>)>,
        applied: &mut Applied,
    ) {
        if let Some((covers, sealed)) = snapshot {
            match self.keys.open_snapshot(&sealed, covers) {
                Ok(opened) if covers > self.seen => {
                    self.learn(&opened.state);
                    applied.updates.push(opened.state);
                    self.counters = opened.writers;
                    self.seen = covers;
                    self.snapshot_covers = covers;
                    self.records_after = 0;
                    self.bytes_after = 0;
                }
                Ok(_) => applied.dropped.push(format!(
                    "a store snapshot covering {covers}, not past {}",
                    self.seen
                )),
                Err(error) => applied.dropped.push(format!("store snapshot: {error}")),
            }
        }
        for (seq, sealed) in records {
            if seq <= self.seen {
                applied.dropped.push(format!(
                    "store record {seq}: already read up to {}",
                    self.seen
                ));
                continue;
            }
            let opened = match self.keys.open_update(&sealed) {
                Ok(opened) => opened,
                Err(error) => {
                    applied.dropped.push(format!("store record {seq}: {error}"));
                    continue;
                }
            };
            if let Some(&last) = self.counters.get(&opened.writer) {
                if opened.counter > last + 1 {
                    applied.dropped.push(format!(
                        "store record {seq}: {} of its writer's records before it are missing",
                        opened.counter - last - 1
                    ));
                }
            }
            let counter = self.counters.entry(opened.writer).or_insert(opened.counter);
            *counter = (*counter).max(opened.counter);
            self.seen = seq;
            self.records_after += 1;
            self.bytes_after += sealed.len() as u64;
            self.learn(&opened.update);
            applied.updates.push(opened.update);
        }
    }

    /// The store acknowledged the first `batched` queued changes (and the diff of unsent ones).
    fn settle(&mut self, now: u64, batched: usize, diff: bool) {
        self.queued.drain(..batched.min(self.queued.len()));
        if diff {
            self.diff_due = false;
        }
        self.flush_at = (!self.queued.is_empty()).then_some(now);
    }

    /// No request before the backoff has passed; the next wait twice as long (at most
    /// [`RETRY_MAX_MS`]).
    fn back_off(&mut self, now: u64) {
        self.retry_at = Some(now + self.retry_ms);
        self.retry_ms = (self.retry_ms * 2).min(RETRY_MAX_MS);
    }

    /// What `update` adds to the store's known state.
    fn learn(&mut self, update: &[u8]) {
        if let Ok(update) = peer_message::decode_update(update) {
            self.store_inserted.merge_with(update.insertions(true));
            self.store_deleted.merge_with(update.delete_set().clone());
        }
    }

    /// The store's state vector: for each client, how far from its first change the store
    /// holds every one (a gap stops it, so a diff against it never leaves a gap out).
    fn store_sv(&self) -> StateVector {
        let mut sv = StateVector::default();
        for (&client, ranges) in self.store_inserted.iter() {
            let mut ranges: Vec<_> = ranges.iter().cloned().collect();
            ranges.sort_by_key(|range| range.start);
            let mut end = 0;
            for range in ranges {
                if range.start > end {
                    break;
                }
                end = end.max(range.end);
            }
            if end > 0 {
                sv.set_max(client, end);
            }
        }
        sv
    }

    /// Whether `diff` (the document past the store's state vector) holds anything the store
    /// lacks: insertions, or deletions it has not recorded (a diff always carries every one).
    fn lacks(&self, diff: &[u8]) -> bool {
        let Ok(update) = peer_message::decode_update(diff) else {
            return true;
        };
        let inserted = update.insertions(true).diff(&self.store_inserted);
        let deleted = update.delete_set().diff(&self.store_deleted);
        // A diff keeps a client whose every range it removed: look at the ranges.
        let any = |set: &IdSet| set.iter().any(|(_, ranges)| !ranges.is_empty());
        any(&inserted) || any(&deleted)
    }

    /// Seals `update` as this writer's next record. The counter moves on, and the store is
    /// known to hold the update, only once the store says it appended it: a record that never
    /// got there leaves no gap in the counters (readers would take it for one withheld), and
    /// what it carried is still lacking (issue 16's soak).
    fn seal(&mut self, update: Vec<u8>) -> Vec<u8> {
        let record = store_crypto::Update {
            writer: self.writer,
            counter: self.next_counter,
            update,
        };
        let sealed = self.keys.seal_update(&record, (self.nonces)());
        self.uploading = Some(record.update);
        sealed
    }

    fn send(&mut self, in_flight: InFlight, request: StoreRequest) -> Option<StoreRequest> {
        self.in_flight = Some(in_flight);
        Some(request)
    }

    /// When [`ServerStore::poll_request`] next has something to send, if nothing is in flight.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.in_flight.is_some() || self.removed {
            return None;
        }
        if let Some(at) = self.retry_at {
            return Some(at);
        }
        let flush = self.flush_at.filter(|_| !self.queued.is_empty());
        [flush, Some(self.read_at)].into_iter().flatten().min()
    }
}

/// What a store reply brought.
#[derive(Debug, Default, PartialEq)]
pub struct Applied {
    /// Yjs updates to apply to the document, in order.
    pub updates: Vec<Vec<u8>>,
    /// What was dropped, and why.
    pub dropped: Vec<String>,
    /// A read cut at its size bound: the rest is asked for at once.
    pub more: bool,
}

#[cfg(test)]
#[path = "server_store_tests.rs"]
pub(super) mod tests;
