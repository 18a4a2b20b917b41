//! A session in one room: the core's [`Room`] wired to the browser's transports and the editor.
//!
//! All logic is in the room; this only carries inputs in and outputs out. Opening a session
//! reads the notebook from IndexedDB and, at the same time, reaches other tabs
//! (BroadcastChannel) and the network (signaling, WebRTC): a peer's connection is under way
//! while the store loads, and what the store adds reaches peers already synced (`Room::load`).
//! Dropping the session says goodbye and closes every connection.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use commonplace_core::app::link_completion::LinkCompletion;
use commonplace_core::app::status::{SessionStatus, ShellFacts, StatusModel};
use commonplace_core::notebook::{self, HOME};
use commonplace_core::room::{Effect, Event, Input, Output, PeerId, Room, RoomConfig, Transmit};
use commonplace_protocol::crypto::RoomKey;
use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlElement, HtmlTextAreaElement};

mod editor;
mod history;
mod inbox;
mod link_suggestions;
mod listing;
mod notebook_view;
mod preview_dom;
mod reach;
mod server_copy;
mod windowed;

use editor::Editor;
use inbox::Inbox;
pub use notebook_view::NotebookState;

use crate::head_start::BegunSignaling;
use crate::journal::{self, JournalFile};
use crate::store::{Saver, Store};
use crate::transport::broadcast::Broadcast;
use crate::transport::signaling::{Signaling, SignalingEvent};
use crate::transport::webrtc::{PeerConnection, PeerEvent};
use crate::{head_start, perf, random};

/// y-webrtc's default range is 20–34; a notebook group is small.
const MAX_CONNS: usize = 20;

pub struct Session {
    inner: Rc<Inner>,
}

struct Inner {
    /// Handed to callbacks, which must not keep the session alive.
    me: Weak<Inner>,
    room: RefCell<Room>,
    editor: RefCell<Option<Editor>>,
    preview: RefCell<Option<HtmlElement>>,
    /// The open page's id.
    active: RefCell<String>,
    /// Changes being applied come from this person's undo or redo: the caret follows them.
    undoing: Cell<bool>,
    /// Others' carets need drawing again once the current outputs are carried out.
    carets_dirty: Cell<bool>,
    preview_timer: RefCell<Option<Timeout>>,
    /// The titles offered while a `[[wiki link]]` is typed (`link_suggestions`).
    link_completion: RefCell<LinkCompletion>,
    view: RefCell<NotebookState>,
    on_notebook: Box<dyn Fn(NotebookState)>,
    /// Set once the stored notebook is loaded; `None` while loading or if IndexedDB refused.
    saver: RefCell<Option<Rc<Saver>>>,
    /// This browser's copy of the version history, once read.
    history_saver: RefCell<Option<Rc<Saver>>>,
    /// The version history's database (`store::history_database`).
    history_db: String,
    /// Its reading has begun (`read_history`).
    history_asked: Cell<bool>,
    history_timer: RefCell<Option<Timeout>>,
    /// Updates to store that came before the store was open (from peers met while it loaded).
    unsaved: RefCell<Vec<Vec<u8>>>,
    loaded: Cell<bool>,
    broadcast: RefCell<Option<Broadcast>>,
    signaling: RefCell<Option<Signaling>>,
    peers: RefCell<HashMap<PeerId, Connection>>,
    /// Connections closed from inside their own callbacks, dropped right after.
    retired: RefCell<Vec<PeerConnection>>,
    /// Frames that came while earlier ones still waited to be handled (`inbox`).
    inbox: RefCell<Inbox>,
    next_connection: Cell<u64>,
    /// A first connection attempt ended (opened or failed): from then on, not being online
    /// means offline rather than still connecting.
    attempted: Cell<bool>,
    receiving: Cell<Option<(usize, usize)>>,
    status: RefCell<StatusModel>,
    /// This browser's copy of the notebook was stored under another key.
    store_of_other_key: Cell<bool>,
    /// The browser found the room's database corrupt and started it afresh.
    store_lost: Cell<bool>,
    /// The room has a key: only then can it keep a server copy.
    keyed: bool,
    /// The server keeps encrypted copies (`/config`); `None`: not heard yet.
    server_keeps_copies: Cell<Option<bool>>,
    /// `RTCConfiguration.iceServers` for new connections (see `reach`).
    ice_servers: RefCell<JsValue>,
    /// The ICE servers are known (cached, fetched, or the server could not say): until then
    /// an open signaling socket waits (`signaling_waits`), so that no connection starts
    /// without the TURN servers it may need.
    reach_known: Cell<bool>,
    signaling_waits: Cell<bool>,
    /// Signaling frames heard before the room was told the socket is open (the head start's
    /// subscription, or a socket waiting for `reach_known`): handed to it right after.
    early_frames: RefCell<Vec<String>>,
    config_timer: RefCell<Option<Timeout>>,
    paths_timer: RefCell<Option<gloo::timers::callback::Interval>>,
    /// How each reachable peer is reached, by peer id.
    reach: RefCell<HashMap<PeerId, commonplace_core::app::paths::Reach>>,
    on_status: Box<dyn Fn(SessionStatus)>,
    /// The one timer: when the room asked to be woken (`Room::poll_timeout`).
    wake: RefCell<Option<(u64, Timeout)>>,
    /// Drops `retired` connections once their callbacks have returned.
    sweep: RefCell<Option<Timeout>>,
    /// `window.commonplaceSyncState()`: the room's sync report, for someone debugging a room
    /// from the console (and for tests that print it when a peer is left behind).
    _sync_state: Closure<dyn Fn() -> String>,
    _page_text: Closure<dyn Fn() -> String>,
    _on_pagehide: EventListener,
    /// The network is back: signaling and the server's store are tried again at once.
    _on_online: EventListener,
    /// This notebook's entry in the browser's list of notebooks.
    listing: listing::Listing,
}

