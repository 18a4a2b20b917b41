use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::session::{Session, SessionStatus};

/// Joins `room` while the component is mounted, editing through the element behind `editor`.
/// Returns the session's status; leaving (unmount, or another room) closes every connection.
#[hook]
pub fn use_session(room: &str, editor: NodeRef) -> SessionStatus {
    let status = use_state_eq(SessionStatus::default);
    {
        let setter = status.setter();
        use_effect_with(room.to_owned(), move |room| {
            let session = Session::join(room, move |s| setter.set(s));
            if let Some(element) = editor.cast::<HtmlTextAreaElement>() {
                session.attach_editor(element);
            }
            move || drop(session)
        });
    }
    *status
}
