//! What the log holds but has not encoded yet: every change since a state vector of the
//! document.
//!
//! Typing makes an update a keystroke. Keeping each (a copy, a push) and merging them (yrs
//! decodes, sorts and encodes every one again, 0.4 to 6 µs an update as batches grow) cost the
//! edit path about 2.5 µs a keystroke across the two rooms of `tests/edit_path.rs`. The document
//! already holds what they added, squashed into few blocks, the text they deleted already
//! dropped: so a span notes only where it began and what its transactions deleted, and is
//! encoded from the document when it is wanted.

use std::cell::RefCell;
use std::rc::Rc;

use yrs::encoding::varint::VarInt;
use yrs::encoding::write::Write;
use yrs::updates::encoder::{Encode, Encoder};
use yrs::{Any, IdSet, ReadTxn, StateVector, ID};

pub(super) struct Span {
    /// The document's state vector when the span began: the blocks past it are the span's.
    from: StateVector,
    /// What the span's transactions deleted (gathered by the log's observer, [`note_deleted`]).
    deleted: Rc<RefCell<IdSet>>,
    /// Bytes of the updates logged into it: more than its encoding will be.
    bytes: usize,
}

impl Span {
    /// A span from an empty document, its deletions gathered into `deleted`.
    pub fn new(deleted: Rc<RefCell<IdSet>>) -> Span {
        Span {
            from: StateVector::default(),
            deleted,
            bytes: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// An update of `bytes` that the document now holds is the span's.
    pub fn add(&mut self, bytes: usize) {
        self.bytes += bytes;
    }

    /// Begins again at what `txn` sees now.
    pub fn reopen(&mut self, txn: &impl ReadTxn) {
        self.from = txn.state_vector();
        *self.deleted.borrow_mut() = IdSet::new();
        self.bytes = 0;
    }

    /// Forgets what it held, until it is reopened.
    pub fn clear(&mut self) {
        self.bytes = 0;
    }

    /// The span as one update: the document's blocks since it began, and what it deleted.
    pub fn encode(&self, txn: &impl ReadTxn) -> Vec<u8> {
        let mut update = blocks_since(txn, &self.from);
        update.extend(self.deleted.borrow().encode_v1());
        update
    }
}

/// Adds a transaction's deletions to a span's.
pub(super) fn note_deleted(span: &RefCell<IdSet>, deleted: &IdSet) {
    if deleted.is_empty() {
        return;
    }
    let mut span = span.borrow_mut();
    for (client, ranges) in deleted.iter() {
        for range in ranges.iter() {
            span.insert(ID::new(*client, range.start), range.end - range.start);
        }
    }
}

/// The blocks `txn`'s document has past `from`, v1-encoded, without a delete set.
pub(super) fn blocks_since(txn: &impl ReadTxn, from: &StateVector) -> Vec<u8> {
    let mut encoder = BlocksEncoder::default();
    txn.encode_diff(from, &mut encoder);
    encoder.blocks()
}

/// yrs's v1 encoder, byte for byte, that also finds where the delete set begins: yrs encodes
/// the blocks past a state vector only followed by the whole document's delete set
/// (`ReadTxn::encode_diff`), which would repeat every deletion ever made in every span.
#[derive(Default)]
struct BlocksEncoder {
    buf: Vec<u8>,
    /// Where the last varint began.
    last_var: usize,
    /// Where the delete set began: at the count of its clients, the varint written just before
    /// its first client (`IdSet::encode`); blocks never reset the delete set's state.
    delete_set: Option<usize>,
}

impl BlocksEncoder {
    fn blocks(mut self) -> Vec<u8> {
        // A delete set without clients is its count alone, the last varint written.
        self.buf.truncate(self.delete_set.unwrap_or(self.last_var));
        self.buf
    }

    fn write_id(&mut self, id: &ID) {
        self.write_var(id.client.get());
        self.write_var(id.clock);
    }
}

impl Write for BlocksEncoder {
    fn write_all(&mut self, buf: &[u8]) {
        self.buf.extend_from_slice(buf);
    }

    fn write_u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    fn write_var<T: VarInt>(&mut self, num: T) {
        self.last_var = self.buf.len();
        num.write(self);
    }
}

impl Encoder for BlocksEncoder {
    fn to_vec(self) -> Vec<u8> {
        self.buf
    }

    fn reset_ds_cur_val(&mut self) {
        self.delete_set.get_or_insert(self.last_var);
    }

    fn write_ds_clock(&mut self, clock: u32) {
        self.write_var(clock);
    }

    fn write_ds_len(&mut self, len: u32) {
        self.write_var(len);
    }

    fn write_left_id(&mut self, id: &ID) {
        self.write_id(id);
    }

    fn write_right_id(&mut self, id: &ID) {
        self.write_id(id);
    }

    fn write_client(&mut self, client: yrs::block::ClientID) {
        self.write_var(client.get());
    }

    fn write_info(&mut self, info: u8) {
        self.write_u8(info);
    }

    fn write_parent_info(&mut self, is_y_key: bool) {
        self.write_var(u32::from(is_y_key));
    }

    fn write_type_ref(&mut self, info: u8) {
        self.write_u8(info);
    }

    fn write_len(&mut self, len: u32) {
        self.write_var(len);
    }

    fn write_any(&mut self, any: &Any) {
        any.encode(self);
    }

    fn write_json(&mut self, any: &Any) {
        let mut json = String::new();
        any.to_json(&mut json);
        self.write_string(&json);
    }

    fn write_key(&mut self, key: &str) {
        self.write_string(key);
    }
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::updates::encoder::EncoderV1;
    use yrs::{Doc, Map, Text, Transact, Update};

    use super::*;

    /// A document with text typed, deleted and a map beside it, from two clients.
    fn doc() -> Doc {
        let doc = Doc::with_client_id(1);
        let text = doc.get_or_insert_text("t");
        let map = doc.get_or_insert_map("m");
        for i in 0..50u32 {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, i / 2, "ab");
            if i % 7 == 0 {
                text.remove_range(&mut txn, i / 3, 2);
            }
            map.insert(&mut txn, format!("k{}", i % 5), i64::from(i));
        }
        let other = Doc::with_client_id(2);
        let update = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let text = other.get_or_insert_text("t");
        let mut txn = other.transact_mut();
        txn.apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        text.insert(&mut txn, 3, "from two");
        text.remove_range(&mut txn, 0, 5);
        drop(txn);
        other
    }

    /// The cut is where yrs's own encoder begins the delete set, whatever the state vector.
    #[test]
    fn blocks_are_yrs_encoding_without_its_delete_set() {
        let doc = doc();
        let txn = doc.transact();
        let mut later = StateVector::default();
        later.set_max(yrs::block::ClientID::new(1), 20);
        for from in [StateVector::default(), later, txn.state_vector()] {
            let mut yrs_encoder = EncoderV1::new();
            txn.encode_diff(&from, &mut yrs_encoder);
            let whole = yrs_encoder.to_vec();
            let mut blocks = blocks_since(&txn, &from);
            blocks.extend(txn.snapshot().delete_set.encode_v1());
            assert_eq!(blocks, whole);
        }
    }
}
