//! The notebook side of a room: its pages, their text, and undo/redo of this person's edits.
//!
//! Every change this peer makes goes through [`Room::commit`]: one transaction, one update sent
//! to peers and tabs and handed to the store. Observers on the notebook note what any
//! transaction changed ([`Changes`]), and the room reports it once the transaction is over:
//! [`Output::PagesChanged`] for the list, [`Output::PageChanged`] with splices for text the
//! editor does not already show (everything but the person's own typing).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use yrs::branch::BranchPtr;
use yrs::types::text::TextEvent;
use yrs::types::{Delta, Event as YEvent, PathSegment};
use yrs::undo::{Options as UndoOptions, UndoManager};
use yrs::{Any, DeepObservable, Doc, Observable, Origin, Out, TextRef, Transact, TransactionMut};

use super::rename_repair::OwnRenames;
use super::{Effect, Event, Room, EMPTY_UPDATE, LOCAL, REMOTE, STORED};
use crate::notebook::{link_keys, splice_text, Notebook, PageInfo, SearchHit, HOME};
use crate::peer_message;
use crate::text::diff::Splice;

/// Edits closer together than this undo as one step, as in Yjs.
const UNDO_CAPTURE_MS: u64 = 500;
const OBSERVER: &str = "room";
/// Origin of a Yjs update imported from a file.
const IMPORTED: &str = "imported";
/// Origins of changes across pages (renames, restores), followed by the id of the page whose
/// undo takes them back.
const FROM_PAGE: &str = "from-page:";
/// Origin of this peer taking its title out of links after a concurrent rename won
/// ([`super::rename_repair`]): no undo captures it.
pub(super) const REPAIR: &str = "repair-rename";

/// The notebook's state in the room: its schema, what changed, and undo.
pub(super) struct Pages {
    notebook: Notebook,
    /// What transactions changed, filled by the notebook's observers during a commit.
    changes: Rc<RefCell<Changes>>,
    /// Each page's [`crate::notebook::link_keys`], found once (they cost a render of the
    /// page) and forgotten when its text changes, or all of them when the list does: backlinks
    /// are read on every page opened and every pause in typing.
    links: Links,
    /// Undo and redo of this person's edits, per page (created on a page's first edit).
    undo: HashMap<String, UndoManager<()>>,
    /// Draws page ids.
    rng: ChaCha20Rng,
    /// This person's recent renames, in case a concurrent one wins.
    pub(super) own_renames: OwnRenames,
}

impl Pages {
    pub fn new(doc: &Doc, rng: ChaCha20Rng) -> Pages {
        let notebook = Notebook::new(doc);
        let links = Links::default();
        let changes = observe(doc, &notebook, &links);
        Pages {
            notebook,
            changes,
            links,
            undo: HashMap::new(),
            rng,
            own_renames: OwnRenames::default(),
        }
    }

    pub fn notebook(&self) -> &Notebook {
        &self.notebook
    }
}

type Links = Rc<RefCell<HashMap<String, Rc<[String]>>>>;

/// What the transactions since the last report changed.
#[derive(Default)]
struct Changes {
    pages: bool,
    splices: Vec<(String, Vec<Splice>)>,
    /// Updates made by undo and redo, which run their own transactions.
    undo_updates: Vec<Vec<u8>>,
}

impl Changes {
    fn add_splices(&mut self, page: &str, splices: Vec<Splice>) {
        match self.splices.last_mut() {
            Some((last, earlier)) if last == page => earlier.extend(splices),
            _ => self.splices.push((page.to_owned(), splices)),
        }
    }
}

