//! The notebook's second copy in this browser, beside IndexedDB (`commonplace_core::app::journal`
//! says why and decides what goes where): a worker (static/journal_worker.js) holds the room's
//! two slot files in the origin private file system and writes what this sends, in order.
//! A room's journal is one tab's at a time: another tab of the room waits and takes it over
//! when that tab closes. Until then, or where the worker cannot (no file system), the notebook
//! is stored in IndexedDB alone, as before.

use commonplace_core::app::journal::{self, Journal, Write};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::future::Future;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

/// Beside index.html (Trunk copies it; the service worker keeps it for offline use).
const SCRIPT: &str = "journal_worker.js";
/// How long the worker may take to read the journal before the notebook opens without it.
const OPEN_TIMEOUT_MS: i32 = 3_000;

/// The room's journal, open in its worker.
pub struct JournalFile {
    worker: Worker,
    /// The room, if it was forgotten and its journal opened afresh: no longer forgotten once
    /// this one starts writing.
    room: Option<String>,
    /// Where writing goes on; `None` until [`JournalFile::start`].
    journal: RefCell<Option<Journal>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

/// What opening found: the file, not written to yet, and what it holds.
pub struct Opened {
    pub file: JournalFile,
    pub read: journal::Read,
}

/// What asking for the room's journal came to.
pub enum Opening {
    Opened(Box<Opened>),
    /// Another tab of the room has the journal; this one takes it over when that tab lets go.
    Held(Held),
}

/// The journal another tab has, asked for.
pub struct Held {
    file: JournalFile,
    opened: Promise,
}

impl Held {
    /// The journal once the other tab has let it go (never, while it stays open), with what it
    /// wrote; `None` if it could not be opened then.
    pub async fn opened(self) -> Option<Opened> {
        let answer = JsFuture::from(self.opened).await.ok()?;
        read_answer(self.file, answer)
    }
}

impl JournalFile {
    /// Starts the worker reading the journal of `room` as stored under `key_check` at once; the
    /// future is what it read. `None` (said in the console) where there is no journal to keep.
    /// A room forgotten on this browser (`notebooks::forgotten`) starts from empty files.
    pub fn open(room: &str, key_check: &str) -> impl Future<Output = Option<Opening>> {
        let begun = Self::begin(room, key_check);
        async move {
            let (file, answers) = begun?;
            let answer = JsFuture::from(answers.first).await.ok()?;
            if op(&answer).as_deref() == Some("held") {
                gloo::console::info!(
                    "Commonplace: another tab keeps this notebook's second copy; this one takes it over when that tab closes"
                );
                let opened = answers.later;
                return Some(Opening::Held(Held { file, opened }));
            }
            read_answer(file, answer).map(|opened| Opening::Opened(Box::new(opened)))
        }
    }

    /// The worker, asked to open the files; and promises of its first answer (`undefined` if
    /// it did not answer in time or could not run) and, if that was "held", of the next.
    fn begin(room: &str, key_check: &str) -> Option<(JournalFile, Answers)> {
        let worker = Worker::new(SCRIPT)
            .map_err(|error| gloo::console::warn!("Commonplace: no journal worker:", error))
            .ok()?;
        let (first, resolve_first) = promise()?;
        let (later, resolve_later) = promise()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let resolve_first = resolve_first.clone();
            let mut answered = 0;
            let mut held = false;
            move |event: MessageEvent| {
                let data = event.data();
                answered += 1;
                // Opening's answers are said where they are awaited; a failure after them is
                // said here: the notebook is kept in IndexedDB alone from then on.
                if answered == 1 {
                    held = op(&data).as_deref() == Some("held");
                    let _ = resolve_first.call1(&JsValue::NULL, &data);
                } else if answered == 2 && held {
                    let _ = resolve_later.call1(&JsValue::NULL, &data);
                } else if op(&data).as_deref() == Some("failed") {
                    gloo::console::warn!("Commonplace: the journal worker stopped:", &data);
                }
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // A script that did not load, or a timeout: the notebook opens without its journal.
        worker.set_onerror(Some(&resolve_first));
        let _ = gloo::utils::window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve_first, OPEN_TIMEOUT_MS);
        let (dir, files) = journal::location(room, key_check);
        let files: Array = files.iter().map(|name| JsValue::from_str(name)).collect();
        let afresh = crate::notebooks::forgotten(room);
        let _ = worker.post_message(&message(
            "open",
            &[
                ("dir", dir.into()),
                ("files", files.into()),
                ("afresh", afresh.into()),
            ],
        ));
        let file = JournalFile {
            worker,
            room: afresh.then(|| room.to_owned()),
            journal: RefCell::new(None),
            _on_message: on_message,
        };
        Some((file, Answers { first, later }))
    }

    /// Goes on from what was read, or starts afresh from `state` (the whole notebook), as the
    /// core decides; appends are written from now on.
    pub fn start(&self, read: &journal::Read, state: impl FnOnce() -> Vec<u8>) {
        let (journal, write) = Journal::open(read, state);
        self.begin_writing(journal, write);
    }

