//! The titles offered while a `[[wiki link]]` is typed: the core's `link_completion` decides,
//! this reads the text around the caret, hands the list to the view and carries out a choice.
//!
//! Only a bounded piece of text around the caret is read (`CONTEXT_UNITS`), so a keystroke
//! costs the same on any page; the titles are scanned only while the caret is in a link.

use std::rc::Rc;

use commonplace_core::app::link_completion::{self, KeyAction, OpenLink, Suggestion};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;

use super::{now, Inner, Session};

impl Session {
    /// Completes the open link with the item at `index` of the list shown (a click).
    pub fn accept_link_suggestion(&self, index: usize) {
        let picked = self.inner.link_completion.borrow().pick(index);
        if let Some((link, chosen)) = picked {
            self.inner.accept_link(&link, &chosen);
        }
    }
}

impl Inner {
    /// The text or the caret changed: the list follows the link the caret is in, if any. Only
    /// a focused editor shows one (a peer's edit moves an unfocused caret too).
    pub(super) fn refresh_link_suggestions(&self) {
        let link = {
            let editor = self.editor.borrow();
            let focused = editor.as_ref().is_some_and(|e| {
                gloo::utils::document().active_element().as_ref() == Some(e.element.unchecked_ref())
            });
            editor
                .as_ref()
                .filter(|_| focused)
                .and_then(|e| e.around_caret(link_completion::CONTEXT_UNITS, 0))
                .and_then(|(before, caret, _)| link_completion::open_link(&before, caret))
        };
        if link.is_none() && self.link_completion.borrow().shown().is_none() {
            // The usual keystroke: nothing to look up, nothing shown.
            self.link_completion.borrow_mut().update(None, []);
            return;
        }
        let pages = self.view.borrow().pages.clone();
        let titles = pages.iter().map(|page| page.title.as_str());
        self.link_completion.borrow_mut().update(link, titles);
        self.show_link_suggestions();
    }

    /// Closes the list (another page opened, the editor lost focus).
    pub(super) fn close_link_suggestions(&self) {
        self.link_completion.borrow_mut().close();
        self.show_link_suggestions();
    }

    /// A key in the editor: the list's keys do not reach the textarea while it is open.
    pub(super) fn on_editor_key(&self, e: &KeyboardEvent) {
        let plain = !(e.alt_key() || e.shift_key() || e.is_composing());
        let action = self.link_completion.borrow_mut().key(&e.key(), plain);
        match action {
            KeyAction::Pass => return,
            KeyAction::Handled => self.show_link_suggestions(),
            KeyAction::Accept(link, chosen) => self.accept_link(&link, &chosen),
        }
        e.prevent_default();
    }

    /// Completes `link` with the chosen title as one edit of this person's (one transaction,
    /// one undo step, sent to peers as typing is), the caret after its `]]`; the create item
    /// also creates the page, without leaving this one.
    fn accept_link(&self, link: &OpenLink, chosen: &Suggestion) {
        let around = self
            .editor
            .borrow()
            .as_ref()
            .and_then(|e| e.around_caret(0, 2));
        let Some((_, caret, after)) = around else {
            return self.close_link_suggestions();
        };
        if caret < link.start {
            return self.close_link_suggestions();
        }
        let done = link_completion::complete(link, caret, &after, chosen.title());
        if let Some(editor) = &mut *self.editor.borrow_mut() {
            editor.insert(&done.splice, done.caret);
        }
        self.edit_locally(done.splice, Some((done.caret, done.caret)));
        if let Suggestion::Create(title) = chosen {
            self.room.borrow_mut().create_page(now(), title, "");
            self.pump();
        }
        self.refresh_link_suggestions();
    }

    /// Hands the list as it is now to the view.
    fn show_link_suggestions(&self) {
        let shown = self.link_completion.borrow().shown().cloned().map(Rc::new);
        let placed = {
            let view = self.view.borrow();
            let start = view.link_suggestions.as_ref().map(|s| s.link.start);
            (start, view.link_suggestions_at)
        };
        // Measured once per link (typing its query does not move its `[[`): measuring lays the
        // mirror out, which nobody's carets may have needed.
        let at = match (&shown, placed) {
            (Some(shown), (Some(start), at)) if start == shown.link.start => at,
            (Some(shown), _) => self.place_link_suggestions(shown.link.start),
            (None, _) => None,
        };
        self.update_view(|view| {
            view.link_suggestions = shown;
            view.link_suggestions_at = at;
        });
    }

    /// Under the `[[` of the link whose query starts at `start`.
    fn place_link_suggestions(&self, start: u32) -> Option<(i32, i32)> {
        let (x, y) = self
            .editor
            .borrow()
            .as_ref()?
            .point_below(start.checked_sub(2)?)?;
        Some((x.round() as i32, y.round() as i32))
    }
}
