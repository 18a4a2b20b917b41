//! The room as a whole: the input, decoded with `arbitrary`, is a sequence of everything that
//! can happen to a room (as `crates/core/tests/robustness.rs` feeds one): peers announcing,
//! signaling, channels opening and closing, frames from any peer (arbitrary bytes, or real
//! updates of another peer's edits, whole, mutated, or out of order), relayed frames, other
//! tabs, signaling frames, time passing, the person's edits and page operations, versions, and
//! the server store's replies (arbitrary bodies, or reads of records sealed with the room's key).
//!
//! After every step: no panic; the document encodes to an update that decodes; every page's
//! editor mirror (its text as the editor holds it: the person's edits applied as they typed
//! them, others' as the room reports them in `Event::PageChanged`) equals the page's text, so
//! nothing was half applied. At the end the document, encoded and read into a fresh one, has
//! the same pages and texts.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use base64::Engine;
use commonplace_core::notebook::{self, HOME};
use commonplace_core::peer_message::{self, PeerMessage, SyncMessage};
use commonplace_core::room::server_store::{StoreReply, StoreRequest};
use commonplace_core::room::{Event, Input, Output, Room, RoomConfig, Transmit};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::EditorText;
use commonplace_fuzz::{drain, open_peer, publish_keyed, room, ME};
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::signaling::{IceCandidate, SignalData};
use commonplace_protocol::store::ReplyEncoder;
use commonplace_protocol::store_crypto::{StoreKeys, Update as SealedUpdate};
use libfuzzer_sys::fuzz_target;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

const PEERS: [&str; 4] = ["p", "q", "r", ME];

#[derive(Arbitrary, Debug)]
struct Scenario {
    keyed: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Offer,
    Answer,
    Candidate,
    Renegotiate,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Announce(u8),
    Signal {
        from: u8,
        to_me: bool,
        kind: Kind,
        token: Option<f64>,
    },
    LocalSignal(u8, Kind),
    ChannelOpen(u8, bool),
    PeerClosed(u8),
    /// Arbitrary bytes on a peer's data channel.
    PeerFrame(u8, Vec<u8>),
    /// Another peer edits its copy of the home page (its update is kept, not sent).
    RemoteEdit {
        at: u16,
        delete: u8,
        insert: String,
    },
    /// One of those updates from a peer, whole or with one byte changed.
    RemoteUpdate {
        peer: u8,
        which: u8,
        flip: Option<(u16, u8)>,
        step2: bool,
    },
    /// Arbitrary bytes relayed through the server.
    Relay(u8, Vec<u8>),
    SignalingText(String),
    SignalingOpen,
    SignalingClosed,
    BroadcastOpen,
    BroadcastFrame(Vec<u8>),
    Wait(u16),
    Online,
    Edit {
        page: u8,
        at: u16,
        delete: u16,
        insert: String,
        select: bool,
    },
    SetCursor {
        page: u8,
        anchor: u16,
        head: u16,
    },
    CreatePage(String, String),
    ImportPages(Vec<(String, String)>),
    RenamePage(u8, String),
    RenameNotebook(String),
    DeletePage(u8),
    MovePage(u8, u8),
    Undo(u8),
    Redo(u8),
    ImportUpdate(Vec<u8>),
    SaveVersion(Option<String>),
    RestorePage {
        version: u8,
        page: u8,
    },
    RestoreNotebook(u8),
    /// The store's answer to the request in flight: any status and body.
    StoreReply {
        history: bool,
        status: u16,
        body: Vec<u8>,
    },
    /// A read of the store, its records sealed with the room's key: remote updates or bytes.
    StoreRead {
        after: u8,
        records: Vec<(u8, u8, Option<Vec<u8>>)>,
    },
    RemoveServerCopy,
}

struct Harness {
    room: Room,
    key: Option<RoomKey>,
    now: u64,
    /// Each page's text as its editor holds it.
    mirrors: HashMap<String, EditorText>,
    /// Another peer's copy of the notebook, and the updates its edits made.
    remote: Doc,
    remote_updates: Vec<Vec<u8>>,
    store_request: Option<StoreRequest>,
    history_request: Option<StoreRequest>,
}

