//! The notebook as the person works with it: the open page, the page list, who is here, the
//! preview and backlinks, undo, export and import. Everything is decided by the core's room;
//! this keeps the view of it up to date.

use std::collections::HashMap;
use std::rc::Rc;

use commonplace_core::app::import_export;
use commonplace_core::app::link_completion;
use commonplace_core::app::navigation::{self, Follow};
use commonplace_core::app::paths::Reach;
use commonplace_core::app::preview::{self, Preview};
use commonplace_core::notebook::{tasks, PageInfo, SearchHit};
use commonplace_core::room::Person;
use commonplace_core::text::diff::Splice;
use gloo::timers::callback::Timeout;

use super::editor::EditorEvent;
use super::{now, Inner, Session};
use crate::caret_layer::Caret;
use crate::frame::after_paint;

/// How long typing must pause before the preview and backlinks are brought up to date.
const PREVIEW_DELAY_MS: u32 = 150;
const SEARCH_LIMIT: usize = 50;
/// Pages whose wiki links are read in one step after a notebook loads (some 5-10 ms here).
const LINKS_PER_STEP: usize = 50;

/// What the notebook's views show; a new value whenever any of it changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotebookState {
    /// The notebook's name; `None` while untitled.
    pub title: Option<String>,
    pub pages: Rc<Vec<PageInfo>>,
    /// The open page's id.
    pub active: String,
    pub people: Rc<Vec<Person>>,
    /// Pages linking to the open one; `None` while not yet found (just after the notebook
    /// loaded: see `Inner::open_first_page`).
    pub backlinks: Option<Rc<Vec<PageInfo>>>,
    /// How each connected peer is reached, by peer id.
    pub reach: Rc<HashMap<String, Reach>>,
    /// The titles offered for the `[[wiki link]]` the caret is in, while the list is open.
    pub link_suggestions: Option<Rc<link_completion::Shown>>,
    /// Where the list goes in the editor (px from the caret overlay's top left: under the link's
    /// `[[`); `None`: its default place, over the editor's top.
    pub link_suggestions_at: Option<(i32, i32)>,
    /// Counts changes of the version history: the History panel reads it again on each.
    pub history: u32,
}

impl NotebookState {
    pub fn title(&self, id: &str) -> String {
        navigation::title_of(&self.pages, id)
    }
}

impl Session {
    pub fn open_page(&self, id: &str) {
        self.inner.open_page(id);
    }

    /// Opens a page with `len` UTF-16 units at `index` selected (a search hit). A hit whose page
    /// is gone (deleted since the search) does nothing: its offsets mean nothing in the open page.
    pub fn open_page_at(&self, id: &str, index: u32, len: u32) {
        self.inner.open_page(id);
        if *self.inner.active.borrow() != id {
            return;
        }
        if let Some(editor) = &mut *self.inner.editor.borrow_mut() {
            let _ = editor.element.focus();
            editor.select(index, index + len);
        }
    }

    /// Creates a page at the end of the list, opens it and returns its id.
    pub fn create_page(&self, title: &str) -> String {
        let id = self.inner.room.borrow_mut().create_page(now(), title, "");
        self.inner.pump();
        self.inner.open_page(&id);
        id
    }

    /// Names the notebook for everyone (blank: untitled).
    pub fn rename_notebook(&self, title: &str) {
        self.inner.room.borrow_mut().rename_notebook(now(), title);
        self.inner.pump();
    }

    /// Renames a page and the links to it; undo in the open page takes both back.
    pub fn rename_page(&self, id: &str, title: &str) {
        let open = self.inner.active.borrow().clone();
        self.inner
            .room
            .borrow_mut()
            .rename_page_from(now(), id, title, &open);
        self.inner.pump();
    }

    /// A task checkbox in the preview was clicked: toggles its marker in the open page's source
    /// as this person's edit (peers get it, undo takes it back). False if the text changed
    /// since the preview showed it (`tasks::toggle` refused): nothing is done.
    pub fn toggle_task(&self, task: usize, checked: bool) -> bool {
        let page = self.inner.active.borrow().clone();
        let text = self.inner.room.borrow().page_text(&page);
        let Some(splice) = text.and_then(|text| tasks::toggle(&text, task, checked)) else {
            return false;
        };
        // The editor shows the page: it takes the splice as it takes others', the room as ours.
        if let Some(editor) = &mut *self.inner.editor.borrow_mut() {
            editor.apply(std::slice::from_ref(&splice), false);
        }
        self.inner.edit_locally(splice, None);
        self.inner.share_cursor();
        true
    }

    pub fn delete_page(&self, id: &str) {
        self.inner.room.borrow_mut().delete_page(now(), id);
        self.inner.pump();
    }

    pub fn move_page(&self, id: &str, to: usize) {
        self.inner.room.borrow_mut().move_page(now(), id, to);
        self.inner.pump();
    }