struct Connection {
    id: u64,
    pc: PeerConnection,
}

impl Session {
    /// Joins `room_name`; with a `key` (`room_key::derive` of the link's `secret`), everything
    /// that passes the server or other tabs is encrypted with it (y-webrtc's scheme).
    pub fn join(
        room_name: &str,
        secret: Option<&str>,
        key: Option<RoomKey>,
        on_status: impl Fn(SessionStatus) + 'static,
        on_notebook: impl Fn(NotebookState) + 'static,
    ) -> Session {
        let mut entropy = [0u8; 32];
        random::fill(&mut entropy);
        // The head start may have announced a peer id already; peers may be offering to it.
        let signaling_url = signaling_url();
        let begun = head_start::signaling(room_name, secret, &signaling_url);
        let announced = begun.as_ref().and_then(|begun| begun.announced.clone());
        let config = RoomConfig {
            name: room_name.to_owned(),
            peer_id: announced.unwrap_or_else(random::uuid_v4),
            // Yjs draws client ids as random uint32s.
            client_id: random::u64() & 0xFFFF_FFFF,
            entropy,
            max_conns: MAX_CONNS,
            key: key.clone(),
        };
        let doc = notebook::new_doc(config.client_id);
        let inner = Rc::new_cyclic(|me| Inner {
            me: me.clone(),
            room: RefCell::new(Room::new(config, doc, now())),
            editor: RefCell::new(None),
            preview: RefCell::new(None),
            active: RefCell::new(HOME.to_owned()),
            undoing: Cell::new(false),
            carets_dirty: Cell::new(false),
            preview_timer: RefCell::new(None),
            link_completion: RefCell::default(),
            view: RefCell::new(NotebookState::default()),
            on_notebook: Box::new(on_notebook),
            saver: RefCell::new(None),
            history_saver: RefCell::new(None),
            history_db: crate::store::history_database(room_name),
            history_asked: Cell::new(false),
            history_timer: RefCell::new(None),
            unsaved: RefCell::new(Vec::new()),
            loaded: Cell::new(false),
            broadcast: RefCell::new(None),
            signaling: RefCell::new(None),
            peers: RefCell::new(HashMap::new()),
            retired: RefCell::new(Vec::new()),
            inbox: RefCell::new(Inbox::default()),
            next_connection: Cell::new(0),
            attempted: Cell::new(false),
            receiving: Cell::new(None),
            status: RefCell::new(StatusModel::default()),
            store_of_other_key: Cell::new(false),
            store_lost: Cell::new(false),
            keyed: key.is_some(),
            server_keeps_copies: Cell::new(None),
            ice_servers: RefCell::new(js_sys::Array::new().into()),
            reach_known: Cell::new(false),
            signaling_waits: Cell::new(false),
            early_frames: RefCell::new(Vec::new()),
            config_timer: RefCell::new(None),
            paths_timer: RefCell::new(None),
            reach: RefCell::new(HashMap::new()),
            on_status: Box::new(on_status),
            wake: RefCell::new(None),
            sweep: RefCell::new(None),
            _sync_state: expose_sync_state(me.clone()),
            _page_text: expose_page_text(me.clone()),
            // Goodbyes go out when the page goes (tab closed, navigated away, app frozen).
            _on_pagehide: EventListener::new(&gloo::utils::window(), "pagehide", {
                let me = me.clone();
                move |_| {
                    if let Some(inner) = me.upgrade() {
                        inner.leave();
                    }
                }
            }),
            _on_online: EventListener::new(&gloo::utils::window(), "online", {
                let me = me.clone();
                move |_| {
                    if let Some(inner) = me.upgrade() {
                        if let Some(signaling) = &*inner.signaling.borrow() {
                            signaling.retry_now();
                        }
                        inner.handle(Input::Online);
                    }
                }
            }),
            listing: listing::Listing::new(room_name, secret),
        });
        // How to reach peers across networks, fetched while the stored notebook opens; other
        // tabs and the network are reached at the same time.
        inner.start_reach();
        inner.reach_out(room_name, signaling_url, begun);
        let room_name = room_name.to_owned();
        let key_check = key.as_ref().map_or("none".to_owned(), RoomKey::fingerprint);
        let me = Rc::downgrade(&inner);
        spawn_local(async move {
            let stored = open_store(&room_name, &key_check).await;
            if let Some(inner) = me.upgrade() {
                inner.start(stored);
                inner.read_history_later();
            }
        });
        inner.report_status();
        Session { inner }
    }

