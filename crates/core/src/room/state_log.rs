//! The updates that made the document, kept so that a peer or tab joining with nothing gets
//! them as they are instead of the whole document encoded on this peer's main thread (10 MB
//! took a 66 ms task in the browser, every time someone joined late).
//!
//! The log is only as good as its completeness, so it checks itself: an observer counts every
//! transaction that changed the document, and the room logs each change path's updates against
//! a [`StateLog::mark`] taken before it. A change nobody logged, or one that failed part-way,
//! leaves the count ahead of what was logged, and the log is no longer trusted: the room then
//! encodes the document as before and [`StateLog::restart`]s the log from that encoding.

use std::cell::Cell;
use std::rc::Rc;

use yrs::{Doc, ReadTxn, Transact, TransactionCleanupEvent};

const OBSERVER: &str = "state-log";
/// Past this many entries, the newest small ones are merged: typing makes one tiny update per
/// keystroke, and each entry is a frame to every late joiner.
const MERGE_AFTER: usize = 64;
/// An update this small is merged with its neighbours (typing, a paste of a paragraph).
const SMALL: usize = 4 << 10;
/// Merged entries are merged again this many at a time, once that many hold as many updates
/// each: an update is merged again about log₁₆(updates / 64) times, and the log keeps fewer
/// than this many entries of each size.
const FAN_IN: usize = 16;
/// Merged entries grow to at most this: merging costs a decode and encode of what is merged.
const MERGED_MAX: usize = 256 << 10;
/// The weight of the entry a log (re)starts from: it is never merged into.
const BASE: u64 = u64::MAX;
/// The log is dropped when it outgrows the document it started from by this much plus its
/// size again (a page pasted and deleted over and over): an encoding is smaller then.
const SLACK: usize = 32 << 20;

pub(super) struct StateLog {
    /// The updates, oldest first: applied in order to an empty document they make this one.
    updates: Vec<Vec<u8>>,
    /// How many logged updates each entry holds (merged ones more than one).
    weights: Vec<u64>,
    /// How many of the newest entries are small and not merged yet.
    unmerged: usize,
    bytes: usize,
    /// Bytes of the entry the log (re)started from.
    base: usize,
    /// Changing transactions the observer has counted.
    seen: Rc<Cell<u64>>,
    /// How many of those the log accounts for; `None`: not trusted.
    logged: Option<u64>,
}

/// The count of changing transactions before a change path ran: see [`StateLog::log_since`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark(u64);

impl StateLog {
    /// A log of `doc`, trusted only if it is empty now.
    pub fn new(doc: &Doc) -> StateLog {
        let seen = Rc::new(Cell::new(0));
        let counter = seen.clone();
        let _ = doc.observe_transaction_cleanup(OBSERVER, move |_, event| {
            if changed(event) {
                counter.set(counter.get() + 1);
            }
        });
        let empty = doc.transact().state_vector().is_empty();
        StateLog {
            updates: Vec::new(),
            weights: Vec::new(),
            unmerged: 0,
            bytes: 0,
            base: 0,
            seen,
            logged: empty.then_some(0),
        }
    }

    pub fn mark(&self) -> Mark {
        Mark(self.seen.get())
    }

    /// The transactions since `mark` made these updates (empty ones are skipped). Anything the
    /// log missed before the mark drops trust.
    pub fn log_since<I>(&mut self, mark: Mark, updates: I)
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        if self.logged != Some(mark.0) {
            return self.distrust();
        }
        for update in updates {
            let update = update.as_ref();
            if update != super::EMPTY_UPDATE {
                self.push(update.to_vec());
            }
        }
        self.logged = Some(self.seen.get());
        if self.bytes > 2 * self.base + SLACK {
            self.distrust();
        }
    }

    /// A change went wrong part-way (an update that failed to apply): the log cannot say what
    /// the document holds until it restarts.
    pub fn distrust(&mut self) {
        self.logged = None;
        self.updates = Vec::new();
        self.weights = Vec::new();
        self.unmerged = 0;
        self.bytes = 0;
    }

    /// What the log's updates add up to, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The log's updates, if every change since it (re)started is in them.
    pub fn updates(&self) -> Option<&[Vec<u8>]> {
        (self.logged == Some(self.seen.get())).then_some(&self.updates[..])
    }

    /// Starts again from `state`, the whole document encoded now.
    pub fn restart(&mut self, state: Vec<u8>) {
        self.distrust();
        self.base = state.len();
        self.push(state);
        self.unmerged = 0;
        self.weights[0] = BASE;
        self.logged = Some(self.seen.get());
    }

    fn push(&mut self, update: Vec<u8>) {
        self.bytes += update.len();
        let small = update.len() <= SMALL;
        self.updates.push(update);
        self.weights.push(1);
        self.unmerged = if small { self.unmerged + 1 } else { 0 };
        if self.unmerged > MERGE_AFTER {
            self.merge_newest();
        }
    }

    /// Merges the newest small entries into one, then, as a counter carries, the newest
    /// [`FAN_IN`] entries into one while they hold as many updates each (and stay under
    /// [`MERGED_MAX`] together). Merging into the one entry before, as this did first, decoded
    /// and encoded that growing entry every 64 keystrokes: the edit path went from 1.5× raw
    /// yrs to 5×.
    fn merge_newest(&mut self) {
        let from = self.updates.len() - self.unmerged;
        self.unmerged = 0;
        self.merge_from(from);
        while let Some(from) = self.updates.len().checked_sub(FAN_IN) {
            let weights = &self.weights[from..];
            let bytes: usize = self.updates[from..].iter().map(Vec::len).sum();
            if weights.iter().any(|w| *w != weights[0])
                || bytes > MERGED_MAX
                || !self.merge_from(from)
            {
                break;
            }
        }
    }

    /// Merges the entries from `from` on into one: false if they would not merge (entries the
    /// document accepted always merge; should some not, they are kept apart).
    fn merge_from(&mut self, from: usize) -> bool {
        let Ok(merged) = yrs::merge_updates_v1(&self.updates[from..]) else {
            return false;
        };
        let replaced: usize = self.updates[from..].iter().map(Vec::len).sum();
        let weight = self.weights[from..]
            .iter()
            .fold(0, |sum: u64, w| sum.saturating_add(*w));
        self.updates.truncate(from);
        self.weights.truncate(from);
        self.bytes = self.bytes - replaced + merged.len();
        self.updates.push(merged);
        self.weights.push(weight);
        true
    }
}

