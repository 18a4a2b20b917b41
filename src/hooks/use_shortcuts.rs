use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};
use yew::prelude::*;

use crate::hooks::use_session::SessionHandle;
use crate::session::NotebookState;

/// The room's keyboard shortcuts (listed in the sidebar): Alt+N new page, Alt+↑/↓ previous and
/// next page, Ctrl+K search, Alt+E back to the editor. Undo and redo belong to the editor.
#[hook]
pub fn use_shortcuts(notebook: &NotebookState, session: &SessionHandle) {
    let state = use_mut_ref(NotebookState::default);
    *state.borrow_mut() = notebook.clone();
    let session = session.clone();
    use_effect_with((), move |_| {
        // Not passive: the shortcuts replace the browser's own (Ctrl+K is its search box).
        let active = EventListenerOptions::enable_prevent_default();
        let document = gloo::utils::document();
        let listener = EventListener::new_with_options(&document, "keydown", active, move |e| {
            let Some(e) = e.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            let notebook = state.borrow().clone();
            let step = |by: isize| {
                let pages = &notebook.pages;
                let at = pages
                    .iter()
                    .position(|p| p.id == notebook.active)
                    .unwrap_or(0);
                let to = (at as isize + by).clamp(0, pages.len() as isize - 1) as usize;
                if let Some(page) = pages.get(to) {
                    session.with(|s| s.open_page(&page.id));
                }
            };
            let handled = match (e.alt_key(), e.ctrl_key() || e.meta_key(), e.key().as_str()) {
                (true, false, "n" | "N") => {
                    session.with(|s| {
                        s.create_page("Untitled");
                    });
                    true
                }
                (true, false, "ArrowUp") => {
                    step(-1);
                    true
                }
                (true, false, "ArrowDown") => {
                    step(1);
                    true
                }
                (true, false, "e" | "E") => focus("editor"),
                (false, true, "k" | "K") => focus("search"),
                _ => false,
            };
            if handled {
                e.prevent_default();
            }
        });
        move || drop(listener)
    });
}

fn focus(id: &str) -> bool {
    let element = gloo::utils::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    element.is_some_and(|e| e.focus().is_ok())
}