/// Watches the notebook for changes to report.
fn observe(doc: &Doc, notebook: &Notebook, links: &Links) -> Rc<RefCell<Changes>> {
    let changes = Rc::new(RefCell::new(Changes::default()));
    let sink = changes.clone();
    let stale = links.clone();
    notebook.home().observe(OBSERVER, move |txn, event| {
        stale.borrow_mut().remove(HOME);
        if !is_local(txn) {
            sink.borrow_mut().add_splices(HOME, splices(txn, event));
        }
    });
    let sink = changes.clone();
    notebook
        .home_fields()
        .observe(OBSERVER, move |_, _| sink.borrow_mut().pages = true);
    // The notebook's title is reported with the page list.
    let sink = changes.clone();
    notebook
        .meta()
        .observe(OBSERVER, move |_, _| sink.borrow_mut().pages = true);
    let sink = changes.clone();
    let stale = links.clone();
    notebook
        .pages_map()
        .observe_deep(OBSERVER, move |txn, events| {
            let mut changes = sink.borrow_mut();
            let mut stale = stale.borrow_mut();
            for event in events.iter() {
                match (event, event.path().front()) {
                    (YEvent::Text(_), Some(PathSegment::Key(page))) => {
                        stale.remove(page.as_ref());
                    }
                    // Pages came or went (or a body was replaced): forget them all.
                    _ => stale.clear(),
                }
                match event {
                    YEvent::Text(text) if !is_local(txn) => {
                        if let Some(PathSegment::Key(page)) = text.path().front() {
                            changes.add_splices(page, splices(txn, text));
                        }
                    }
                    YEvent::Text(_) => {}
                    _ => changes.pages = true,
                }
            }
        });
    let sink = changes.clone();
    // At cleanup, not with `observe_update_v1`: yrs encodes every transaction's update for
    // that observer (each keystroke a second time, a late joiner's 10 MB once more), and only
    // undo's are wanted.
    let _ = doc.observe_transaction_cleanup(OBSERVER, move |txn, event| {
        let ours = [LOCAL, REMOTE, STORED, IMPORTED, REPAIR].map(Origin::from);
        let ours = |origin: &Origin| {
            ours.contains(origin) || origin.as_ref().starts_with(FROM_PAGE.as_bytes())
        };
        if super::state_log::changed(event) && !txn.origin().is_some_and(ours) {
            sink.borrow_mut().undo_updates.push(txn.encode_update_v1());
        }
    });
    changes
}

fn is_local(txn: &TransactionMut) -> bool {
    txn.origin() == Some(&Origin::from(LOCAL))
}

impl Room {
    /// Every page, in order.
    pub fn pages(&self) -> Vec<PageInfo> {
        self.pages.notebook.pages(&self.doc().transact())
    }

    /// The notebook's name; `None` while untitled.
    pub fn notebook_title(&self) -> Option<String> {
        self.pages.notebook.title(&self.doc().transact())
    }

    /// Names the notebook, for everyone (blank: untitled).
    pub fn rename_notebook(&mut self, now: u64, title: &str) {
        self.commit(now, |notebook, txn| notebook.set_title(txn, title));
    }

    /// A page's text, or `None` if there is no such page.
    pub fn page_text(&self, page: &str) -> Option<String> {
        self.pages.notebook.text(&self.doc().transact(), page)
    }

    /// The home page's text.
    pub fn text(&self) -> String {
        self.page_text(HOME).unwrap_or_default()
    }

    /// The first page titled `title`, ignoring case.
    pub fn find_page(&self, title: &str) -> Option<String> {
        self.pages
            .notebook
            .find_by_title(&self.doc().transact(), title)
    }

    pub fn backlinks(&self, page: &str) -> Vec<PageInfo> {
        let txn = self.doc().transact();
        let notebook = &self.pages.notebook;
        notebook.backlinks_with(&txn, page, |id| {
            let known = self.pages.links.borrow().get(id).cloned();
            known.unwrap_or_else(|| {
                let keys = link_keys(&notebook.text(&txn, id).unwrap_or_default());
                self.pages
                    .links
                    .borrow_mut()
                    .insert(id.to_owned(), keys.clone());
                keys
            })
        })
    }