fn peer(n: u8) -> &'static str {
    PEERS[usize::from(n) % PEERS.len()]
}

fn signal(kind: Kind) -> SignalData {
    match kind {
        Kind::Offer => SignalData::Offer { sdp: "v=0".into() },
        Kind::Answer => SignalData::Answer { sdp: "v=0".into() },
        Kind::Candidate => SignalData::Candidate {
            candidate: IceCandidate {
                candidate: "c".into(),
                sdp_m_line_index: Some(0),
                sdp_mid: None,
            },
        },
        Kind::Renegotiate => SignalData::Unsupported,
    }
}

/// UTF-16 offsets of `text`'s character boundaries: where an editor's caret can be.
fn boundaries(text: &str) -> Vec<u32> {
    let mut at = vec![0];
    let mut units = 0;
    for c in text.chars() {
        units += c.len_utf16() as u32;
        at.push(units);
    }
    at
}

impl Harness {
    fn new(keyed: bool) -> Harness {
        let key = keyed.then(commonplace_fuzz::key);
        let now = 1_000;
        let mut room = room(key.clone(), now);
        room.load(now, &[]);
        room.load_history(now, &[]);
        room.open_server_store(now, [5; 16]);
        room.open_history_store(now, [6; 16]);
        let mut harness = Harness {
            room,
            key,
            now,
            mirrors: HashMap::new(),
            remote: notebook::new_doc(0xAB),
            remote_updates: Vec::new(),
            store_request: None,
            history_request: None,
        };
        open_peer(&mut harness.room, harness.key.as_ref(), now, "p");
        harness.settle();
        harness
    }

    fn page(&self, n: u8) -> String {
        let pages = self.room.pages();
        pages
            .get(usize::from(n) % pages.len().max(1))
            .map_or(HOME.to_owned(), |page| page.id.clone())
    }