    /// Makes `element` show the open page and turns its input events into edits; others'
    /// carets are drawn in `overlay`, the page's markdown rendered in `preview`. The editor
    /// stays read-only until the stored notebook is loaded.
    pub fn attach(&self, element: HtmlTextAreaElement, overlay: HtmlElement, preview: HtmlElement) {
        element.set_read_only(!self.inner.loaded.get());
        let weak = Rc::downgrade(&self.inner);
        let editor = Editor::new(element, overlay, move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_editor_event(event);
            }
        });
        *self.inner.editor.borrow_mut() = Some(editor);
        *self.inner.preview.borrow_mut() = Some(preview);
        let active = self.inner.active.borrow().clone();
        self.inner.open_page(&active);
        // The stored notebook may have loaded before the editor existed (the head start read
        // it early): then the editor is ready now, not when `start` ran.
        self.inner.mark_editor_ready();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.inner.leave();
        self.inner.wake.borrow_mut().take();
        self.inner.sweep.borrow_mut().take();
        self.inner.config_timer.borrow_mut().take();
        self.inner.history_timer.borrow_mut().take();
        self.inner.paths_timer.borrow_mut().take();
        self.inner.broadcast.borrow_mut().take();
        self.inner.signaling.borrow_mut().take();
        self.inner.peers.borrow_mut().clear();
        self.inner.editor.borrow_mut().take();
    }
}

/// What opening the room's IndexedDB found.
enum Stored {
    /// The store and its records; `lost`: the browser had started it afresh, the old one
    /// corrupt (`store::Read::lost`).
    Notebook {
        store: Store,
        records: Vec<Vec<u8>>,
        lost: bool,
        /// The notebook's second copy in this browser, where there is one.
        journal: Option<journal::Opening>,
    },
    /// Written under another key (or without one): not ours to show or to add to.
    OtherKey,
    Unavailable,
}

