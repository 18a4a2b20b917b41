use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::{identity, perf, room_key};
use commonplace_core::app::status::SessionStatus;
use commonplace_protocol::crypto::RoomKey;

use crate::session::{NotebookState, Session};

/// The session of the room on screen, for components that act on it. Empty until the room is
/// joined and after it is left; each room link gets a handle of its own.
#[derive(Clone, Default)]
pub struct SessionHandle(Rc<Slot>);

impl PartialEq for SessionHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Default)]
struct Slot {
    session: RefCell<Option<Session>>,
    attached: Cell<bool>,
    left: Cell<bool>,
}

impl SessionHandle {
    /// Runs `action` on the session, if there is one.
    pub fn with(&self, action: impl FnOnce(&Session)) {
        if let Some(session) = &*self.0.session.borrow() {
            action(session);
        }
    }

    /// Hands the session its elements once both exist (whichever comes second does it).
    fn attach(&self, elements: &SessionElements) {
        let slot = &self.0;
        let Some(session) = &*slot.session.borrow() else {
            return;
        };
        if slot.attached.get() {
            return;
        }
        let editor = elements.editor.cast::<HtmlTextAreaElement>();
        let overlay = elements.overlay.cast::<HtmlElement>();
        let preview = elements.preview.cast::<HtmlElement>();
        if let (Some(editor), Some(overlay), Some(preview)) = (editor, overlay, preview) {
            session.attach(editor, overlay, preview);
            slot.attached.set(true);
        }
    }

    fn leave(&self) {
        self.0.left.set(true);
        drop(self.0.session.borrow_mut().take());
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
    let link = (room.to_owned(), secret.map(str::to_owned));
    // Joining starts as the component first renders, not after (an effect would wait for the
    // whole app's first render and commit): the key, the store and the network are under way
    // while the page is built; the elements are handed over once both exist.
    let handle = {
        let (status, notebook) = (status.setter(), notebook.setter());
        let elements = elements.clone();
        use_memo(link.clone(), move |(room, secret)| {
            perf::mark(perf::JOIN);
            let handle = SessionHandle::default();
            let joining = handle.clone();
            let join = {
                let (room, secret) = (room.clone(), secret.clone());
                move |key: Option<RoomKey>| {
                    if joining.0.left.get() {
                        return;
                    }
                    let on_status = move |s| status.set(s);
                    let on_notebook = move |n| notebook.set(n);
                    let session =
                        Session::join(&room, secret.as_deref(), key, on_status, on_notebook);
                    let (name, color) = identity::load();
                    session.set_user(&name, &color);
                    *joining.0.session.borrow_mut() = Some(session);
                    joining.attach(&elements);
                }
            };
            // The key first: the room encrypts its first signaling message with it. Usually
            // index.html derived it already; then the room joins here, while the page is
            // still being built, and its announce is out before the first paint.
            match secret.as_deref() {
                None => join(None),
                Some(secret) => match room_key::derived(secret, room) {
                    Some(key) => {
                        perf::mark(perf::KEY);
                        join(Some(key));
                    }
                    None => {
                        let (secret, room) = (secret.to_owned(), room.clone());
                        spawn_local(async move {
                            let key = room_key::derive(&secret, &room).await;
                            perf::mark(perf::KEY);
                            join(Some(key));
                        });
                    }
                },
            }
            handle
        })
    };
    {
        let handle = (*handle).clone();
        use_effect_with(link, move |_| {
            handle.attach(&elements);
            move || handle.leave()
        });
    }
    (*status, (*notebook).clone(), (*handle).clone())
}
