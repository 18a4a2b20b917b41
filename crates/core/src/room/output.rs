//! What a room asks of its shell, in three kinds (str0m's and quinn-proto's shape): bytes to
//! send somewhere ([`Transmit`]), things to do ([`Effect`]) and things a person sees
//! ([`Event`]). The shell drains [`super::Room::poll_output`] after every input.

use std::collections::{HashMap, VecDeque};

use crate::text::Splice;
use commonplace_protocol::frame::Frame;
use commonplace_protocol::signaling::SignalData;

use super::server_store::{ServerCopy, StoreRequest};
use super::PeerId;

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Transmit(Transmit),
    Effect(Effect),
    Event(Event),
}

/// Bytes for one of the room's three ways out.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// A text frame for the signaling server (dropped if it is not connected).
    Server(String),
    /// A frame for the data channel to `peer`.
    Peer { peer: PeerId, bytes: Vec<u8> },
    /// A frame for the room's BroadcastChannel: this browser's other tabs.
    Tabs(Vec<u8>),
    /// A request for the server's encrypted store (`docs/store.md`), addressed with
    /// [`super::Room::store_keys`]; its answer comes back as [`super::Input::StoreReply`].
    Store(StoreRequest),
    /// A request for the version history's store, addressed with
    /// [`super::Room::history_store_keys`]; its answer comes back as
    /// [`super::Input::HistoryStoreReply`].
    HistoryStore(StoreRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The signaling connection has been silent too long: close it and connect again.
    ReconnectSignaling,
    /// Open a WebRTC connection to `peer`; the initiator creates the data channel and offers.
    Connect { peer: PeerId, initiator: bool },
    /// Give the connection to `peer` this signal from the other side.
    Signal { peer: PeerId, signal: SignalData },
    /// Close the connection to `peer`.
    Disconnect { peer: PeerId },
    /// Store this update (a Yjs v1 update) durably: it changed the document.
    Store(Vec<u8>),
    /// Store this update of the version history durably (this browser's history database).
    StoreHistory(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The list of pages changed: one was added, removed, renamed or moved (by anyone); or the
    /// notebook was renamed. Said once, after everything else the room has to say: a shell
    /// that opens another page because of it (the open one is gone) reads that page as the room
    /// has it, with every [`Event::PageChanged`] of it already in.
    PagesChanged,
    /// Someone else (a peer, a stored update, undo or redo) changed a page's text: apply these
    /// splices, in order, to what the editor shows of it. Local edits are not echoed.
    PageChanged {
        page: String,
        splices: Vec<Splice>,
    },
    /// Versions were made, thinned, or arrived from the server's store.
    HistoryChanged,
    /// Someone else's presence (name, colour, page, caret) changed, or someone came or went.
    /// This person's own changes are not echoed.
    PresenceChanged,
    StatusChanged(Status),
    /// A large message from `peer` is arriving in chunks: `received` of `total` bytes so far
    /// (the last report has `received == total`).
    Receiving {
        peer: PeerId,
        received: usize,
        total: usize,
    },
    /// Bad input was dropped; worth a log line, never a crash.
    Dropped(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// The signaling server is connected.
    pub online: bool,
    /// Peers with an open data channel.
    pub peers: usize,
    /// Other tabs of this browser in the room (over the BroadcastChannel).
    pub tabs: usize,
    /// Every open peer has sent us its state (sync step 2) since we last asked for it; until
    /// then the room is still syncing.
    pub synced: bool,
    /// Messages for this room arrived that this peer cannot read: someone in it uses another
    /// secret, or none. Stays set for the life of the room.
    pub undecryptable: bool,
    /// Where the server's encrypted copy stands.
    pub server_copy: ServerCopy,
}

/// Dropped input worth a log line each, per batch: a hostile peer's thousand bad frames are a
/// thousand log lines otherwise, in one task (a console line costs ~0.1 ms, more under
/// DevTools). Those past it are counted in one more line.
const MAX_DROPS_QUEUED: usize = 16;

/// Updates merged into one queued frame stay under this: one data-channel message (no chunks)
/// and one record, however many small updates came in the batch.
const MERGED_UPDATE_MAX: usize = 16 << 10;

/// The queue the room's parts write to, with a short way to say each kind of thing.
///
/// The shell carries it out after each input, or after a batch of inputs when frames come
/// faster than it can: then updates for the same peer, and updates to store, are merged with
/// the one still queued (a flood of small updates would otherwise cost a data-channel send and
/// a record each, relayed to every peer).
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    queue: VecDeque<Output>,
    /// How many outputs were ever taken from the queue: `queue[i - popped]` is output `i`.
    popped: usize,
    /// The last frame queued for each peer, and the last update to store (as output numbers).
    last_to: HashMap<PeerId, usize>,
    last_store: Option<usize>,
    /// The last change of a page's text still queued: later changes of that page join it (the
    /// page list's change is said after them all, see `pages_changed`).
    last_page_change: Option<usize>,
    /// Reasons for dropped input queued since the queue was last empty, and the one event that
    /// counts those past [`MAX_DROPS_QUEUED`].
    drops_queued: usize,
    drops_summary: Option<usize>,
    /// Frames for peers reached through the server: the room turns them into publishes.
    relayed: Vec<(PeerId, Vec<u8>)>,
    /// [`Event::PagesChanged`] is due, once the queue is empty. Queued in its place, a shell
    /// that opened the home page because the open one was gone would show it with the splices
    /// queued after in it already, then apply them again (issue 16's soak, seed 76: one frame
    /// brought a page's deletion and, with an update it unblocked, text of the home page).
    pages_changed: bool,
}

impl Outputs {
    pub fn pop(&mut self) -> Option<Output> {
        let Some(output) = self.queue.pop_front() else {
            return std::mem::take(&mut self.pages_changed)
                .then_some(Output::Event(Event::PagesChanged));
        };
        self.popped += 1;
        if self.queue.is_empty() {
            self.last_to.clear();
            self.last_store = None;
            self.last_page_change = None;
            self.drops_queued = 0;
            self.drops_summary = None;
        }
        Some(output)
    }

    /// Output number `at`, if it is still queued.
    fn queued(&mut self, at: Option<usize>) -> Option<&mut Output> {
        let index = at?.checked_sub(self.popped)?;
        self.queue.get_mut(index)
    }

    fn push(&mut self, output: Output) -> usize {
        self.queue.push_back(output);
        self.popped + self.queue.len() - 1
    }

    /// A frame for `peer`, through the server.
    pub fn relay(&mut self, peer: &str, bytes: Vec<u8>) {
        self.relayed.push((peer.to_owned(), bytes));
    }

    pub fn take_relayed(&mut self) -> Vec<(PeerId, Vec<u8>)> {
        std::mem::take(&mut self.relayed)
    }

    pub fn transmit(&mut self, transmit: Transmit) {
        let peer = match &transmit {
            Transmit::Peer { peer, .. } => Some(peer.clone()),
            _ => None,
        };
        let at = self.push(Output::Transmit(transmit));
        if let Some(peer) = peer {
            self.last_to.insert(peer, at);
        }
    }

    pub fn frame_to(&mut self, peer: &str, bytes: Vec<u8>) {
        let Frame::Update(update) = Frame::decode(&bytes).unwrap_or(Frame::QueryAwareness) else {
            return self.transmit(Transmit::Peer {
                peer: peer.to_owned(),
                bytes,
            });
        };
        // The last frame queued for this peer: an update can join it only if it is one too.
        let at = self.last_to.get(peer).copied();
        if let Some(Output::Transmit(Transmit::Peer { bytes: queued, .. })) = self.queued(at) {
            if let Ok(Frame::Update(earlier)) = Frame::decode(queued) {
                if let Some(merged) = merge(earlier, update) {
                    *queued = Frame::Update(&merged).encode();
                    return;
                }
            }
        }
        self.transmit(Transmit::Peer {
            peer: peer.to_owned(),
            bytes,
        });
    }

    pub fn effect(&mut self, effect: Effect) {
        let store = matches!(effect, Effect::Store(_));
        if let Effect::Store(update) = &effect {
            let at = self.last_store;
            if let Some(Output::Effect(Effect::Store(queued))) = self.queued(at) {
                if let Some(merged) = merge(queued, update) {
                    *queued = merged;
                    return;
                }
            }
        }
        let at = self.push(Output::Effect(effect));
        if store {
            self.last_store = Some(at);
        }
    }

    pub fn event(&mut self, event: Event) {
        match event {
            Event::PageChanged { page, splices } => {
                let at = self.last_page_change;
                if let Some(Output::Event(Event::PageChanged {
                    page: queued,
                    splices: earlier,
                })) = self.queued(at)
                {
                    if *queued == page {
                        return join_splices(earlier, splices);
                    }
                }
                let at = self.push(Output::Event(Event::PageChanged { page, splices }));
                self.last_page_change = Some(at);
            }
            // Said once the queue is empty (see `pages_changed`): page changes queued before
            // and after it may still join, as all come before it.
            Event::PagesChanged => self.pages_changed = true,
            event => {
                self.push(Output::Event(event));
            }
        }
    }

    pub fn dropped(&mut self, why: String) {
        self.drops_queued += 1;
        if self.drops_queued <= MAX_DROPS_QUEUED {
            return self.event(Event::Dropped(why));
        }
        let more = self.drops_queued - MAX_DROPS_QUEUED;
        let summary = format!("{more} more like those");
        let at = self.drops_summary;
        if let Some(Output::Event(Event::Dropped(queued))) = self.queued(at) {
            *queued = summary;
            return;
        }
        let at = self.push(Output::Event(Event::Dropped(summary)));
        self.drops_summary = Some(at);
    }
}

/// Appends `later` to `earlier`, each splice joined with the one before it where it can be
/// (a flood of one-character updates becomes one splice for the editor, not thousands).
fn join_splices(earlier: &mut Vec<Splice>, later: Vec<Splice>) {
    for splice in later {
        match earlier.last().and_then(|last| last.then(&splice)) {
            Some(joined) => *earlier.last_mut().expect("joined with it") = joined,
            None => earlier.push(splice),
        }
    }
}

/// `earlier` and `later` as one update, if both are small enough to be worth it.
fn merge(earlier: &[u8], later: &[u8]) -> Option<Vec<u8>> {
    if earlier.len() + later.len() > MERGED_UPDATE_MAX {
        return None;
    }
    yrs::merge_updates_v1([earlier, later]).ok()
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, Text, Transact, Update};

    use super::*;

    /// `n` updates of one character each, typed one after another.
    fn keystrokes(n: usize) -> Vec<Vec<u8>> {
        let doc = Doc::with_client_id(9);
        let text = doc.get_or_insert_text("page");
        (0..n)
            .map(|i| {
                let mut txn = doc.transact_mut();
                text.insert(&mut txn, i as u32, "~");
                txn.encode_update_v1()
            })
            .collect()
    }

    fn text_of(updates: &[&[u8]]) -> String {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("page");
        let mut txn = doc.transact_mut();
        for update in updates {
            txn.apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
        text.get_string(&txn)
    }

    #[test]
    fn a_batch_of_updates_goes_to_each_peer_and_the_store_as_one() {
        let mut out = Outputs::default();
        for update in keystrokes(1_000) {
            out.event(Event::PresenceChanged);
            out.frame_to("b", Frame::Update(&update).encode());
            out.frame_to("c", Frame::Update(&update).encode());
            out.effect(Effect::Store(update));
        }
        let (mut to_b, mut to_c, mut stored) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(output) = out.pop() {
            match output {
                Output::Transmit(Transmit::Peer { peer, bytes }) => match Frame::decode(&bytes) {
                    Ok(Frame::Update(update)) if peer == "b" => to_b.push(update.to_vec()),
                    Ok(Frame::Update(update)) if peer == "c" => to_c.push(update.to_vec()),
                    other => panic!("{peer}: {other:?}"),
                },
                Output::Effect(Effect::Store(update)) => stored.push(update),
                _ => {}
            }
        }
        assert_eq!((to_b.len(), to_c.len(), stored.len()), (1, 1, 1));
        let want = "~".repeat(1_000);
        for merged in [&to_b, &to_c, &stored] {
            let merged: Vec<&[u8]> = merged.iter().map(Vec::as_slice).collect();
            assert_eq!(text_of(&merged), want);
        }
    }

    #[test]
    fn an_update_never_joins_one_queued_before_another_frame_to_that_peer() {
        let updates = keystrokes(2);
        let mut out = Outputs::default();
        out.frame_to("b", Frame::Update(&updates[0]).encode());
        out.frame_to("b", Frame::QueryAwareness.encode());
        out.frame_to("b", Frame::Update(&updates[1]).encode());
        let frames: Vec<Output> = std::iter::from_fn(|| out.pop()).collect();
        assert_eq!(frames.len(), 3, "the order of frames to one peer is kept");
    }

    #[test]
    fn changes_of_a_page_in_one_batch_reach_the_editor_as_one() {
        let mut out = Outputs::default();
        let splice = |index, insert: &str| Splice {
            index,
            delete: 0,
            insert: insert.into(),
        };
        for i in 0..100 {
            out.event(Event::PageChanged {
                page: "home".into(),
                splices: vec![splice(i, "~")],
            });
            out.event(Event::PresenceChanged);
        }
        out.event(Event::PageChanged {
            page: "home".into(),
            splices: vec![splice(0, "<"), splice(5, "x")],
        });
        out.event(Event::PagesChanged);
        out.event(Event::PageChanged {
            page: "home".into(),
            splices: vec![splice(0, "after")],
        });
        let changes: Vec<Vec<Splice>> = std::iter::from_fn(|| out.pop())
            .filter_map(|output| match output {
                Output::Event(Event::PageChanged { splices, .. }) => Some(splices),
                _ => None,
            })
            .collect();
        // The page list's change is said after them all, so it splits nothing.
        let want = vec![
            splice(0, &format!("<{}", "~".repeat(100))),
            splice(5, "x"),
            splice(0, "after"),
        ];
        assert_eq!(changes, vec![want]);
    }

    #[test]
    fn a_thousand_drops_in_a_batch_are_a_few_lines() {
        let mut out = Outputs::default();
        for i in 0..1_000 {
            out.dropped(format!("frame {i}"));
        }
        let lines: Vec<String> = std::iter::from_fn(|| out.pop())
            .filter_map(|output| match output {
                Output::Event(Event::Dropped(why)) => Some(why),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), MAX_DROPS_QUEUED + 1);
        assert_eq!(lines[0], "frame 0");
        assert_eq!(lines[MAX_DROPS_QUEUED], "984 more like those");
        // The next batch logs afresh.
        out.dropped("later".into());
        assert_eq!(
            out.pop(),
            Some(Output::Event(Event::Dropped("later".into())))
        );
    }

    #[test]
    fn updates_stop_merging_at_the_size_bound() {
        let mut out = Outputs::default();
        let big = "x".repeat(6 << 10);
        let doc = Doc::with_client_id(3);
        let text = doc.get_or_insert_text("page");
        for _ in 0..4 {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, &big);
            let update = txn.encode_update_v1();
            drop(txn);
            out.frame_to("b", Frame::Update(&update).encode());
        }
        let frames: Vec<Output> = std::iter::from_fn(|| out.pop()).collect();
        assert_eq!(frames.len(), 2, "two of 12 KiB, not one of 24");
    }

    #[test]
    fn the_page_list_changing_is_said_once_after_everything_else() {
        let mut out = Outputs::default();
        out.event(Event::PagesChanged);
        let splice = Splice {
            index: 0,
            delete: 0,
            insert: "a".into(),
        };
        out.event(Event::PageChanged {
            page: "home".into(),
            splices: vec![splice.clone()],
        });
        out.event(Event::PagesChanged);
        out.effect(Effect::Store(vec![1]));
        let all: Vec<Output> = std::iter::from_fn(|| out.pop()).collect();
        assert_eq!(
            all,
            [
                Output::Event(Event::PageChanged {
                    page: "home".into(),
                    splices: vec![splice],
                }),
                Output::Effect(Effect::Store(vec![1])),
                Output::Event(Event::PagesChanged),
            ]
        );
    }
}
