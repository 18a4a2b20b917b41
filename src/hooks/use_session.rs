use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::session::{Session, SessionStatus};

/// Joins `room` (with its secret, if any) while the component is mounted, editing through the
/// element behind `editor`. Returns the session's status; leaving (unmount, or another room)
/// closes every connection.
#[hook]
pub fn use_session(room: &str, secret: Option<&str>, editor: NodeRef) -> SessionStatus {
    let status = use_state_eq(SessionStatus::default);
    {
        let setter = status.setter();
        let link = (room.to_owned(), secret.map(str::to_owned));
        use_effect_with(link, move |(room, secret)| {
            let session = Session::join(room, secret.as_deref(), move |s| setter.set(s));
            if let Some(element) = editor.cast::<HtmlTextAreaElement>() {
                session.attach_editor(element);
            }
            move || drop(session)
        });
    }
    *status
}