    /// Finds the wiki links of at most `budget` pages whose links are not kept yet, so that a
    /// notebook just loaded can have them read in short steps rather than in one long
    /// [`Room::backlinks`] (every page's text: 1 MB in a notebook of 500 pages). Returns whether
    /// every page's links are kept now.
    pub fn keep_links(&self, budget: usize) -> bool {
        let txn = self.doc().transact();
        let notebook = &self.pages.notebook;
        let mut read = 0;
        for page in notebook.pages(&txn) {
            if self.pages.links.borrow().contains_key(&page.id) {
                continue;
            }
            if read == budget {
                return false;
            }
            let keys = link_keys(&notebook.text(&txn, &page.id).unwrap_or_default());
            self.pages.links.borrow_mut().insert(page.id, keys);
            read += 1;
        }
        true
    }

    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        self.pages
            .notebook
            .search(&self.doc().transact(), query, limit)
    }

    /// The person edited a page: applies the splices in one transaction. Edits of a page that
    /// is gone (a peer deleted it a moment ago) are dropped.
    /// With `selection` (anchor, head: the caret and selection after the edit), this person's
    /// cursor moves with it: one call per input event.
    pub fn edit(
        &mut self,
        now: u64,
        page: &str,
        splices: &[Splice],
        selection: Option<(u32, u32)>,
    ) {
        let Some(body) = self.pages.notebook.body(&self.doc().transact(), page) else {
            return self
                .out
                .dropped(format!("edit of page {page}, which is gone"));
        };
        self.set_time(now);
        self.track_undo(page, &body);
        // What each splice did, clamped to the text: (index, deleted, inserted) in UTF-16 units.
        let mut applied = Vec::with_capacity(splices.len());
        self.commit(now, |_, txn| {
            for splice in splices {
                applied.push(splice_text(txn, &body, splice));
            }
        });
        if let Some((anchor, head)) = selection {
            // Typing moves the caret with the text: its relative positions stay as they were,
            // and finding them again would walk the page's blocks twice per keystroke.
            if !self.presence.cursor_follows(page, &applied, anchor, head) {
                self.set_cursor(now, page, anchor, head);
            }
        }
    }

    /// Adds a page at the end and returns its id.
    pub fn create_page(&mut self, now: u64, title: &str, body: &str) -> String {
        self.import_pages(now, &[(title, body)]).remove(0)
    }

    /// Adds pages at the end, in one transaction, and returns their ids.
    pub fn import_pages(&mut self, now: u64, pages: &[(&str, &str)]) -> Vec<String> {
        let last = self.pages().last().map_or(0.0, |page| page.order);
        let ids: Vec<String> = pages
            .iter()
            .map(|_| super::random_id(&mut self.pages.rng))
            .collect();
        self.commit(now, |notebook, txn| {
            for (i, ((title, body), id)) in pages.iter().zip(&ids).enumerate() {
                notebook.create(txn, id, title, last + 1.0 + i as f64, body);
            }
        });
        ids
    }

    /// Renames a page, and rewrites the wiki links that lead to it in every page so they
    /// still do (`Notebook::relinks`), in one transaction. Undo on the page renamed takes it
    /// all back as one step.
    pub fn rename_page(&mut self, now: u64, page: &str, title: &str) {
        self.rename_page_from(now, page, title, page);
    }

    /// The same, done while `open` is the page the person has open: undo there takes the
    /// rename back, title and links together. Renaming rewrites other pages (and maybe the
    /// open one), so unlike typing it is reported to this person's editor as others' changes
    /// are.
    pub fn rename_page_from(&mut self, now: u64, page: &str, title: &str, open: &str) {
        let (relinks, scope) = {
            let txn = self.doc().transact();
            let notebook = &self.pages.notebook;
            let relinks = notebook.relinks(&txn, page, title);
            let Some(fields) = notebook.fields(&txn, page) else {
                return;
            };
            let mut scope = vec![branch(&fields)];
            scope.extend(
                relinks
                    .iter()
                    .filter_map(|(id, _)| notebook.body(&txn, id))
                    .map(|body| branch(&body)),
            );
            (relinks, scope)
        };
        self.commit_from_page(now, open, &scope, |notebook, txn| {
            for (id, splices) in &relinks {
                notebook.splice(txn, id, splices);
            }
            notebook.rename(txn, page, title);
        });
        self.remember_rename(page, title, &relinks);
    }

    /// A change across pages (a rename and its links, a restore) made while `open` is the page
    /// the person has open: undo there takes it back as one step of its own, not merged with
    /// typing just before or after. `scope`: the types it changes. It is reported to this
    /// person's editor as others' changes are, since it may change the open page too.
    pub(super) fn commit_from_page(
        &mut self,
        now: u64,
        open: &str,
        scope: &[BranchPtr],
        change: impl FnOnce(&Notebook, &mut TransactionMut),
    ) {
        self.set_time(now);
        let open_body = self.pages.notebook.body(&self.doc().transact(), open);
        if let Some(open_body) = open_body {
            self.track_undo(open, &open_body);
            if let Some(manager) = self.pages.undo.get_mut(open) {
                for branch in scope {
                    manager.expand_scope(self.awareness.doc(), branch);
                }
                manager.reset();
            }
        }
        let origin = format!("{FROM_PAGE}{open}");
        self.commit_with(now, origin.as_str(), change);
        if let Some(manager) = self.pages.undo.get_mut(open) {
            manager.reset();
        }
    }

    /// Deletes a page (never the home page): false if there was none to delete.
    pub fn delete_page(&mut self, now: u64, page: &str) -> bool {
        let mut deleted = false;
        self.commit(now, |notebook, txn| deleted = notebook.delete(txn, page));
        if deleted {
            self.pages.undo.remove(page);
        }
        deleted
    }

    /// Moves a page to position `to` in the list.
    pub fn move_page(&mut self, now: u64, page: &str, to: usize) {
        let mut others = self.pages();
        let Some(from) = others.iter().position(|p| p.id == page) else {
            return;
        };
        others.remove(from);
        let to = to.min(others.len());
        let before = to.checked_sub(1).map(|i| others[i].order);
        let after = others.get(to).map(|p| p.order);
        let order = match (before, after) {
            (Some(a), Some(b)) => a + (b - a) / 2.0,
            (Some(a), None) => a + 1.0,
            (None, Some(b)) => b - 1.0,
            (None, None) => 0.0,
        };
        let squeezed = before == Some(order) || after == Some(order);
        self.commit(now, |notebook, txn| {
            if squeezed {
                // Out of room between the neighbours: number every page afresh.
                others.insert(
                    to,
                    PageInfo {
                        id: page.to_owned(),
                        title: String::new(),
                        order,
                    },
                );
                for (i, p) in others.iter().enumerate() {
                    notebook.set_order(txn, &p.id, i as f64);
                }
            } else {
                notebook.set_order(txn, page, order);
            }
        });
    }

    /// Undoes this person's last edit of `page` (never a peer's): false if there was none.
    pub fn undo(&mut self, now: u64, page: &str) -> bool {
        self.undo_or_redo(now, page, true)
    }

    pub fn redo(&mut self, now: u64, page: &str) -> bool {
        self.undo_or_redo(now, page, false)
    }

    /// Merges a Yjs update (an exported notebook) into this one, as if a peer had sent it.
    pub fn import_update(&mut self, now: u64, bytes: &[u8]) -> Result<(), String> {
        self.set_time(now);
        let update =
            peer_message::decode_update(bytes).map_err(|e| format!("not a Yjs update: {e}"))?;
        let mark = self.log.mark_before(bytes.len());
        let result = {
            let mut txn = self.doc().transact_mut_with(IMPORTED);
            let applied = txn.apply_update(update);
            peer_message::drop_unreadable_pending(&mut txn);
            applied.map(|()| txn.encode_update_v1())
        };
        self.take_changes();
        let update = match result {
            Ok(update) => update,
            Err(error) => {
                self.log.distrust();
                return Err(format!("cannot apply the update: {error}"));
            }
        };
        self.log.log_since(mark, &[&update]);
        self.send_update(update);
        Ok(())
    }

    /// Runs one local transaction, then reports and sends what it changed.
    pub(super) fn commit(&mut self, now: u64, change: impl FnOnce(&Notebook, &mut TransactionMut)) {
        self.commit_with(now, LOCAL, change);
    }

    /// The same with another origin than the person's typing: its text changes are reported
    /// to the editor, and only the undo that tracks that origin captures it.
    pub(super) fn commit_with(
        &mut self,
        now: u64,
        origin: &str,
        change: impl FnOnce(&Notebook, &mut TransactionMut),
    ) {
        self.set_time(now);
        let mark = self.log.mark();
        let update = {
            let mut txn = self.awareness.doc().transact_mut_with(origin);
            change(&self.pages.notebook, &mut txn);
            txn.encode_update_v1()
        };
        self.take_changes();
        self.log.log_since(mark, &[&update]);
        self.send_update(update);
    }

    /// Sends a new update of ours to everyone and has it stored.
    fn send_update(&mut self, update: Vec<u8>) {
        if update != EMPTY_UPDATE {
            self.note_change_for_history(self.now);
            self.broadcast_update(&update, None);
            self.store_local(&update);
            self.out.effect(Effect::Store(update));
        }
    }

    /// Reports what the last transactions changed, and sends what undo or redo did (returned,
    /// for the state log).
    pub(super) fn take_changes(&mut self) -> Vec<Vec<u8>> {
        let changes = std::mem::take(&mut *self.pages.changes.borrow_mut());
        if changes.pages || !changes.splices.is_empty() {
            // Others' changes (or undo's) move text under the cursor by what only a lookup says.
            self.presence.forget_cursor_offsets();
        }
        if changes.pages {
            self.out.event(Event::PagesChanged);
            self.pages.own_renames.titles_may_have_changed(self.now);
        }
        for (page, splices) in changes.splices {
            self.out.event(Event::PageChanged { page, splices });
        }
        for update in &changes.undo_updates {
            self.send_update(update.clone());
        }
        changes.undo_updates
    }

    fn undo_or_redo(&mut self, now: u64, page: &str, undo: bool) -> bool {
        self.set_time(now);
        let Some(manager) = self.pages.undo.get_mut(page) else {
            return false;
        };
        let mark = self.log.mark();
        let changed = if undo {
            manager.undo_blocking()
        } else {
            manager.redo_blocking()
        };
        let updates = self.take_changes();
        self.log.log_since(mark, &updates);
        changed
    }

    fn track_undo(&mut self, page: &str, body: &TextRef) {
        if self.pages.undo.contains_key(page) {
            return;
        }
        let clock = self.clock.clone();
        let own_body = branch(body);
        let local = Origin::from(LOCAL);
        let mut manager = UndoManager::with_options(UndoOptions {
            capture_timeout_millis: UNDO_CAPTURE_MS,
            tracked_origins: HashSet::from([
                local.clone(),
                Origin::from(format!("{FROM_PAGE}{page}")),
            ]),
            // A change across pages done here widens the scope to other pages' text: typing there is still
            // theirs to undo, not this page's.
            capture_transaction: Some(Arc::new(move |txn: &TransactionMut| {
                txn.origin() != Some(&local) || txn.changed_parent_types().contains(&own_body)
            })),
            timestamp: Arc::new(move || clock.load(Ordering::Relaxed)),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        manager.expand_scope(self.awareness.doc(), body);
        self.pages.undo.insert(page.to_owned(), manager);
    }
}

/// A shared type as undo's scope takes it.
pub(super) fn branch<T: AsRef<yrs::branch::Branch>>(shared: &T) -> BranchPtr {
    BranchPtr::from(shared.as_ref())
}

/// A text event as splices in UTF-16 units, applied one after another.
fn splices(txn: &TransactionMut, event: &TextEvent) -> Vec<Splice> {
    let mut index = 0u32;
    let mut out = Vec::new();
    for delta in event.delta(txn) {
        match delta {
            Delta::Retain(n, _) => index += n,
            Delta::Deleted(n) => out.push(Splice {
                index,
                delete: *n,
                insert: String::new(),
            }),
            Delta::Inserted(value, _) => {
                // An embed from a Yjs peer occupies one position; show it as U+FFFC so the
                // editor's offsets stay aligned with the page.
                let insert = match value {
                    Out::Any(Any::String(s)) => s.to_string(),
                    _ => "\u{FFFC}".to_owned(),
                };
                let len = crate::text::utf16::len(&insert) as u32;
                out.push(Splice {
                    index,
                    delete: 0,
                    insert,
                });
                index += len;
            }
        }
    }
    out
}