async fn open_store(room: &str, key_check: &str) -> Stored {
    // Read at the same time as IndexedDB, by the journal's worker.
    let journal = JournalFile::open(room, key_check);
    let opened = async {
        let read = Store::open_and_read(room).await?;
        // Said, never silent: the notebook shown is not what this browser had stored.
        if let Some(lost) = &read.lost {
            gloo::console::warn!(format!(
                "IndexedDB: the browser lost what it stored of this notebook ({lost})"
            ));
        }
        match read.check.as_deref() {
            Some(check) if check != key_check => return Ok(Stored::OtherKey),
            Some(_) => {}
            // The first key to open a store claims it.
            None => read
                .store
                .claim(key_check)
                .await
                .map_err(|e| e.to_string())?,
        }
        Ok::<_, String>(Stored::Notebook {
            store: read.store,
            records: read.records,
            lost: read.lost.is_some(),
            journal: journal.await,
        })
    };
    opened.await.unwrap_or_else(|error| {
        gloo::console::error!(
            "IndexedDB unavailable; the notebook lives in memory:",
            error
        );
        Stored::Unavailable
    })
}

impl Inner {
    /// Shows the stored notebook; stores from now on (what came while it loaded too).
    fn start(&self, stored: Stored) {
        self.store_of_other_key
            .set(matches!(stored, Stored::OtherKey));
        let lost = matches!(stored, Stored::Notebook { lost: true, .. });
        self.store_lost.set(lost);
        let stored_anything = matches!(&stored, Stored::Notebook { records, journal, .. }
            if !records.is_empty()
                || matches!(journal, Some(journal::Opening::Opened(j)) if !j.read.records.is_empty()));
        let applying = perf::span("store.apply");
        if let Stored::Notebook {
            store,
            records: updates,
            journal,
            ..
        } = stored
        {
            self.room.borrow_mut().load(now(), &updates);
            let mut restored = None;
            let mut held = None;
            let journal = match journal {
                Some(journal::Opening::Opened(opened)) => {
                    let journal::Opened { file, read } = *opened;
                    restored = self
                        .room
                        .borrow_mut()
                        .load_second_copy(now(), &read.records);
                    file.start(&read, || self.room.borrow().encode_state());
                    Some(file)
                }
                Some(journal::Opening::Held(other_tabs)) => {
                    held = Some(other_tabs);
                    None
                }
                None => None,
            };
            let me = self.me.clone();
            let merge = move |records: &[Vec<u8>]| {
                let inner = me.upgrade()?;
                inner.room.borrow_mut().load(now(), records);
                inner.pump();
                let state = inner.room.borrow().encode_state();
                Some(state)
            };
            let me = self.me.clone();
            let on_state = move |_| {
                if let Some(inner) = me.upgrade() {
                    inner.report_status();
                }
            };
            let saver = Saver::new(store, &updates, journal, merge, on_state);
            // What IndexedDB had lost and the second copy had: stored again, and said.
            if let Some(restored) = restored {
                gloo::console::warn!(
                    "IndexedDB had lost part of this notebook; this browser's second copy brought it back"
                );
                self.store_lost.set(false);
                saver.save(restored);
            }
            for update in self.unsaved.take() {
                saver.save(update);
            }
            *self.saver.borrow_mut() = Some(saver);
            if let Some(held) = held {
                self.take_journal_over(held);
            }
        }
        self.unsaved.take();
        self.pump();
        drop(applying);
        self.loaded.set(true);
        perf::mark(perf::STORE);
        self.list_notebook(None);
        self.open_server_store();
        // A notebook new to this browser changed nothing the open page shows (what peers
        // brought meanwhile came as changes): showing it again would redo the editor, the
        // preview and the page list just when a peer's first frames are arriving.
        if stored_anything {
            let active = self.active.borrow().clone();
            self.open_first_page(&active);
        } else {
            self.keep_links_then_backlinks();
        }
        self.mark_editor_ready();
        self.report_status();
    }

    /// Once the tab that has the room's journal lets it go, this one writes it: what that tab
    /// wrote is merged (it had what this one had, from the tabs' channel, but may have had
    /// more) and the journal starts afresh from the whole notebook. A session ended before
    /// then lets the journal go as soon as it gets it.
    fn take_journal_over(&self, held: journal::Held) {
        let me = self.me.clone();
        spawn_local(async move {
            let Some(journal::Opened { file, read }) = held.opened().await else {
                return;
            };
            let Some(inner) = me.upgrade() else {
                return;
            };
            let Some(saver) = inner.saver.borrow().clone() else {
                return;
            };
            let restored = inner
                .room
                .borrow_mut()
                .load_second_copy(now(), &read.records);
            file.take_over(&read, &inner.room.borrow().encode_state());
            saver.keep_journal(file);
            gloo::console::info!("Commonplace: this tab keeps this notebook's second copy now");
            if let Some(restored) = restored {
                saver.save(restored);
                inner.pump();
            }
        });
    }

