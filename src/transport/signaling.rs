//! The WebSocket to the signaling server, reconnecting with backoff.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

/// First retry delay; doubles up to [`MAX_BACKOFF_MS`].
const MIN_BACKOFF_MS: u32 = 250;
const MAX_BACKOFF_MS: u32 = 4_000;

pub enum SignalingEvent {
    Open,
    Frame(String),
    Closed,
}

pub struct Signaling {
    inner: Rc<Inner>,
}

struct Inner {
    url: String,
    on_event: Box<dyn Fn(SignalingEvent)>,
    socket: RefCell<Option<(WebSocket, [EventListener; 3])>>,
    backoff_ms: Cell<u32>,
    retry: RefCell<Option<Timeout>>,
    /// `retry` has not fired yet (it is kept after firing: a timer must not drop itself).
    retry_pending: Cell<bool>,
}

impl Signaling {
    /// Connects to `url`, or takes over `begun`, a socket to it opened earlier (`head_start`).
    pub fn connect(
        url: String,
        begun: Option<WebSocket>,
        on_event: impl Fn(SignalingEvent) + 'static,
    ) -> Signaling {
        let inner = Rc::new(Inner {
            url,
            on_event: Box::new(on_event),
            socket: RefCell::new(None),
            backoff_ms: Cell::new(MIN_BACKOFF_MS),
            retry: RefCell::new(None),
            retry_pending: Cell::new(false),
        });
        match begun {
            // One already open fires no open event: the caller asks `is_open` once it holds
            // this `Signaling`, and subscribes at once (a task later would wait behind
            // everything else joining does).
            Some(socket) if socket.ready_state() <= WebSocket::OPEN => listen(&inner, socket),
            _ => open(&inner),
        }
        Signaling { inner }
    }

    /// The socket is open (one taken over from the head start may be at once).
    pub fn is_open(&self) -> bool {
        let socket = self.inner.socket.borrow();
        socket
            .as_ref()
            .is_some_and(|(socket, _)| socket.ready_state() == WebSocket::OPEN)
    }

    /// Sends a frame if the socket is open; otherwise it is dropped, as y-webrtc does: the room
    /// re-announces itself when the socket comes back.
    pub fn send(&self, frame: &str) {
        if let Some((socket, _)) = &*self.inner.socket.borrow() {
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_str(frame);
            }
        }
    }
}

impl Signaling {
    /// The network is back (the browser's `online` event): a socket waiting out its backoff
    /// is opened now, with the backoff reset, instead of up to [`MAX_BACKOFF_MS`] later.
    pub fn retry_now(&self) {
        let inner = &self.inner;
        inner.backoff_ms.set(MIN_BACKOFF_MS);
        if inner.retry_pending.replace(false) {
            inner.retry.borrow_mut().take();
            open(inner);
        }
    }

    /// Closes the socket; the close event brings a new one, after the usual backoff.
    pub fn reconnect(&self) {
        if let Some((socket, _)) = &*self.inner.socket.borrow() {
            let _ = socket.close();
        }
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.inner.retry.borrow_mut().take();
        if let Some((socket, _listeners)) = self.inner.socket.borrow_mut().take() {
            let _ = socket.close();
        }
    }
}

fn open(inner: &Rc<Inner>) {
    match WebSocket::new(&inner.url) {
        Ok(socket) => listen(inner, socket),
        Err(error) => {
            gloo::console::error!("signaling: cannot open", &inner.url, error);
            schedule_retry(inner);
        }
    }
}

fn listen(inner: &Rc<Inner>, socket: WebSocket) {
    let weak = Rc::downgrade(inner);
    let on_open = EventListener::new(&socket, "open", {
        let weak = weak.clone();
        move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.backoff_ms.set(MIN_BACKOFF_MS);
                (inner.on_event)(SignalingEvent::Open);
            }
        }
    });
    let on_message = EventListener::new(&socket, "message", {
        let weak = weak.clone();
        move |event| {
            let Some(inner) = weak.upgrade() else { return };
            let event = event.unchecked_ref::<MessageEvent>();
            if let Some(text) = event.data().as_string() {
                (inner.on_event)(SignalingEvent::Frame(text));
            }
        }
    });
    let on_close = EventListener::new(&socket, "close", move |_| on_closed(&weak));
    *inner.socket.borrow_mut() = Some((socket, [on_open, on_message, on_close]));
}

fn on_closed(weak: &Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    // The closed socket stays until the next `open` replaces it: dropping it here would drop
    // the listener that is running this code.
    (inner.on_event)(SignalingEvent::Closed);
    schedule_retry(&inner);
}

fn schedule_retry(inner: &Rc<Inner>) {
    let delay = inner.backoff_ms.get();
    inner.backoff_ms.set((delay * 2).min(MAX_BACKOFF_MS));
    let weak = Rc::downgrade(inner);
    inner.retry_pending.set(true);
    let timeout = Timeout::new(delay, move || {
        if let Some(inner) = weak.upgrade() {
            inner.retry_pending.set(false);
            open(&inner);
        }
    });
    *inner.retry.borrow_mut() = Some(timeout);
}
