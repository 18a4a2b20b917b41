//! Other people's carets and selections, drawn over the page editor.
//!
//! A textarea cannot say where its characters are, so a hidden *mirror* beside it holds the same
//! text with the same box and text styles, and the browser measures characters there (a DOM
//! `Range` → `getClientRects`):
//!
//! - [`mirror`]: the mirror's lines, one element per line in chunks of lines, kept in step with
//!   the textarea splice by splice (a keystroke rewrites the text of one line). Which line an
//!   offset is on comes from the core's [`commonplace_core::text::LineIndex`], without walking
//!   the lines; the mirror's chunks are the index's.
//! - [`styles`]: what makes the mirror lay text out as the textarea does (its text styles, its
//!   width).
//! - [`draw`] and [`measure`]: at most once per animation frame, where the textarea is, which
//!   lines are visible, where each caret and selection falls on them; [`paint`]: the elements
//!   drawn. Only the visible lines are measured, so a drawing costs the same on a page of ten
//!   lines or ten thousand.
//!
//! Names and colours come from other peers: names are set as text, colours only if they look
//! like a colour and nothing more ([`color`]).

mod dom;
mod draw;
mod measure;
mod mirror;
mod paint;
mod styles;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::events::EventListener;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, UnwrapThrowExt};
use web_sys::{Document, HtmlElement, HtmlTextAreaElement, ResizeObserver};

use dom::{new_div, set_styles};
use mirror::Mirror;
use paint::Drawn;

/// How long placing a popup may spend laying out the mirror of a page nobody's carets were on,
/// ms: past it the popup goes to its default place.
const POINT_BUDGET_MS: f64 = 30.0;

/// One other person's caret (`head`) and selection (`anchor`..`head`, either way round), in
/// UTF-16 units of the textarea's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caret {
    pub client: u64,
    pub anchor: u32,
    pub head: u32,
    pub name: String,
    pub color: String,
}

/// Draws other people's carets and selections over the editor. Dropping it removes what it drew,
/// its mirror and its listeners.
pub struct CaretLayer {
    inner: Rc<Inner>,
}

struct Inner {
    textarea: HtmlTextAreaElement,
    overlay: HtmlElement,
    document: Document,
    mirror: RefCell<Mirror>,
    /// Over the textarea's client area (inside its borders and scrollbars), clipping.
    selections: HtmlElement,
    /// Over the textarea's client area, not clipping (the name flags stick out).
    carets: HtmlElement,
    remote: RefCell<Vec<Caret>>,
    /// Carets came where there were none: their first drawing (the mirror's styles copied, its
    /// text laid out and shaped, all in the frame: 20-30 ms on two cores) waits until the frame
    /// that shows the text that came with them is painted. A newcomer sees the text first.
    deferred: Cell<bool>,
    drawn: RefCell<Drawn>,
    frame: Cell<Option<i32>>,
    on_frame: Closure<dyn FnMut()>,
    observer: Option<ResizeObserver>,
    _on_resize: Closure<dyn FnMut()>,
    _on_scroll: EventListener,
}