    /// Once the stored notebook is loaded, the editor takes input and says it is ready
    /// (`data-ready`), whichever of the two came second.
    fn mark_editor_ready(&self) {
        if !self.loaded.get() {
            return;
        }
        if let Some(editor) = &*self.editor.borrow() {
            editor.element.set_read_only(false);
            let _ = editor.element.set_attribute("data-ready", "true");
        }
    }

    /// Opens the tabs' channel and the signaling socket.
    fn reach_out(&self, room_name: &str, url: String, begun: Option<BegunSignaling>) {
        let me = self.me.clone();
        let broadcast = Broadcast::open(room_name, move |bytes| {
            if let Some(inner) = me.upgrade() {
                inner.handle(Input::BroadcastFrame(&bytes));
            }
        });
        if broadcast.is_some() {
            *self.broadcast.borrow_mut() = broadcast;
            self.handle(Input::BroadcastOpen);
        }
        let me = self.me.clone();
        let socket = begun.map(|begun| {
            *self.early_frames.borrow_mut() = begun.heard;
            begun.socket
        });
        let signaling = Signaling::connect(url, socket, move |event| {
            if let Some(inner) = me.upgrade() {
                inner.on_signaling(event);
            }
        });
        let opened = signaling.is_open();
        *self.signaling.borrow_mut() = Some(signaling);
        if opened {
            self.on_signaling(SignalingEvent::Open);
        }
        self.report_status();
    }

    fn leave(&self) {
        self.room.borrow_mut().leave(now());
        self.pump();
    }

    fn handle(&self, input: Input<'_>) {
        {
            let _span = perf::span("room.handle");
            self.room.borrow_mut().handle(now(), input);
        }
        self.pump();
    }

    /// Carries out everything the room asked for, then sets the timer it wants.
    fn pump(&self) {
        loop {
            let Some(output) = self.room.borrow_mut().poll_output() else {
                break;
            };
            match output {
                Output::Transmit(transmit) => {
                    let _span = perf::span("transmit");
                    self.transmit(transmit);
                }
                Output::Effect(effect) => {
                    let _span = perf::span("effect");
                    self.carry_out(effect);
                }
                Output::Event(event) => {
                    let _span = perf::span("event");
                    self.show(event);
                }
            }
        }
        if self.carets_dirty.replace(false) {
            self.draw_carets();
        }
        self.schedule_wake();
    }

    fn transmit(&self, transmit: Transmit) {
        match transmit {
            Transmit::Server(frame) => {
                if let Some(signaling) = &*self.signaling.borrow() {
                    signaling.send(&frame);
                }
            }
            Transmit::Peer { peer, bytes } => {
                if let Some(connection) = self.peers.borrow().get(&peer) {
                    connection.pc.send(bytes);
                }
            }
            Transmit::Tabs(bytes) => {
                if let Some(broadcast) = &*self.broadcast.borrow() {
                    broadcast.send(&bytes);
                }
            }
            Transmit::Store(request) => self.send_to_store(request, false),
            Transmit::HistoryStore(request) => self.send_to_store(request, true),
        }
    }

    fn carry_out(&self, effect: Effect) {
        match effect {
            Effect::ReconnectSignaling => {
                if let Some(signaling) = &*self.signaling.borrow() {
                    signaling.reconnect();
                }
            }
            Effect::Connect { peer, initiator } => self.connect(peer, initiator),
            Effect::Signal { peer, signal } => {
                if let Some(connection) = self.peers.borrow().get(&peer) {
                    connection.pc.signal(signal);
                }
            }
            Effect::Disconnect { peer } => self.retire(&peer),
            Effect::Store(update) => {
                if let Some(saver) = &*self.saver.borrow() {
                    saver.save(update);
                } else if !self.loaded.get() {
                    self.unsaved.borrow_mut().push(update);
                }
            }
            Effect::StoreHistory(update) => self.store_history(update),
        }
    }