    fn step(&mut self, step: Step) {
        let now = self.now;
        match step {
            Step::Announce(n) => {
                let announce = serde_json::json!({"type": "announce", "from": peer(n)});
                self.signaling(&publish_keyed(self.key.as_ref(), announce));
            }
            Step::Signal {
                from,
                to_me,
                kind,
                token,
            } => {
                let data = serde_json::json!({"type": "signal", "from": peer(from),
                    "to": if to_me { ME } else { "someone" }, "token": token,
                    "signal": signal(kind)});
                self.signaling(&publish_keyed(self.key.as_ref(), data));
            }
            Step::LocalSignal(n, kind) => self.input(Input::LocalSignal {
                peer: peer(n),
                signal: signal(kind),
            }),
            Step::ChannelOpen(n, announced) => self.input(Input::ChannelOpen {
                peer: peer(n),
                announced,
            }),
            Step::PeerClosed(n) => self.input(Input::PeerClosed { peer: peer(n) }),
            Step::PeerFrame(n, bytes) => self.input(Input::PeerFrame {
                peer: peer(n),
                bytes: &bytes,
            }),
            Step::RemoteEdit { at, delete, insert } => {
                let text = self.remote.get_or_insert_text(notebook::HOME_BODY);
                let mut txn = self.remote.transact_mut();
                let len = text.len(&txn);
                let at = u32::from(at) % (len + 1);
                let delete = u32::from(delete).min(len - at);
                text.remove_range(&mut txn, at, delete);
                text.insert(&mut txn, at, &insert);
                let update = txn.encode_update_v1();
                drop(txn);
                self.remote_updates.push(update);
            }
            Step::RemoteUpdate {
                peer: n,
                which,
                flip,
                step2,
            } => {
                if self.remote_updates.is_empty() {
                    return;
                }
                let mut update =
                    self.remote_updates[usize::from(which) % self.remote_updates.len()].clone();
                if let Some((at, xor)) = flip {
                    let at = usize::from(at) % update.len().max(1);
                    if let Some(byte) = update.get_mut(at) {
                        *byte ^= xor;
                    }
                }
                let message = if step2 {
                    SyncMessage::SyncStep2(update)
                } else {
                    SyncMessage::Update(update)
                };
                let bytes = peer_message::encode(&PeerMessage::Sync(message));
                self.input(Input::PeerFrame {
                    peer: peer(n),
                    bytes: &bytes,
                });
            }
            Step::Relay(n, bytes) => {
                let frame = base64::engine::general_purpose::STANDARD.encode(bytes);
                let data =
                    serde_json::json!({"type": "relay", "from": peer(n), "to": ME, "frame": frame});
                self.signaling(&publish_keyed(self.key.as_ref(), data));
            }
            Step::SignalingText(text) => self.signaling(&text),
            Step::SignalingOpen => self.input(Input::SignalingOpen),
            Step::SignalingClosed => self.input(Input::SignalingClosed),
            Step::BroadcastOpen => self.input(Input::BroadcastOpen),
            Step::BroadcastFrame(bytes) => self.input(Input::BroadcastFrame(&bytes)),
            Step::Wait(ms) => {
                self.now += u64::from(ms) * 10;
                self.input(Input::Timeout);
            }
            Step::Online => self.input(Input::Online),
            Step::Edit {
                page,
                at,
                delete,
                insert,
                select,
            } => {
                let page = self.page(page);
                let Some(mirror) = self.mirrors.get_mut(&page) else {
                    return;
                };
                let at_char = boundaries(&mirror.text());
                let start = at_char[usize::from(at) % at_char.len()];
                let end = at_char[(usize::from(at) + usize::from(delete)) % at_char.len()];
                let (start, end) = (start.min(end), start.max(end));
                let splice = Splice {
                    index: start,
                    delete: end - start,
                    insert,
                };
                mirror.apply(&splice);
                let caret = start + splice.insert.encode_utf16().count() as u32;
                let selection = select.then_some((caret, caret));
                self.room.edit(now, &page, &[splice], selection);
            }
            Step::SetCursor { page, anchor, head } => {
                let page = self.page(page);
                self.room
                    .set_cursor(now, &page, u32::from(anchor), u32::from(head));
            }
            Step::CreatePage(title, body) => {
                self.room.create_page(now, &title, &body);
            }
            Step::ImportPages(pages) => {
                let pages: Vec<(&str, &str)> = pages
                    .iter()
                    .map(|(t, b)| (t.as_str(), b.as_str()))
                    .collect();
                self.room.import_pages(now, &pages);
            }
            Step::RenamePage(n, title) => {
                let page = self.page(n);
                self.room.rename_page(now, &page, &title);
            }
            Step::RenameNotebook(title) => self.room.rename_notebook(now, &title),
            Step::DeletePage(n) => {
                let page = self.page(n);
                self.room.delete_page(now, &page);
            }
            Step::MovePage(n, to) => {
                let page = self.page(n);
                self.room.move_page(now, &page, usize::from(to));
            }
            Step::Undo(n) => {
                let page = self.page(n);
                self.room.undo(now, &page);
            }
            Step::Redo(n) => {
                let page = self.page(n);
                self.room.redo(now, &page);
            }
            Step::ImportUpdate(bytes) => {
                let _ = self.room.import_update(now, &bytes);
            }
            Step::SaveVersion(name) => {
                self.room.save_version(now, name.as_deref());
            }
            Step::RestorePage { version, page } => {
                let versions = self.room.versions();
                if let Some(v) = versions.get(usize::from(version) % versions.len().max(1)) {
                    let page = self.page(page);
                    self.room.restore_page(now, &v.id.clone(), &page, &page);
                }
            }
            Step::RestoreNotebook(version) => {
                let versions = self.room.versions();
                if let Some(v) = versions.get(usize::from(version) % versions.len().max(1)) {
                    self.room.restore_notebook(now, &v.id.clone(), HOME);
                }
            }
            Step::StoreReply {
                history,
                status,
                body,
            } => {
                let pending = if history {
                    self.history_request.take()
                } else {
                    self.store_request.take()
                };
                let Some(request) = pending else {
                    return;
                };
                let reply = StoreReply::from_http(&request, status % 600, &body);
                self.input(if history {
                    Input::HistoryStoreReply(reply)
                } else {
                    Input::StoreReply(reply)
                });
            }
            Step::StoreRead { after, records } => {
                let (Some(StoreRequest::Read { .. }), Some(keys)) =
                    (&self.store_request, self.room.store_keys())
                else {
                    return;
                };
                let keys: StoreKeys = keys.clone();
                let Some(StoreRequest::Read { after: asked }) = self.store_request.take() else {
                    return;
                };
                let mut reply = ReplyEncoder::new(asked, 1 << 20);
                let mut seq = asked + u64::from(after);
                for (writer, counter, bytes) in records {
                    let update = bytes.unwrap_or_else(|| {
                        let all = &self.remote_updates;
                        all.get(usize::from(counter) % all.len().max(1))
                            .cloned()
                            .unwrap_or_default()
                    });
                    let sealed = keys.seal_update(
                        &SealedUpdate {
                            writer: [writer % 3; 16],
                            counter: u64::from(counter),
                            update,
                        },
                        [counter; 12],
                    );
                    seq += 1;
                    if !matches!(reply.record(seq, &sealed), Ok(true)) {
                        break;
                    }
                }
                let body = reply.finish();
                let reply = StoreReply::from_http(&StoreRequest::Read { after: asked }, 200, &body);
                self.input(Input::StoreReply(reply));
            }
            Step::RemoveServerCopy => self.room.remove_server_copy(now),
        }
        self.settle();
    }