    /// Follows a `[[wiki link]]`: opens the page with that title, creating it if there is none.
    pub fn follow_link(&self, title: &str) {
        let follow = navigation::follow_link(&self.inner.room.borrow(), title);
        match follow {
            Follow::Open(id) => self.inner.open_page(&id),
            Follow::Create(title) => {
                self.create_page(&title);
            }
        }
    }

    pub fn search(&self, query: &str) -> Vec<SearchHit> {
        let _span = crate::perf::span("search");
        self.inner.room.borrow().search(query, SEARCH_LIMIT)
    }

    pub fn set_user(&self, name: &str, color: &str) {
        self.inner.room.borrow_mut().set_user(now(), name, color);
        // The room does not echo this person's own presence: the list shows it from here.
        self.inner.on_presence_changed();
        self.inner.pump();
    }

    /// The open page as a markdown file: (file name, contents).
    pub fn export_page(&self) -> (String, Vec<u8>) {
        let active = self.inner.active.borrow().clone();
        import_export::export_page(&self.inner.room.borrow(), &active)
    }

    /// Every page as a markdown file, in one zip archive.
    pub fn export_markdown(&self) -> Vec<u8> {
        import_export::export_markdown(&self.inner.room.borrow())
    }

    /// The whole notebook as one Yjs update.
    pub fn export_update(&self) -> Vec<u8> {
        self.inner.room.borrow().encode_state()
    }

    /// Adds markdown files (or zip archives of them) as pages; returns how many.
    pub fn import_files(&self, files: Vec<(String, Vec<u8>)>) -> Result<usize, String> {
        let imported = import_export::import_files(&mut self.inner.room.borrow_mut(), now(), files);
        self.inner.pump();
        imported
    }

    /// Merges a notebook exported as a Yjs update into this one.
    pub fn import_update(&self, bytes: &[u8]) -> Result<(), String> {
        let result = self.inner.room.borrow_mut().import_update(now(), bytes);
        self.inner.pump();
        result
    }
}

impl Inner {
    pub(super) fn open_page(&self, id: &str) {
        if self.show_page(id) {
            self.update_backlinks();
        }
    }

    /// The first page of a notebook just loaded. Its backlinks are found after it is painted:
    /// the first time, they read every page's text (1 MB in a notebook of 500 pages, some
    /// 50-100 ms here), so the room reads it in steps, one when the browser is idle after each
    /// frame; after that it keeps each page's links until the page changes.
    pub(super) fn open_first_page(&self, id: &str) {
        if !self.show_page(id) {
            return;
        }
        self.update_view(|view| view.backlinks = None);
        self.keep_links_then_backlinks();
    }

    pub(super) fn keep_links_then_backlinks(&self) {
        let me = self.me.clone();
        after_paint(move || {
            let Some(inner) = me.upgrade() else { return };
            let kept = {
                let _span = crate::perf::span("keep links");
                inner.room.borrow().keep_links(LINKS_PER_STEP)
            };
            if kept {
                inner.update_backlinks();
            } else {
                inner.keep_links_then_backlinks();
            }
        });
    }

    /// Shows a page: its text, the caret, the preview and the page list; not its backlinks.
    /// `false` if there is no such page.
    fn show_page(&self, id: &str) -> bool {
        let _span = crate::perf::span("open page");
        let text = self.room.borrow().page_text(id);
        let Some(text) = text else {
            return false;
        };
        *self.active.borrow_mut() = id.to_owned();
        if let Some(editor) = &mut *self.editor.borrow_mut() {
            editor.show(&text);
        }
        self.close_link_suggestions();
        self.share_cursor();
        self.on_presence_changed();
        self.render_preview();
        let pages = Rc::new(self.room.borrow().pages());
        let title = self.room.borrow().notebook_title();
        let active = id.to_owned();
        self.update_view(|view| {
            view.title = title;
            view.pages = pages;
            view.active = active;
        });
        true
    }

    pub(super) fn on_editor_event(&self, event: EditorEvent) {
        match event {
            EditorEvent::Input => {
                let (splice, selection) = match &mut *self.editor.borrow_mut() {
                    Some(editor) => (editor.take_input(), editor.selection()),
                    None => (None, None),
                };
                let Some(splice) = splice else {
                    return self.share_cursor();
                };
                self.edit_locally(splice, Some(selection.unwrap_or((0, 0))));
                self.refresh_link_suggestions();
            }
            EditorEvent::Undo => self.undo_or_redo(true),
            EditorEvent::Redo => self.undo_or_redo(false),
            EditorEvent::Selection => {
                self.share_cursor();
                self.refresh_link_suggestions();
            }
            EditorEvent::Key(e) => self.on_editor_key(&e),
            EditorEvent::Blur => self.close_link_suggestions(),
            EditorEvent::Scroll => {
                let moved = match &mut *self.editor.borrow_mut() {
                    Some(editor) => editor.scrolled(),
                    None => false,
                };
                // Others' carets in the window it moved to.
                if moved {
                    self.draw_carets();
                }
            }
        }
    }