impl CaretLayer {
    /// `overlay` is an empty element the app places over the textarea (same positioned parent,
    /// `position:absolute; inset:0; pointer-events:none`), where the mirror and carets live.
    pub fn new(textarea: HtmlTextAreaElement, overlay: HtmlElement) -> CaretLayer {
        let document = gloo::utils::document();
        let mirror = Mirror::new(&document);
        let selections = new_div(&document, "remote-selections");
        let carets = new_div(&document, "remote-carets");
        for (layer, overflow) in [(&selections, "hidden"), (&carets, "visible")] {
            set_styles(
                &layer.style(),
                &[
                    ("position", "absolute"),
                    ("left", "0"),
                    ("top", "0"),
                    ("width", "0"),
                    ("height", "0"),
                    ("overflow", overflow),
                    ("pointer-events", "none"),
                ],
            );
        }
        for child in [mirror.element(), &selections, &carets] {
            // Others' carets are shown, not read out.
            child.set_attribute("aria-hidden", "true").unwrap_throw();
            overlay.append_child(child).unwrap_throw();
        }

        let inner = Rc::new_cyclic(|me: &Weak<Inner>| {
            let on_frame = Closure::<dyn FnMut()>::new({
                let me = me.clone();
                move || {
                    if let Some(inner) = me.upgrade() {
                        inner.frame.set(None);
                        inner.draw();
                    }
                }
            });
            let on_resize = Closure::<dyn FnMut()>::new({
                let me = me.clone();
                move || {
                    if let Some(inner) = me.upgrade() {
                        // The textarea may have changed its styles too.
                        inner.mirror.borrow_mut().restyle();
                        inner.schedule();
                    }
                }
            });
            let observer = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
            let on_scroll = EventListener::new(&textarea, "scroll", {
                let me = me.clone();
                move |_| {
                    if let Some(inner) = me.upgrade() {
                        inner.schedule();
                    }
                }
            });
            Inner {
                textarea: textarea.clone(),
                overlay,
                document,
                mirror: RefCell::new(mirror),
                selections,
                carets,
                remote: RefCell::new(Vec::new()),
                deferred: Cell::new(false),
                drawn: RefCell::new(Drawn::default()),
                frame: Cell::new(None),
                on_frame,
                observer,
                _on_resize: on_resize,
                _on_scroll: on_scroll,
            }
        });
        if let Some(observer) = &inner.observer {
            observer.observe(&textarea);
        }
        inner.mirror.borrow_mut().reset(&textarea.value());
        CaretLayer { inner }
    }

    /// The whole text changed (another page opened, or loaded).
    pub fn reset(&self, text: &str) {
        self.inner.mirror.borrow_mut().reset(text);
        self.inner.schedule();
    }

    /// `delete` UTF-16 units at `index` were replaced by `insert` in the textarea (local typing or
    /// a peer's change).
    pub fn splice(&self, index: u32, delete: u32, insert: &str) {
        if delete == 0 && insert.is_empty() {
            return;
        }
        let mut mirror = self.inner.mirror.borrow_mut();
        if mirror.splice(index, delete, insert).is_err() {
            // The DOM refused (it never should): start over from what the textarea shows.
            mirror.reset(&self.inner.textarea.value());
        }
        drop(mirror);
        self.inner.schedule();
    }

    /// The textarea's text styles changed (it stopped or started wrapping): copy them again.
    pub fn restyle(&self) {
        self.inner.mirror.borrow_mut().restyle();
        self.inner.schedule();
    }

    /// Where the caret at textarea offset `offset` stands, relative to the overlay: x and the
    /// bottom of its row (see `draw`'s `point`), for a popup placed under it.
    pub fn point_below(&self, offset: u32) -> Option<(f64, f64)> {
        self.inner.point(offset, POINT_BUDGET_MS)
    }

    /// Who is where now (replaces the previous set). Offsets beyond the text are clamped.
    pub fn set_carets(&self, carets: Vec<Caret>) {
        let mut remote = self.inner.remote.borrow_mut();
        if *remote == carets {
            return;
        }
        let appeared = remote.is_empty() && !carets.is_empty();
        *remote = carets;
        drop(remote);
        if appeared && !self.inner.deferred.replace(true) {
            let me = Rc::downgrade(&self.inner);
            crate::frame::after_paint(move || {
                if let Some(inner) = me.upgrade() {
                    inner.deferred.set(false);
                    inner.schedule();
                }
            });
        }
        self.inner.schedule();
    }
}

impl Drop for CaretLayer {
    fn drop(&mut self) {
        let inner = &self.inner;
        if let Some(id) = inner.frame.take() {
            let _ = gloo::utils::window().cancel_animation_frame(id);
        }
        if let Some(observer) = &inner.observer {
            observer.disconnect();
        }
        inner.mirror.borrow().element().remove();
        for layer in [&inner.selections, &inner.carets] {
            layer.remove();
        }
    }
}

impl Inner {
    /// Draws at the next animation frame (once, however many changes come before it).
    fn schedule(&self) {
        if self.frame.get().is_some() {
            return;
        }
        let id = gloo::utils::window()
            .request_animation_frame(self.on_frame.as_ref().unchecked_ref())
            .ok();
        self.frame.set(id);
    }
}
