use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::{identity, marks, room_key};
use commonplace_core::app::status::SessionStatus;

use crate::session::{NotebookState, Session};

/// The session of the room on screen, for components that act on it. Empty before the room
/// view is mounted and after it is gone.
#[derive(Clone, Default)]
pub struct SessionHandle(Rc<RefCell<Option<Session>>>);

impl SessionHandle {
    /// Runs `action` on the session, if there is one.
    pub fn with(&self, action: impl FnOnce(&Session)) {
        if let Some(session) = &*self.0.borrow() {
            action(session);
        }
    }
}

impl PartialEq for SessionHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The elements a session draws into.
#[derive(Clone, PartialEq)]
pub struct SessionElements {
    pub editor: NodeRef,
    pub overlay: NodeRef,
    pub preview: NodeRef,
}

/// Joins `room` (with its secret, if any) while the component is mounted, editing through the
/// given elements. Returns the session's status, what the notebook views show, and the session
/// itself; leaving (unmount, or another room) closes every connection.
#[hook]
pub fn use_session(
    room: &str,
    secret: Option<&str>,
    elements: SessionElements,
) -> (SessionStatus, NotebookState, SessionHandle) {
    let status = use_state_eq(SessionStatus::default);
    let notebook = use_state_eq(NotebookState::default);
    let handle = use_memo((), |_| SessionHandle::default());
    {
        let (status, notebook) = (status.setter(), notebook.setter());
        let handle = (*handle).clone();
        let link = (room.to_owned(), secret.map(str::to_owned));
        use_effect_with(link, move |(room, secret)| {
            marks::mark(marks::JOIN);
            // The key first (WebCrypto, off the main thread, ~15 ms): the room encrypts its
            // first signaling message with it.
            let left = Rc::new(Cell::new(false));
            let (room, secret) = (room.clone(), secret.clone());
            let joining = handle.clone();
            let gone = left.clone();
            spawn_local(async move {
                let key = match secret {
                    Some(secret) => {
                        let key = room_key::derive(&secret, &room).await;
                        marks::mark(marks::KEY);
                        Some(key)
                    }
                    None => None,
                };
                if gone.get() {
                    return;
                }
                let session = Session::join(
                    &room,
                    key,
                    move |s| status.set(s),
                    move |n| notebook.set(n),
                );
                let (name, color) = identity::load();
                session.set_user(&name, &color);
                let editor = elements.editor.cast::<HtmlTextAreaElement>();
                let overlay = elements.overlay.cast::<HtmlElement>();
                let preview = elements.preview.cast::<HtmlElement>();
                if let (Some(editor), Some(overlay), Some(preview)) = (editor, overlay, preview) {
                    session.attach(editor, overlay, preview);
                }
                *joining.0.borrow_mut() = Some(session);
            });
            move || {
                left.set(true);
                drop(handle.0.borrow_mut().take());
            }
        });
    }
    (*status, (*notebook).clone(), (*handle).clone())
}