    fn show(&self, event: Event) {
        match event {
            Event::PageChanged { page, splices } => self.on_page_changed(&page, &splices),
            Event::PagesChanged => self.on_pages_changed(),
            Event::PresenceChanged => self.on_presence_changed(),
            Event::HistoryChanged => self.on_history_changed(),
            Event::Receiving {
                received, total, ..
            } => {
                let arriving = (received < total).then_some((received, total));
                self.receiving.set(arriving);
                self.report_status();
            }
            Event::StatusChanged(_) => self.report_status(),
            Event::Dropped(why) => gloo::console::warn!("dropped:", why),
        }
    }

    /// Sets the one timer for when the room wants to be woken, if that changed.
    fn schedule_wake(&self) {
        let at = self.room.borrow().poll_timeout();
        if self.wake.borrow().as_ref().map(|(t, _)| *t) == at {
            return;
        }
        let Some(at) = at else {
            self.wake.borrow_mut().take();
            return;
        };
        let delay = at.saturating_sub(now()).min(u64::from(i32::MAX as u32)) as u32;
        let me = self.me.clone();
        let timeout = Timeout::new(delay, move || {
            if let Some(inner) = me.upgrade() {
                inner.wake.borrow_mut().take();
                inner.handle(Input::Timeout);
            }
        });
        *self.wake.borrow_mut() = Some((at, timeout));
    }

    fn on_signaling(&self, event: SignalingEvent) {
        match event {
            SignalingEvent::Open if !self.reach_known.get() => self.signaling_waits.set(true),
            SignalingEvent::Open => {
                perf::mark(perf::SIGNALING);
                self.attempted.set(true);
                self.handle(Input::SignalingOpen);
                for text in self.early_frames.take() {
                    self.handle(Input::SignalingFrame(&text));
                }
            }
            SignalingEvent::Frame(text) if self.signaling_waits.get() => {
                self.early_frames.borrow_mut().push(text);
            }
            SignalingEvent::Frame(text) => self.handle(Input::SignalingFrame(&text)),
            SignalingEvent::Closed => {
                self.signaling_waits.set(false);
                self.attempted.set(true);
                self.handle(Input::SignalingClosed);
                // The room's status may not change (it never was online), ours does.
                self.report_status();
            }
        }
    }

