//! Updates from others into the document: applied when everything they build on is here,
//! held back until it is otherwise, as Yjs does.
//!
//! yrs 0.28 would integrate an update that starts past what the document knows behind a
//! placeholder, and a later update overlapping that range crashes it; the text it showed would
//! also be missing from what we relay and store. So such an update waits ([`DocSync::hold`]), and
//! the room asks its sender for what is missing.

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

use super::{EMPTY_UPDATE, REMOTE};

/// Bounds on updates held back for missing predecessors (a hostile peer could send many).
const MAX_HELD_UPDATES: usize = 1_024;
const MAX_HELD_BYTES: usize = 16 << 20;

/// What receiving one update did.
#[derive(Debug, Default, PartialEq)]
pub struct Received {
    /// The document changed: these updates (the one received, then held ones it unblocked)
    /// are new, to relay and to store.
    pub new: Vec<Vec<u8>>,
    /// It starts past what we know: held back until the gap is filled.
    pub held: bool,
    /// Why parts of it (or updates held too long) were dropped.
    pub dropped: Vec<String>,
}

#[derive(Default)]
pub struct DocSync {
    /// Updates waiting for earlier ones, and their encoded size.
    held: Vec<(Update, usize)>,
    held_bytes: usize,
}

impl DocSync {
    pub fn held(&self) -> usize {
        self.held.len()
    }

    pub fn receive(&mut self, doc: &Doc, bytes: &[u8]) -> Received {
        let mut received = Received::default();
        let update = match Update::decode_v1(bytes) {
            Ok(update) => update,
            Err(error) => {
                received.dropped.push(error.to_string());
                return received;
            }
        };
        if !follows_known_state(doc, &update) {
            received.held = true;
            self.hold(update, bytes.len(), &mut received.dropped);
            return received;
        }
        integrate(doc, update, &mut received);
        // Each integration may fill the gap a held update was waiting for.
        while let Some(i) = self
            .held
            .iter()
            .position(|(update, _)| follows_known_state(doc, update))
        {
            let (update, size) = self.held.remove(i);
            self.held_bytes -= size;
            integrate(doc, update, &mut received);
        }
        received
    }

    fn hold(&mut self, update: Update, size: usize, dropped: &mut Vec<String>) {
        self.held.push((update, size));
        self.held_bytes += size;
        while self.held.len() > MAX_HELD_UPDATES || self.held_bytes > MAX_HELD_BYTES {
            let (_, size) = self.held.remove(0);
            self.held_bytes -= size;
            dropped.push("too many waiting for missing ones".into());
        }
    }
}

/// Whether the update starts, for every client, at or before what the document has.
fn follows_known_state(doc: &Doc, update: &Update) -> bool {
    let known = doc.transact().state_vector();
    let lower = update.state_vector_lower();
    lower
        .iter()
        .all(|(client, clock)| known.get(client) >= *clock)
}

fn integrate(doc: &Doc, update: Update, received: &mut Received) {
    let result = {
        let mut txn = doc.transact_mut_with(REMOTE);
        txn.apply_update(update).map(|()| txn.encode_update_v1())
    };
    match result {
        Ok(new) if new != EMPTY_UPDATE => received.new.push(new),
        Ok(_) => {}
        Err(error) => received.dropped.push(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use yrs::{GetString, Text, Transact};

    use super::*;

    fn updates(n: usize) -> (Doc, Vec<Vec<u8>>) {
        let doc = Doc::with_client_id(1);
        let text = doc.get_or_insert_text("page");
        let mut updates = Vec::new();
        for i in 0..n {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, i as u32, &i.to_string());
            updates.push(txn.encode_update_v1());
        }
        (doc, updates)
    }

    #[test]
    fn out_of_order_updates_wait_for_their_predecessors() {
        let (source, updates) = updates(4);
        let doc = Doc::with_client_id(2);
        let mut sync = DocSync::default();
        for i in [3, 1, 2] {
            let received = sync.receive(&doc, &updates[i]);
            assert!(received.held && received.new.is_empty(), "update {i}");
        }
        assert_eq!(sync.held(), 3);
        let received = sync.receive(&doc, &updates[0]);
        assert_eq!(
            received.new.len(),
            4,
            "the first, then the three it unblocked"
        );
        assert_eq!(sync.held(), 0);
        let text = |doc: &Doc| doc.get_or_insert_text("page").get_string(&doc.transact());
        assert_eq!(text(&doc), text(&source));
        assert_eq!(
            sync.receive(&doc, &updates[2]),
            Received::default(),
            "known: nothing new"
        );
    }

    #[test]
    fn garbage_is_dropped_with_a_reason() {
        let received = DocSync::default().receive(&Doc::new(), &[1, 2, 3]);
        assert!(received.new.is_empty() && !received.held);
        assert_eq!(received.dropped.len(), 1);
    }
}
