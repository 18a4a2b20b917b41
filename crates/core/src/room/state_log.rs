//! The updates that made the document, kept so that a peer or tab joining with nothing gets
//! them as they are instead of the whole document encoded on this peer's main thread (10 MB
//! took a 66 ms task in the browser, every time someone joined late).
//!
//! The log is only as good as its completeness, so it checks itself: an observer counts every
//! transaction that changed the document, and the room logs each change path's updates against
//! a [`StateLog::mark`] taken before it. A change nobody logged, or one that failed part-way,
//! leaves the count ahead of what was logged, and the log is no longer trusted: the room then
//! encodes the document as before and [`StateLog::restart`]s the log from that encoding.
//!
//! What typing adds is not kept a keystroke at a time: the log's newest part is a [`span`], the
//! changes since a state vector, encoded from the document only when someone joins with nothing,
//! when a big update comes (so that it can be kept as it came), or once it has grown past
//! [`SPAN_MAX`]. Encoded entries are merged as a counter carries, so a late joiner gets a
//! bounded number of frames.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use yrs::{Doc, IdSet, ReadTxn, Transact, TransactionCleanupEvent};

use span::{note_deleted, Span};

mod span;

const OBSERVER: &str = "state-log";
/// An update this big is kept as it came when it can be (an initial sync, a store's compacted
/// record): encoding it again would cost what the log is there to save.
const SMALL: usize = 4 << 10;
/// The span is encoded once the updates logged into it pass this many bytes: a few thousand
/// keystrokes, one modest frame. Encoding it walks the document's blocks once (yrs works out
/// the whole delete set, which the span drops: 0.12 ms native for a page of 40,000 scattered
/// edits), so it is not done more often than that.
const SPAN_MAX: usize = 64 << 10;
/// Encoded entries are merged this many at a time, once that many hold as much each: the log
/// keeps fewer than this many entries of each size.
const FAN_IN: usize = 16;
/// Merged entries grow to at most this: merging costs a decode and encode of what is merged.
const MERGED_MAX: usize = 256 << 10;
/// Small updates kept as they came are merged this many at a time: yrs's merge grows with the
/// square of the updates merged (137,993 keystrokes, each stored as its own record, took 184 s
/// to open as one merge; 1 s to apply).
const MERGE_RUN: usize = 64;
/// The weight of the entry a log (re)starts from: it is never merged into.
const BASE: u64 = u64::MAX;
/// The log is dropped when it outgrows the document it started from by this much plus its
/// size again (a page pasted and deleted over and over): an encoding is smaller then.
const SLACK: usize = 32 << 20;

