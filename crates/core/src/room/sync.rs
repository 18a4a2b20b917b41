//! y-protocols sync with peers and tabs: their messages (sync steps 1 and 2, updates,
//! awareness), each peer's handshake nudged along (`peer_sync`), and the document in and out
//! (others' updates, the store).
//!
//! Updates from others are applied when everything they build on is here, and held back until
//! it is otherwise, as Yjs does ([`DocSync`]). yrs 0.28 would integrate an update that starts past what the document knows behind a
//! placeholder, and a later update overlapping that range crashes it; the text it showed would
//! also be missing from what we relay and store. So such an update waits ([`DocSync::hold`]), and
//! the room asks its sender for what is missing.

use commonplace_protocol::frame::Frame;
use yrs::sync::{Message, SyncMessage};
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::output::{Effect, Event};
use super::peer_sync::Nudge;
use super::{Room, Source, EMPTY_UPDATE, REMOTE, STORED};
use crate::peer_message;

/// A document whose log is smaller than this is sent encoded: one frame, encoded in well under
/// a millisecond, where the log could be dozens of frames, each a task for the newcomer.
const LOG_AT_LEAST: usize = 256 << 10;

/// A notebook whose log is smaller than this goes along with our greeting, unasked: a newcomer
/// then has it one round trip sooner (its question crosses our greeting, and it asks only once
/// its end of the channel has heard us: see `ANSWERER_WAIT_MS`); one that has it applies
/// nothing. Bigger ones wait to be asked, as y-protocols has it.
const GREET_WITH_STATE_BELOW: usize = 64 << 10;

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
        let update = match peer_message::decode_update(bytes) {
            Ok(update) => update,
            Err(error) => {
                received.dropped.push(error);
                return received;
            }
        };
        if !follows_known_state(doc, &update) {
            received.held = true;
            self.hold(update, bytes.len(), &mut received.dropped);
            return received;
        }
        integrate(doc, update, Some(bytes), &mut received);
        self.integrate_held(doc, &mut received);
        received
    }

    /// Integrates what was held back and follows on now: after the document changed another
    /// way (the server's store).
    pub fn retry_held(&mut self, doc: &Doc) -> Received {
        let mut received = Received::default();
        self.integrate_held(doc, &mut received);
        received
    }

    /// Each integration may fill the gap a held update was waiting for.
    fn integrate_held(&mut self, doc: &Doc, received: &mut Received) {
        while let Some(i) = self
            .held
            .iter()
            .position(|(update, _)| follows_known_state(doc, update))
        {
            let (update, size) = self.held.remove(i);
            self.held_bytes -= size;
            integrate(doc, update, None, received);
        }
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

impl Room {
    /// Applies stored updates (oldest first) as one transaction. They are not stored again;
    /// the editor hears of them as [`Event::PageChanged`].
    ///
    /// The shell opens signaling while the store loads, so peers and tabs may already be
    /// connected, and synced against the document without the stored part: what loading adds
    /// goes to them as one update (a store read before anyone connected sends nothing).
    pub fn load(&mut self, now: u64, updates: &[Vec<u8>]) {
        self.set_time(now);
        let listeners = self.mesh.paths().next().is_some() || self.tabs.count() > 0;
        let before = listeners.then(|| self.doc().transact().state_vector());
        let mut dropped = Vec::new();
        let mark = self
            .log
            .mark_before(updates.iter().map(Vec::len).sum::<usize>());
        let (added, missing) = {
            let mut txn = self.doc().transact_mut_with(STORED);
            for (i, bytes) in updates.iter().enumerate() {
                let applied = peer_message::decode_update(bytes)
                    .and_then(|update| txn.apply_update(update).map_err(|e| e.to_string()));
                if let Err(error) = applied {
                    dropped.push(format!("stored update {i}: {error}"));
                }
            }
            if peer_message::drop_unreadable_pending(&mut txn) {
                dropped.push("stored updates whose waiting part yrs cannot read back".into());
            }
            let added = before.map(|before| txn.encode_diff_v1(&before));
            (added, txn.has_missing_updates())
        };
        self.take_changes();
        // Stored updates that failed, or wait for ones never stored, are not what the document
        // holds: a late joiner gets the document encoded instead.
        if dropped.is_empty() && !missing {
            self.log.log_since(mark, updates);
        } else {
            self.log.distrust();
        }
        if let Some(added) = added.filter(|update| *update != EMPTY_UPDATE) {
            self.broadcast(&Message::Sync(SyncMessage::Update(added)), None);
        }
        for why in dropped {
            self.out.dropped(why);
        }
    }

    /// Applies the records of the notebook's second copy (`app::journal`) after the store's,
    /// as [`Room::load`] does. What they held that the store had lost comes back as one update,
    /// for the shell to store again (and say); `None` if the store lacked nothing they add.
    pub fn load_second_copy(&mut self, now: u64, records: &[Vec<u8>]) -> Option<Vec<u8>> {
        let before = self.doc().transact().state_vector();
        self.load(now, records);
        let txn = self.doc().transact();
        (txn.state_vector() != before).then(|| txn.encode_diff_v1(&before))
    }

    /// The whole document as one update: what a compacted store holds.
    pub fn encode_state(&self) -> Vec<u8> {
        let txn = self.doc().transact();
        txn.encode_state_as_update_v1(&StateVector::default())
    }

    // y-protocols messages, from a peer or a tab.

    /// Sends each peer what its sync handshake calls for now (see `peer_sync`).
    pub(super) fn nudge(&mut self) {
        for (peer, nudge) in self.mesh.nudges(self.now) {
            let to = Source::Peer(&peer);
            let state_vector = self.doc().transact().state_vector();
            let step1 = Message::Sync(SyncMessage::SyncStep1(state_vector));
            match nudge {
                Nudge::Greet => {
                    // The state first: the newcomer handles each frame in a task of its own
                    // (the first ones slowed by compiling what they call), and the text is
                    // what they are waiting to see.
                    let small = self.log.trusted() && self.log.bytes() < GREET_WITH_STATE_BELOW;
                    let state = if small {
                        self.encode_state()
                    } else {
                        Vec::new()
                    };
                    if small && state != EMPTY_UPDATE {
                        self.reply(to, &Message::Sync(SyncMessage::SyncStep2(state)));
                    }
                    self.reply(to, &step1);
                    if let Some(update) = self.presence.everyone(&self.awareness) {
                        self.reply(to, &Message::Awareness(update));
                    }
                }
                Nudge::AskAgain => {
                    self.reply(to, &step1);
                    // Whatever went missing may have been their presence too.
                    self.reply(to, &Message::AwarenessQuery);
                }
                Nudge::Resync => self.reply(to, &step1),
                Nudge::SendState => self.send_whole_state(to),
            }
        }
    }

    pub(super) fn on_message(&mut self, from: Source<'_>, message: Message) {
        match message {
            Message::Sync(SyncMessage::SyncStep1(remote)) => {
                // One who has nothing can be ahead of nobody.
                let ahead = if remote.is_empty() {
                    self.send_whole_state(from);
                    false
                } else {
                    let (diff, ahead) = {
                        let txn = self.doc().transact();
                        let known = txn.state_vector();
                        let ahead = remote
                            .iter()
                            .any(|(client, &clock)| clock > known.get(client));
                        (txn.encode_diff_v1(&remote), ahead)
                    };
                    self.reply(from, &Message::Sync(SyncMessage::SyncStep2(diff)));
                    ahead
                };
                if let Source::Peer(peer) = from {
                    if let Some(sync) = self.mesh.sync_mut(peer) {
                        sync.on_asked();
                    }
                }
                if ahead {
                    self.ask_for_missing(from);
                }
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                self.apply_remote_update(from, &update);
                if let Source::Peer(peer) = from {
                    if let Some(sync) = self.mesh.sync_mut(peer) {
                        sync.on_their_state(self.now);
                    }
                }
            }
            Message::Sync(SyncMessage::Update(update)) => self.apply_remote_update(from, &update),
            Message::AwarenessQuery => {
                if let Some(update) = self.presence.everyone(&self.awareness) {
                    self.reply(from, &Message::Awareness(update));
                }
            }
            Message::Awareness(update) => {
                let peer = match from {
                    Source::Peer(peer) => Some(peer),
                    Source::Broadcast => None,
                };
                match self.presence.on_update(&mut self.awareness, peer, update) {
                    Ok(applied) => {
                        if applied.refused > 0 {
                            self.out.dropped(format!(
                                "awareness from {from}: {} states too big or past the people bound",
                                applied.refused
                            ));
                        }
                        if applied.changed {
                            self.out.event(Event::PresenceChanged);
                        }
                    }
                    Err(error) => self.out.dropped(format!("awareness from {from}: {error}")),
                }
            }
            Message::Auth(_) | Message::Custom(..) => {}
        }
    }

    /// Sends `to`, who has nothing, the whole document: the state log's updates as they are
    /// (sync step 2 with the first, updates with the rest), or, for a small document or when
    /// the log is not to be trusted, the document encoded (which the log then starts again
    /// from, if it was not trusted).
    fn send_whole_state(&mut self, to: Source<'_>) {
        let log = self
            .log
            .updates()
            .filter(|updates| updates.iter().map(Vec::len).sum::<usize>() >= LOG_AT_LEAST);
        if let Some(updates) = log {
            let frames: Vec<Vec<u8>> = updates
                .iter()
                .enumerate()
                .map(|(i, update)| match i {
                    0 => Frame::SyncStep2(update).encode(),
                    _ => Frame::Update(update).encode(),
                })
                .collect();
            for frame in frames {
                self.reply_frame(to, frame);
            }
            return;
        }
        let state = self.encode_state();
        if !self.log.trusted() {
            self.log.restart(state.clone());
        }
        self.reply(to, &Message::Sync(SyncMessage::SyncStep2(state)));
    }

    /// Applies an update from someone else (a peer, a tab, the server's store) and logs what
    /// it added.
    pub(super) fn receive(&mut self, bytes: &[u8]) -> Received {
        let mark = self.log.mark_before(bytes.len());
        let received = self.sync.receive(self.awareness.doc(), bytes);
        if received.dropped.is_empty() {
            self.log.log_since(mark, &received.new);
        } else {
            self.log.distrust();
        }
        received
    }

    fn apply_remote_update(&mut self, from: Source<'_>, bytes: &[u8]) {
        let received = self.receive(bytes);
        for why in received.dropped {
            self.out.dropped(format!("update from {from}: {why}"));
        }
        if received.held {
            self.ask_for_missing(from);
        }
        self.take_changes();
        for update in received.new {
            self.broadcast_update(&update, Some(from));
            self.out.effect(Effect::Store(update));
        }
    }

    /// `from` has something this room lacks (a state vector ahead of ours, or an update that
    /// needs one we never got): ask it for its state, unless a question is already out.
    fn ask_for_missing(&mut self, from: Source<'_>) {
        let now = self.now;
        let ask = match from {
            Source::Peer(peer) => self.mesh.sync_mut(peer).is_some_and(|s| s.on_missing(now)),
            Source::Broadcast => self.tabs.ask_due(now),
        };
        if ask {
            let state_vector = self.doc().transact().state_vector();
            self.reply(from, &Message::Sync(SyncMessage::SyncStep1(state_vector)));
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

/// Applies `update` and records what it added. `bytes`: the update as received, if it is at hand.
fn integrate(doc: &Doc, update: Update, bytes: Option<&[u8]>, received: &mut Received) {
    let whole = bytes.filter(|_| all_new(doc, &update));
    let result = {
        let mut txn = doc.transact_mut_with(REMOTE);
        let applied = txn.apply_update(update);
        if peer_message::drop_unreadable_pending(&mut txn) {
            received
                .dropped
                .push("an update whose waiting part yrs cannot read back".into());
        }
        applied.map(|()| match whole {
            // Re-encoding a late joiner's 10 MB is ~40 ms (native); what came is what is new.
            Some(bytes) if !txn.has_missing_updates() => bytes.to_vec(),
            _ => txn.encode_update_v1(),
        })
    };
    match result {
        Ok(new) if new != EMPTY_UPDATE => received.new.push(new),
        Ok(_) => {}
        Err(error) => received.dropped.push(error.to_string()),
    }
}

/// Whether every block of `update` is new to `doc` and follows on what it has: each client's
/// blocks start exactly where the document's knowledge of that client ends, and nothing is
/// waiting to be integrated. Then (if nothing is left waiting after it is applied) the update
/// as received is exactly what it adds, but for deletions the document may already have made,
/// which are harmless to relay. An update without blocks never counts: a deletion-only update
/// relayed as received could circle between peers for ever.
fn all_new(doc: &Doc, update: &Update) -> bool {
    let txn = doc.transact();
    let known = txn.state_vector();
    let lower = update.state_vector_lower();
    !txn.has_missing_updates()
        && lower.iter().next().is_some()
        && lower
            .iter()
            .all(|(client, clock)| known.get(client) == *clock)
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
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

    #[test]
    fn an_update_wholly_new_is_relayed_as_received() {
        let (source, updates) = updates(3);
        let whole = source
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let doc = Doc::with_client_id(2);
        let decode = |bytes: &[u8]| Update::decode_v1(bytes).unwrap();
        assert!(
            all_new(&doc, &decode(&whole)),
            "a late joiner's first state"
        );
        assert!(
            !all_new(&doc, &decode(&updates[1])),
            "starts past what is known"
        );
        let received = DocSync::default().receive(&doc, &whole);
        assert_eq!(received.new, vec![whole.clone()]);
        assert!(!all_new(&doc, &decode(&whole)), "known now");
        assert!(!all_new(&doc, &decode(&updates[2])), "known now");
        let again = DocSync::default().receive(&doc, &whole);
        assert!(again.new.is_empty(), "the second time nothing is new");
    }

    #[test]
    fn an_update_partly_known_is_re_encoded_to_what_is_new() {
        let (source, updates) = updates(4);
        let doc = Doc::with_client_id(2);
        let mut sync = DocSync::default();
        sync.receive(&doc, &updates[0]);
        sync.receive(&doc, &updates[1]);
        let whole = source
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let received = sync.receive(&doc, &whole);
        assert_eq!(received.new.len(), 1);
        assert_ne!(received.new[0], whole, "only the part not yet known");
        let fresh = Doc::with_client_id(3);
        let mut only_new = DocSync::default();
        only_new.receive(&fresh, &updates[0]);
        only_new.receive(&fresh, &updates[1]);
        only_new.receive(&fresh, &received.new[0]);
        let text = |doc: &Doc| doc.get_or_insert_text("page").get_string(&doc.transact());
        assert_eq!(text(&fresh), text(&source), "what was new completes a copy");
    }

    #[test]
    fn a_deletion_already_made_is_not_new_again() {
        let (source, _) = updates(2);
        let text = source.get_or_insert_text("page");
        let delete = {
            let mut txn = source.transact_mut();
            text.remove_range(&mut txn, 0, 1);
            txn.encode_update_v1()
        };
        let whole = source
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let doc = Doc::with_client_id(2);
        let mut sync = DocSync::default();
        sync.receive(&doc, &whole);
        let received = sync.receive(&doc, &delete);
        assert!(!all_new(&doc, &Update::decode_v1(&delete).unwrap()));
        assert!(
            received.new.is_empty(),
            "a known deletion relayed again would circle between peers"
        );
    }
}