/// Whether a transaction changed the document: added to it or deleted from it.
pub(super) fn changed(event: &TransactionCleanupEvent) -> bool {
    event.before_state != event.after_state || !event.delete_set.is_empty()
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Text, Update};

    use super::*;

    fn replay(updates: &[Vec<u8>]) -> Doc {
        let doc = Doc::with_client_id(99);
        let mut txn = doc.transact_mut();
        for update in updates {
            txn.apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
        drop(txn);
        doc
    }

    fn text(doc: &Doc) -> String {
        doc.get_or_insert_text("t").get_string(&doc.transact())
    }

    /// One logged keystroke-sized edit.
    fn type_one(doc: &Doc, log: &mut StateLog, i: u32) {
        let t = doc.get_or_insert_text("t");
        let mark = log.mark();
        let update = {
            let mut txn = doc.transact_mut();
            t.insert(&mut txn, i, "x");
            txn.encode_update_v1()
        };
        log.log_since(mark, [update]);
    }

    /// A document and its log after `keys` logged keystrokes.
    fn typed(keys: u32) -> (Doc, StateLog) {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        for i in 0..keys {
            type_one(&doc, &mut log, i);
        }
        (doc, log)
    }

    #[test]
    fn typing_is_logged_merged_and_replays_to_the_same_document() {
        let (doc, log) = typed(1_000);
        let updates = log.updates().expect("every change logged");
        assert!(updates.len() < 100, "{} entries", updates.len());
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    /// Merging is a counter in base FAN_IN: entries hold fewer updates the newer they are, so an
    /// update is merged again a logarithmic number of times, not every 64 keystrokes (the
    /// regression: each merge went into the one growing entry before it).
    #[test]
    fn typing_merges_as_a_counter_carries() {
        let (doc, log) = typed(6_400);
        // The tail is merged each time it passes MERGE_AFTER small entries: so many updates a
        // merge, and the merged entries' weights are those merges' count in base FAN_IN.
        let chunk = MERGE_AFTER as u64 + 1;
        let fan_in = FAN_IN as u64;
        let mut expected = Vec::new();
        let (mut merges, mut tier) = (6_400 / chunk, chunk);
        while merges > 0 {
            expected.extend(std::iter::repeat_n(tier, (merges % fan_in) as usize));
            merges /= fan_in;
            tier *= fan_in;
        }
        expected.reverse();
        let merged = &log.weights[..log.weights.len() - log.unmerged];
        assert_eq!(merged, expected);
        let updates = log.updates().expect("every change logged");
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    #[test]
    fn a_change_nobody_logged_drops_trust_until_a_restart() {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        type_one(&doc, &mut log, 0);
        let t = doc.get_or_insert_text("t");
        t.insert(&mut doc.transact_mut(), 0, "unlogged");
        assert!(log.updates().is_none(), "seen before the next mark");
        type_one(&doc, &mut log, 0);
        assert!(
            log.updates().is_none(),
            "logging later does not restore trust"
        );
        log.restart(
            doc.transact()
                .encode_state_as_update_v1(&Default::default()),
        );
        type_one(&doc, &mut log, 0);
        let updates = log.updates().expect("trusted after the restart");
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    #[test]
    fn a_transaction_that_changes_nothing_does_not_count() {
        let doc = Doc::with_client_id(1);
        let log = StateLog::new(&doc);
        drop(doc.transact_mut());
        assert_eq!(log.updates().map(<[_]>::len), Some(0));
    }

    #[test]
    fn a_document_with_history_starts_untrusted() {
        let doc = Doc::with_client_id(1);
        doc.get_or_insert_text("t")
            .insert(&mut doc.transact_mut(), 0, "before");
        assert!(StateLog::new(&doc).updates().is_none());
    }

    #[test]
    fn a_log_grown_far_past_its_start_is_dropped() {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        let t = doc.get_or_insert_text("t");
        let page = "y".repeat(1 << 20);
        for _ in 0..40 {
            for paste in [true, false] {
                let mark = log.mark();
                let update = {
                    let mut txn = doc.transact_mut();
                    if paste {
                        t.insert(&mut txn, 0, &page);
                    } else {
                        t.remove_range(&mut txn, 0, page.len() as u32);
                    }
                    txn.encode_update_v1()
                };
                log.log_since(mark, [update]);
            }
        }
        assert!(log.updates().is_none(), "40 MiB logged for an empty page");
    }
}