    fn connect(&self, peer: PeerId, initiator: bool) {
        self.retire(&peer);
        let id = self.next_connection.get();
        self.next_connection.set(id + 1);
        // The connection outlives no session: its callbacks reach the session through a
        // weak reference, and only while it is still the current connection to that peer.
        let weak = self.me.clone();
        let peer_id = peer.clone();
        let on_event = move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_peer_event(&peer_id, id, event);
            }
        };
        let ice_servers = self.ice_servers.borrow().clone();
        match PeerConnection::new(initiator, &ice_servers, on_event) {
            Ok(pc) => {
                self.peers.borrow_mut().insert(peer, Connection { id, pc });
            }
            Err(error) => {
                gloo::console::error!("webrtc: cannot create a connection", error);
            }
        }
    }

    fn on_peer_event(&self, peer: &str, id: u64, event: PeerEvent) {
        let current = self.peers.borrow().get(peer).is_some_and(|c| c.id == id);
        if !current {
            return;
        }
        match event {
            PeerEvent::Signal(signal) => self.handle(Input::LocalSignal { peer, signal }),
            PeerEvent::Open { announced } => {
                if self.room.borrow().status().peers == 0 {
                    perf::mark(perf::PEER);
                }
                self.handle(Input::ChannelOpen { peer, announced });
                // The people list names the new path now, not at the next periodic read.
                self.read_paths();
            }
            PeerEvent::Frame(bytes) => self.on_frame(peer, id, bytes),
            PeerEvent::Closed => {
                self.retire(peer);
                self.handle(Input::PeerClosed { peer });
            }
        }
    }

    /// A frame from `peer`'s connection `id`: handled now, or, while frames come faster than
    /// that (a drain is due), with the others waiting (`inbox`).
    fn on_frame(&self, peer: &str, id: u64, bytes: Vec<u8>) {
        if self.inbox.borrow().busy() {
            self.inbox.borrow_mut().push(peer, id, bytes);
            return;
        }
        self.handle(Input::PeerFrame {
            peer,
            bytes: &bytes,
        });
        self.schedule_drain();
    }

    fn schedule_drain(&self) {
        let me = self.me.clone();
        let drain = Timeout::new(0, move || {
            if let Some(inner) = me.upgrade() {
                inner.drain_inbox();
            }
        });
        self.inbox.borrow_mut().set_drain(Some(drain));
    }

    /// Handles the frames that waited, for up to `DRAIN_BUDGET_MS`, then carries out what the
    /// room asked for once; the rest wait for the next drain.
    fn drain_inbox(&self) {
        let _span = perf::span("inbox drain");
        let started = perf::now();
        let mut handled = false;
        loop {
            let Some((peer, id, bytes)) = self.inbox.borrow_mut().pop() else {
                break;
            };
            // A frame of a connection since replaced would meet the new one's chunk stream.
            if self.peers.borrow().get(&peer).is_none_or(|c| c.id != id) {
                continue;
            }
            self.room.borrow_mut().handle(
                now(),
                Input::PeerFrame {
                    peer: &peer,
                    bytes: &bytes,
                },
            );
            handled = true;
            if perf::now() - started > inbox::DRAIN_BUDGET_MS {
                break;
            }
        }
        if handled {
            self.pump();
        }
        if self.inbox.borrow().is_empty() {
            self.inbox.borrow_mut().set_drain(None);
        } else {
            self.schedule_drain();
        }
    }

    fn retire(&self, peer: &str) {
        if let Some(connection) = self.peers.borrow_mut().remove(peer) {
            self.retired.borrow_mut().push(connection.pc);
            let me = self.me.clone();
            *self.sweep.borrow_mut() = Some(Timeout::new(0, move || {
                if let Some(inner) = me.upgrade() {
                    inner.retired.borrow_mut().clear();
                    inner.sweep.borrow_mut().take();
                }
            }));
        }
    }

    fn report_status(&self) {
        let room = self.room.borrow().status();
        let facts = ShellFacts {
            attempted: self.attempted.get(),
            loaded: self.loaded.get(),
            store: self.saver.borrow().as_ref().map(|saver| saver.state()),
            store_of_other_key: self.store_of_other_key.get(),
            store_lost: self.store_lost.get(),
            has_text: self.editor.borrow().as_ref().is_some_and(|e| !e.is_empty()),
            receiving: self.receiving.get(),
            paths: self.reach.borrow().values().map(|r| r.kind).collect(),
            keyed: self.keyed,
            server_keeps_copies: self.server_keeps_copies.get(),
        };
        let status = self.status.borrow_mut().view(room, facts);
        (self.on_status)(status);
    }
}

fn expose_sync_state(me: Weak<Inner>) -> Closure<dyn Fn() -> String> {
    let report = Closure::<dyn Fn() -> String>::new(move || {
        me.upgrade().map_or_else(
            || "no session".to_owned(),
            |inner| inner.room.borrow().sync_report(),
        )
    });
    let _ = js_sys::Reflect::set(
        &gloo::utils::window(),
        &"commonplaceSyncState".into(),
        report.as_ref(),
    );
    report
}

/// `window.commonplacePageText()`: the open page's whole text. A big page's editor holds only a
/// window of it, so tests and benchmarks compare pages through this (and read its length from
/// the editor's `data-page-length`).
fn expose_page_text(me: Weak<Inner>) -> Closure<dyn Fn() -> String> {
    let read = Closure::<dyn Fn() -> String>::new(move || {
        me.upgrade()
            .and_then(|inner| {
                let page = inner.active.borrow().clone();
                let text = inner.room.borrow().page_text(&page);
                text
            })
            .unwrap_or_default()
    });
    let _ = js_sys::Reflect::set(
        &gloo::utils::window(),
        &"commonplacePageText".into(),
        read.as_ref(),
    );
    read
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// `ws(s)://<host>/signal` on the server the app was loaded from.
fn signaling_url() -> String {
    let location = gloo::utils::window().location();
    let scheme = if location.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}/signal")
}