    /// This person's splice of the open page, already in the editor, into the room: one trip,
    /// the edit and the caret where it left it (`selection`: anchor and head; `None`: the caret
    /// did not move with it).
    pub(super) fn edit_locally(&self, splice: Splice, selection: Option<(u32, u32)>) {
        let page = self.active.borrow().clone();
        self.room
            .borrow_mut()
            .edit(now(), &page, &[splice], selection);
        // Others' carets sit on characters this edit may have moved. (Neither the edit nor this
        // person's caret comes back from the room as an event.)
        self.carets_dirty.set(true);
        self.pump();
        self.schedule_preview();
        self.list_edit();
    }

    pub(super) fn undo_or_redo(&self, undo: bool) {
        let page = self.active.borrow().clone();
        self.undoing.set(true);
        {
            let mut room = self.room.borrow_mut();
            if undo {
                room.undo(now(), &page);
            } else {
                room.redo(now(), &page);
            }
        }
        self.pump();
        self.undoing.set(false);
        self.share_cursor();
    }

    /// Others' splices to a page: shown at once if it is open.
    pub(super) fn on_page_changed(&self, page: &str, splices: &[Splice]) {
        let _span = crate::perf::span("editor.apply");
        if *self.active.borrow() == page {
            if let Some(editor) = &mut *self.editor.borrow_mut() {
                editor.apply(splices, self.undoing.get());
            }
            self.carets_dirty.set(true);
            // The link being typed may have moved, or been closed by someone else.
            self.refresh_link_suggestions();
        }
        self.schedule_preview();
    }

    /// The page list (or the notebook's title) changed: the open page may be gone (then home
    /// opens).
    pub(super) fn on_pages_changed(&self) {
        let _span = crate::perf::span("pages changed");
        let pages = Rc::new(self.room.borrow().pages());
        let title = self.room.borrow().notebook_title();
        let active = self.active.borrow().clone();
        let show = navigation::page_to_show(&pages, &active);
        if show != active {
            self.open_page(show);
        }
        self.update_view(|view| {
            view.title = title;
            view.pages = pages;
        });
        self.schedule_preview();
        if self.loaded.get() {
            self.list_notebook(None);
        }
    }

    pub(super) fn on_presence_changed(&self) {
        let people = Rc::new(self.room.borrow().people());
        self.update_view(|view| view.people = people);
        self.carets_dirty.set(true);
    }

    /// Tells others where this person's caret is.
    pub(super) fn share_cursor(&self) {
        let selection = self.editor.borrow().as_ref().and_then(|e| e.selection());
        let page = self.active.borrow().clone();
        let (anchor, head) = selection.unwrap_or((0, 0));
        self.room
            .borrow_mut()
            .set_cursor(now(), &page, anchor, head);
        self.pump();
    }

    /// Draws others' carets in the open page where they are now.
    pub(super) fn draw_carets(&self) {
        let page = self.active.borrow().clone();
        let carets: Vec<Caret> = self
            .room
            .borrow()
            .remote_cursors(&page)
            .into_iter()
            .map(|c| Caret {
                client: c.client_id,
                anchor: c.anchor,
                head: c.head,
                name: c.name,
                color: c.color,
            })
            .collect();
        if let Some(editor) = &*self.editor.borrow() {
            editor.set_carets(carets);
        }
    }

    fn schedule_preview(&self) {
        let me = self.me.clone();
        *self.preview_timer.borrow_mut() = Some(Timeout::new(PREVIEW_DELAY_MS, move || {
            if let Some(inner) = me.upgrade() {
                inner.render_preview();
                inner.update_backlinks();
            }
        }));
    }

    /// Renders the open page's markdown into the preview (safe HTML: see `markdown`).
    fn render_preview(&self) {
        let _span = crate::perf::span("preview");
        self.preview_timer.borrow_mut().take();
        let Some(preview) = &*self.preview.borrow() else {
            return;
        };
        let active = self.active.borrow().clone();
        let shown = preview::preview(&self.room.borrow(), &active);
        match shown {
            Preview::Html(html) => super::preview_dom::show_html(preview, &html),
            Preview::TooLarge(notice) => preview.set_text_content(Some(&notice)),
        }
    }

    /// Backlinks read every page: done when a page opens and when typing pauses.
    fn update_backlinks(&self) {
        let _span = crate::perf::span("backlinks");
        let backlinks = {
            let active = self.active.borrow();
            Rc::new(self.room.borrow().backlinks(&active))
        };
        self.update_view(|view| view.backlinks = Some(backlinks));
    }

    /// Changes what the views show, telling them only if something did change.
    pub(super) fn update_view(&self, change: impl FnOnce(&mut NotebookState)) {
        let mut view = self.view.borrow().clone();
        change(&mut view);
        if view != *self.view.borrow() {
            *self.view.borrow_mut() = view.clone();
            (self.on_notebook)(view);
        }
    }
}