pub(super) struct StateLog {
    doc: Doc,
    /// Encoded updates, oldest first: applied in order to an empty document they make this one
    /// as it was when the span began.
    updates: Vec<Vec<u8>>,
    /// How many encodings each entry holds (a merged one more than one).
    weights: Vec<u64>,
    /// The changes since, not encoded yet.
    span: Span,
    span_max: usize,
    /// Bytes of the encoded entries.
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
        let deleted = Rc::new(RefCell::new(IdSet::new()));
        let (counter, span_deleted) = (seen.clone(), deleted.clone());
        let _ = doc.observe_transaction_cleanup(OBSERVER, move |_, event| {
            if changed(event) {
                counter.set(counter.get() + 1);
                note_deleted(&span_deleted, &event.delete_set);
            }
        });
        let empty = doc.transact().state_vector().is_empty();
        StateLog {
            doc: doc.clone(),
            updates: Vec::new(),
            weights: Vec::new(),
            span: Span::new(deleted),
            span_max: SPAN_MAX,
            bytes: 0,
            base: 0,
            seen,
            logged: empty.then_some(0),
        }
    }

    pub fn mark(&self) -> Mark {
        Mark(self.seen.get())
    }

    /// [`StateLog::mark`], before a change path applies `incoming` bytes of others' updates:
    /// if that is big, the span is encoded first, so that the update can be kept as it came.
    pub fn mark_before(&mut self, incoming: usize) -> Mark {
        if incoming > SMALL && self.trusted() {
            self.encode_span();
        }
        self.mark()
    }

    /// The transactions since `mark` made these updates (empty ones are skipped), which the
    /// document now holds. Anything the log missed before the mark drops trust.
    pub fn log_since<U: AsRef<[u8]>>(&mut self, mark: Mark, updates: &[U]) {
        if self.logged != Some(mark.0) {
            return self.distrust();
        }
        let new = || {
            updates
                .iter()
                .map(AsRef::as_ref)
                .filter(|update| *update != super::EMPTY_UPDATE)
        };
        let big = new().any(|update| update.len() > SMALL);
        if big && self.span.is_empty() {
            self.keep_as_they_came(new());
        } else {
            new().for_each(|update| self.span.add(update.len()));
            if big || self.span.bytes() > self.span_max {
                self.encode_span();
            }
        }
        self.logged = Some(self.seen.get());
        if self.bytes() > 2 * self.base + SLACK {
            self.distrust();
        }
    }

    /// A change went wrong part-way (an update that failed to apply): the log cannot say what
    /// the document holds until it restarts.
    pub fn distrust(&mut self) {
        self.logged = None;
        self.updates = Vec::new();
        self.weights = Vec::new();
        self.span.clear();
        self.bytes = 0;
    }

    /// Whether every change since the log (re)started is in it.
    pub fn trusted(&self) -> bool {
        self.logged == Some(self.seen.get())
    }

    /// What the log's updates add up to, in bytes (the span counted as it was logged).
    pub fn bytes(&self) -> usize {
        self.bytes + self.span.bytes()
    }

    /// The log's updates, the span encoded first, if every change since it (re)started is in
    /// them.
    pub fn updates(&mut self) -> Option<&[Vec<u8>]> {
        if !self.trusted() {
            return None;
        }
        self.encode_span();
        Some(&self.updates[..])
    }

    /// Starts again from `state`, the whole document encoded now.
    pub fn restart(&mut self, state: Vec<u8>) {
        self.distrust();
        self.base = state.len();
        self.push(state, BASE);
        self.span.reopen(&self.doc.transact());
        self.logged = Some(self.seen.get());
    }

    /// Keeps `updates`, the span being empty: big ones as they came, runs of small ones merged
    /// [`MERGE_RUN`] at a time; the span begins after them.
    fn keep_as_they_came<'a>(&mut self, updates: impl Iterator<Item = &'a [u8]>) {
        let mut small: Vec<&[u8]> = Vec::new();
        for update in updates {
            if update.len() > SMALL {
                self.push_merged(std::mem::take(&mut small));
                self.push(update.to_vec(), 1);
                self.carry();
            } else {
                small.push(update);
                if small.len() == MERGE_RUN {
                    self.push_merged(std::mem::take(&mut small));
                    self.carry();
                }
            }
        }
        self.push_merged(small);
        self.span.reopen(&self.doc.transact());
        self.carry();
    }

    /// Pushes `updates` merged into one (or apart, should they not merge).
    fn push_merged(&mut self, updates: Vec<&[u8]>) {
        let merged = match updates[..] {
            [] => return,
            [one] => Ok(one.to_vec()),
            _ => yrs::merge_updates_v1(&updates),
        };
        match merged {
            Ok(merged) => self.push(merged, 1),
            Err(_) => updates
                .into_iter()
                .for_each(|update| self.push(update.to_vec(), 1)),
        }
    }

    /// Encodes what the span holds into an entry, and merges entries as a counter carries.
    fn encode_span(&mut self) {
        if self.span.is_empty() {
            return;
        }
        let txn = self.doc.transact();
        let update = self.span.encode(&txn);
        self.span.reopen(&txn);
        drop(txn);
        self.push(update, 1);
        self.carry();
    }

    fn push(&mut self, update: Vec<u8>, weight: u64) {
        self.bytes += update.len();
        self.updates.push(update);
        self.weights.push(weight);
    }

    /// Merges the newest [`FAN_IN`] entries into one while they hold as many encodings each
    /// (and stay under [`MERGED_MAX`] together): an entry is merged again about
    /// log₁₆(entries) times. Merging each batch into the one entry before, as this did first,
    /// decoded and encoded that growing entry every batch: the edit path went from 1.5× raw yrs
    /// to 5×.
    fn carry(&mut self) {
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

    /// One logged edit of the text: `delete` units at `index`, then `insert` there.
    fn edit(doc: &Doc, log: &mut StateLog, index: u32, delete: u32, insert: &str) -> Vec<u8> {
        let t = doc.get_or_insert_text("t");
        let mark = log.mark();
        let update = {
            let mut txn = doc.transact_mut();
            if delete > 0 {
                t.remove_range(&mut txn, index, delete);
            }
            t.insert(&mut txn, index, insert);
            txn.encode_update_v1()
        };
        log.log_since(mark, &[&update]);
        update
    }

    /// One logged keystroke-sized edit.
    fn type_one(doc: &Doc, log: &mut StateLog, i: u32) {
        edit(doc, log, i, 0, "x");
    }

    /// A document and its log after `keys` logged keystrokes, its span encoded past `span_max`.
    fn typed(keys: u32, span_max: usize) -> (Doc, StateLog) {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        log.span_max = span_max;
        for i in 0..keys {
            type_one(&doc, &mut log, i);
        }
        (doc, log)
    }

    /// An update from another client that makes `text` of the text.
    fn remote(client: u64, text: &str) -> Vec<u8> {
        let doc = Doc::with_client_id(client);
        let t = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 0, text);
        txn.encode_update_v1()
    }

    /// Applies others' updates in one transaction, logged as the room logs what it receives.
    fn receive(doc: &Doc, log: &mut StateLog, updates: &[Vec<u8>]) {
        let mark = log.mark_before(updates.iter().map(Vec::len).sum());
        let mut txn = doc.transact_mut();
        for update in updates {
            txn.apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
        drop(txn);
        log.log_since(mark, updates);
    }

    #[test]
    fn typing_is_encoded_from_the_document_when_asked_and_replays_to_it() {
        let (doc, mut log) = typed(1_000, SPAN_MAX);
        assert!(
            log.updates.is_empty(),
            "nothing encoded a keystroke at a time"
        );
        let updates = log.updates().expect("every change logged");
        assert_eq!(updates.len(), 1);
        assert_eq!(text(&replay(updates)), text(&doc));
        assert!(log.bytes() < 1_000 * 5, "{} bytes", log.bytes());
    }

    /// Encoded spans are merged as a counter carries in base FAN_IN: entries hold fewer spans
    /// the newer they are, so an entry is merged again a logarithmic number of times. Merging
    /// each batch into the one growing entry before it (the 5x regression) would leave weights
    /// like [n - 1, 1] instead.
    #[test]
    fn spans_merge_as_a_counter_carries() {
        let (doc, mut log) = typed(6_400, 200);
        let spans: u64 = log.weights.iter().sum();
        assert!(
            spans > (FAN_IN * FAN_IN) as u64,
            "{spans} spans: carried twice"
        );
        let mut expected = Vec::new();
        let (mut count, mut tier) = (spans, 1);
        while count > 0 {
            expected.extend(std::iter::repeat_n(tier, (count % FAN_IN as u64) as usize));
            count /= FAN_IN as u64;
            tier *= FAN_IN as u64;
        }
        expected.reverse();
        assert_eq!(log.weights, expected);
        let updates = log.updates().expect("every change logged");
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    #[test]
    fn deletions_in_a_span_reach_what_was_encoded_before_it() {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        edit(&doc, &mut log, 0, 0, "hello old world");
        assert_eq!(log.updates().map(<[_]>::len), Some(1));
        edit(&doc, &mut log, 6, 3, "new");
        edit(&doc, &mut log, 0, 0, "typed then deleted ");
        edit(&doc, &mut log, 0, 19, "");
        let updates = log.updates().expect("every change logged");
        assert_eq!(updates.len(), 2);
        assert_eq!(text(&doc), "hello new world");
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    #[test]
    fn a_big_update_from_elsewhere_is_kept_as_it_came() {
        let (doc, mut log) = typed(10, SPAN_MAX);
        let big = remote(2, &"a big page\n".repeat(1_000));
        receive(&doc, &mut log, std::slice::from_ref(&big));
        type_one(&doc, &mut log, 0);
        let updates = log.updates().expect("every change logged").to_vec();
        assert_eq!(updates.len(), 3, "typing, the big update, typing");
        assert_eq!(updates[1], big);
        assert_eq!(text(&replay(&updates)), text(&doc));
    }

    #[test]
    fn a_batch_with_a_big_update_keeps_it_and_merges_the_small_ones() {
        let doc = Doc::with_client_id(1);
        let mut log = StateLog::new(&doc);
        let big = remote(4, &"stored\n".repeat(1_000));
        let batch = [remote(2, "a"), remote(3, "b"), big.clone(), remote(5, "c")];
        receive(&doc, &mut log, &batch);
        let updates = log.updates().expect("every change logged").to_vec();
        assert_eq!(updates.len(), 3, "two small merged, the big one, the last");
        assert_eq!(updates[1], big);
        assert_eq!(text(&replay(&updates)), text(&doc));
    }

    #[test]
    fn a_big_paste_while_typing_is_encoded_with_the_span() {
        let (doc, mut log) = typed(10, SPAN_MAX);
        edit(&doc, &mut log, 5, 0, &"pasted ".repeat(1_000));
        assert_eq!(
            log.updates.len(),
            1,
            "encoded at once, with what came before"
        );
        type_one(&doc, &mut log, 0);
        let updates = log.updates().expect("every change logged");
        assert_eq!(text(&replay(updates)), text(&doc));
    }

    /// Two people editing anywhere (deleting each other's text too), the log's span encoded
    /// often and at joins along the way: what it holds always replays to the document.
    #[test]
    fn scattered_edits_from_two_sides_replay_at_every_join() {
        let doc = Doc::with_client_id(1);
        let other = Doc::with_client_id(2);
        let mut log = StateLog::new(&doc);
        log.span_max = 300;
        let mut seed = 7u64;
        let mut next = |below: u32| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as u32) % below.max(1)
        };
        for step in 0..3_000u32 {
            let len = text(&doc).len() as u32;
            let at = next(len + 1);
            let delete = next(4).min(len - at);
            if step % 3 == 0 {
                // The other person's edit, received as the room receives it.
                let t = other.get_or_insert_text("t");
                let update = {
                    let mut txn = other.transact_mut();
                    t.remove_range(&mut txn, at, delete);
                    t.insert(&mut txn, at, "o");
                    txn.encode_update_v1()
                };
                receive(&doc, &mut log, &[update]);
            } else {
                edit(&doc, &mut log, at, delete, "m");
            }
            let mine = doc
                .transact()
                .encode_state_as_update_v1(&Default::default());
            other
                .transact_mut()
                .apply_update(Update::decode_v1(&mine).unwrap())
                .unwrap();
            if step % 500 == 499 {
                let updates = log.updates().expect("every change logged");
                assert_eq!(text(&replay(updates)), text(&doc), "step {step}");
            }
        }
        assert!(log.weights.iter().sum::<u64>() > FAN_IN as u64, "carried");
        let updates = log.updates().expect("every change logged");
        assert!(updates.len() < 3 * FAN_IN, "{} entries", updates.len());
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
        let mut log = StateLog::new(&doc);
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
        let page = "y".repeat(1 << 20);
        for _ in 0..40 {
            edit(&doc, &mut log, 0, 0, &page);
            edit(&doc, &mut log, 0, page.len() as u32, "");
        }
        assert!(log.updates().is_none(), "40 MiB logged for an empty page");
    }
}