    fn signaling(&mut self, text: &str) {
        self.input(Input::SignalingFrame(text));
    }

    fn input(&mut self, input: Input<'_>) {
        self.room.handle(self.now, input);
    }

    /// Carries out what the room asks, keeps the mirrors, and checks the document.
    fn settle(&mut self) {
        for output in drain(&mut self.room) {
            match output {
                Output::Event(Event::PageChanged { page, splices }) => {
                    if let Some(mirror) = self.mirrors.get_mut(&page) {
                        for splice in &splices {
                            mirror.apply(splice);
                        }
                    }
                }
                Output::Transmit(Transmit::Store(request)) => self.store_request = Some(request),
                Output::Transmit(Transmit::HistoryStore(request)) => {
                    self.history_request = Some(request)
                }
                _ => {}
            }
        }
        let pages = self.room.pages();
        self.mirrors
            .retain(|id, _| pages.iter().any(|page| &page.id == id));
        for page in &pages {
            let text = self.room.page_text(&page.id).unwrap_or_default();
            match self.mirrors.get(&page.id) {
                Some(mirror) => assert_eq!(
                    mirror.text(),
                    text,
                    "page {}: the editor's mirror differs from the page",
                    page.id
                ),
                None => {
                    self.mirrors.insert(page.id.clone(), EditorText::new(&text));
                }
            }
        }
        let state = self
            .room
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        Update::decode_v1(&state).expect("the document encodes to an update that decodes");
    }

    /// The document, read into a fresh one, has the same pages and texts.
    fn check_round_trip(&self) {
        let state = self
            .room
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let doc = notebook::new_doc(0xC0FFEE);
        doc.transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .expect("the document's own state applies");
        let config = RoomConfig {
            name: "copy".into(),
            peer_id: "copy".into(),
            client_id: 0xC0FFEE,
            entropy: [0; 32],
            max_conns: 1,
            key: None,
        };
        let copy = Room::new(config, doc, self.now);
        let texts = |room: &Room| -> Vec<(String, String, Option<String>)> {
            room.pages()
                .into_iter()
                .map(|page| {
                    let text = room.page_text(&page.id);
                    (page.id, page.title, text)
                })
                .collect()
        };
        assert_eq!(texts(&copy), texts(&self.room));
        let remote = self.remote.get_or_insert_text(notebook::HOME_BODY);
        let _ = remote.get_string(&self.remote.transact());
    }
}

fuzz_target!(|scenario: Scenario| {
    let mut harness = Harness::new(scenario.keyed);
    for step in scenario.steps.into_iter().take(200) {
        harness.step(step);
    }
    harness.check_round_trip();
});