    /// Starts afresh from `state` (the whole notebook, with what `read` held merged into it):
    /// the files were another tab's until now.
    pub fn take_over(&self, read: &journal::Read, state: &[u8]) {
        let (journal, write) = Journal::take_over(read, state);
        self.begin_writing(journal, write);
    }

    fn begin_writing(&self, journal: Journal, write: Write) {
        self.send(write);
        *self.journal.borrow_mut() = Some(journal);
        if let Some(room) = &self.room {
            crate::notebooks::remembered(room);
        }
    }

    /// Adds `records` (a batch the store appends) at the end.
    pub fn append(&self, records: &[Vec<u8>]) {
        let write = match &mut *self.journal.borrow_mut() {
            Some(journal) => journal.append(records),
            None => return,
        };
        self.send(write);
    }

    /// Starts the other slot from `state` (the whole notebook, as the store compacts to).
    pub fn compact(&self, state: &[u8]) {
        let write = match &mut *self.journal.borrow_mut() {
            Some(journal) => journal.start(state),
            None => return,
        };
        self.send(write);
    }

    fn send(&self, write: Write) {
        let (message, bytes) = match write {
            Write::Resume { slot, length } => (
                message(
                    "resume",
                    &[("slot", slot.into()), ("length", (length as f64).into())],
                ),
                None,
            ),
            Write::Start { slot, bytes } => {
                let bytes = Uint8Array::from(bytes.as_slice());
                (
                    message(
                        "start",
                        &[("slot", slot.into()), ("bytes", bytes.clone().into())],
                    ),
                    Some(bytes),
                )
            }
            Write::Append(bytes) => {
                let bytes = Uint8Array::from(bytes.as_slice());
                (
                    message("append", &[("bytes", bytes.clone().into())]),
                    Some(bytes),
                )
            }
        };
        // The bytes' buffer is handed over, not copied again.
        let sent = match bytes {
            Some(bytes) => self
                .worker
                .post_message_with_transfer(&message, &Array::of1(&bytes.buffer())),
            None => self.worker.post_message(&message),
        };
        if let Err(error) = sent {
            gloo::console::warn!("Commonplace: the journal worker refused a write:", error);
        }
    }
}

impl Drop for JournalFile {
    /// The worker flushes, lets the files go (another tab may take them) and ends.
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        let _ = self.worker.post_message(&message("close", &[]));
    }
}

/// Removes the journals of `room` (every key's): the notebook was forgotten. Where another tab
/// of the room has its journal, this waits for that tab to close; if this page closes first,
/// the room stays marked forgotten and its journal is emptied when it is next opened.
pub fn remove(room: &str) {
    let Ok(worker) = Worker::new(SCRIPT) else {
        return;
    };
    let dir = journal::directory(room);
    let room = room.to_owned();
    let on_removed = Closure::once_into_js(move |event: MessageEvent| {
        if op(&event.data()).as_deref() == Some("removed") {
            crate::notebooks::remembered(&room);
        }
    });
    worker.set_onmessage(Some(on_removed.unchecked_ref()));
    let _ = worker.post_message(&message("remove", &[("dir", dir.into())]));
}

struct Answers {
    first: Promise,
    later: Promise,
}

fn promise() -> Option<(Promise, Function)> {
    let mut resolve: Option<Function> = None;
    let promise = Promise::new(&mut |ok, _| resolve = Some(ok));
    Some((promise, resolve?))
}

fn op(answer: &JsValue) -> Option<String> {
    Reflect::get(answer, &"op".into()).ok()?.as_string()
}

/// The files as the worker's "opened" answer holds them; `None` (said) for any other answer.
fn read_answer(file: JournalFile, answer: JsValue) -> Option<Opened> {
    if op(&answer).as_deref() != Some("opened") {
        let why = Reflect::get(&answer, &"message".into())
            .ok()
            .and_then(|m| m.as_string());
        gloo::console::warn!(format!(
            "Commonplace: no second copy of this notebook in this browser ({})",
            why.as_deref().unwrap_or("the file system did not answer")
        ));
        return None;
    }
    let slots = Reflect::get(&answer, &"slots".into()).unwrap_or_default();
    let slots: Vec<Vec<u8>> = Array::from(&slots)
        .iter()
        .filter_map(|slot| slot.dyn_into::<Uint8Array>().ok())
        .map(|slot| slot.to_vec())
        .collect();
    let [a, b] = slots.as_slice() else {
        return None;
    };
    let read = journal::read([a, b]);
    Some(Opened { file, read })
}

fn message(op: &str, fields: &[(&str, JsValue)]) -> Object {
    let message = Object::new();
    let _ = Reflect::set(&message, &"op".into(), &op.into());
    for (name, value) in fields {
        let _ = Reflect::set(&message, &(*name).into(), value);
    }
    message
}
