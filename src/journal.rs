//! The notebook's second copy in this browser, beside IndexedDB (`commonplace_core::app::journal`
//! says why and decides what goes where): a worker (static/journal_worker.js) holds the room's
//! two slot files in the origin private file system and writes what this sends, in order.
//! Where the worker cannot (no file system, or another tab of the room holds the files), the
//! notebook is stored in IndexedDB alone, as before.

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
    /// Where writing goes on; `None` until [`JournalFile::start`].
    journal: RefCell<Option<Journal>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

/// What opening found: the file, not written to yet, and what it holds.
pub struct Opened {
    pub file: JournalFile,
    pub read: journal::Read,
}

impl JournalFile {
    /// Starts the worker reading the journal of `room` as stored under `key_check` at once; the
    /// future is what it read. `None` (said in the console) where there is no journal to keep.
    pub fn open(room: &str, key_check: &str) -> impl Future<Output = Option<Opened>> {
        let begun = Self::begin(room, key_check);
        async move {
            let (file, answer) = begun?;
            let answer = JsFuture::from(answer).await.ok()?;
            let field = |name: &str| Reflect::get(&answer, &name.into()).ok();
            if field("op").and_then(|op| op.as_string()).as_deref() != Some("opened") {
                let why = field("message").and_then(|m| m.as_string());
                gloo::console::warn!(format!(
                    "Commonplace: no second copy of this notebook in this browser ({})",
                    why.as_deref().unwrap_or("the file system did not answer")
                ));
                return None;
            }
            let slots: Vec<Vec<u8>> = Array::from(&field("slots").unwrap_or_default())
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
    }

    /// The worker, asked to open the files; and a promise of its first answer (`undefined` if
    /// it did not answer in time or could not run).
    fn begin(room: &str, key_check: &str) -> Option<(JournalFile, Promise)> {
        let worker = Worker::new(SCRIPT)
            .map_err(|error| gloo::console::warn!("Commonplace: no journal worker:", error))
            .ok()?;
        let mut resolve: Option<Function> = None;
        let answer = Promise::new(&mut |ok, _| resolve = Some(ok));
        let resolve = resolve?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let resolve = resolve.clone();
            let mut answered = false;
            move |event: MessageEvent| {
                let data = event.data();
                // The first answer is opening's (said where it is awaited); a failure after it
                // is said here: the notebook is kept in IndexedDB alone from then on.
                if !std::mem::replace(&mut answered, true) {
                    let _ = resolve.call1(&JsValue::NULL, &data);
                    return;
                }
                let op = Reflect::get(&data, &"op".into())
                    .ok()
                    .and_then(|op| op.as_string());
                if op.as_deref() == Some("failed") {
                    gloo::console::warn!("Commonplace: the journal worker stopped:", &data);
                }
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // A script that did not load, or a timeout: the notebook opens without its journal.
        worker.set_onerror(Some(&resolve));
        let _ = gloo::utils::window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, OPEN_TIMEOUT_MS);
        let (dir, files) = journal::location(room, key_check);
        let files: Array = files.iter().map(|name| JsValue::from_str(name)).collect();
        let _ = worker.post_message(&message(
            "open",
            &[("dir", dir.into()), ("files", files.into())],
        ));
        let file = JournalFile {
            worker,
            journal: RefCell::new(None),
            _on_message: on_message,
        };
        Some((file, answer))
    }

    /// Goes on from what was read, or starts afresh from `state` (the whole notebook), as the
    /// core decides; appends are written from now on.
    pub fn start(&self, read: &journal::Read, state: impl FnOnce() -> Vec<u8>) {
        let (journal, write) = Journal::open(read, state);
        self.send(write);
        *self.journal.borrow_mut() = Some(journal);
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

/// Removes the journals of `room` (every key's): the notebook was forgotten.
pub fn remove(room: &str) {
    let Ok(worker) = Worker::new(SCRIPT) else {
        return;
    };
    let (dir, _) = journal::location(room, "");
    let _ = worker.post_message(&message("remove", &[("dir", dir.into())]));
}

fn message(op: &str, fields: &[(&str, JsValue)]) -> Object {
    let message = Object::new();
    let _ = Reflect::set(&message, &"op".into(), &op.into());
    for (name, value) in fields {
        let _ = Reflect::set(&message, &(*name).into(), value);
    }
    message
}
