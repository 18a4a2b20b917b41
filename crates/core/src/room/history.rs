//! The room's version history (issue 15): versions made automatically after a pause in this
//! person's editing and on request, kept in this browser ([`Effect::StoreHistory`], another
//! IndexedDB database) and, in a keyed room whose server keeps stores, in a sealed store of its
//! own on the server ([`Transmit::HistoryStore`], the same machine as the notebook's copy), so a
//! new browser sees it. The document of versions is [`crate::history`]; restoring is an
//! ordinary change of the notebook, undone on the open page as one step.

use std::collections::{BTreeSet, HashMap};

use commonplace_protocol::store_crypto::{StoreKeys, WriterId};
use rand_chacha::rand_core::RngCore;
use rand_chacha::ChaCha20Rng;
use yrs::Transact;

use super::output::{Effect, Event, Transmit};
use super::pages::branch;
use super::server_store::{ServerCopy, ServerStore, StoreReply};
use super::Room;
use crate::history::{self, History, NewVersion, NotebookNow, Version};
use crate::notebook::{PageInfo, HOME};
use crate::text::line_diff::{self, DiffLine};

/// When versions are made automatically: once this person has paused editing this long…
pub const AUTO_PAUSE_MS: u64 = 30_000;
/// …and at most this often.
pub const AUTO_EVERY_MS: u64 = 5 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionTiming {
    pub pause_ms: u64,
    pub every_ms: u64,
}

impl Default for VersionTiming {
    fn default() -> Self {
        VersionTiming {
            pause_ms: AUTO_PAUSE_MS,
            every_ms: AUTO_EVERY_MS,
        }
    }
}

impl VersionTiming {
    /// `"PAUSE_MS,EVERY_MS"`, as a test or a person setting it by hand writes it; `None` for
    /// anything else.
    pub fn parse(text: &str) -> Option<VersionTiming> {
        let (pause, every) = text.split_once(',')?;
        Some(VersionTiming {
            pause_ms: pause.trim().parse().ok()?,
            every_ms: every.trim().parse().ok()?,
        })
    }
}

/// A version as the History panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionEntry {
    pub id: String,
    pub at: u64,
    pub name: Option<String>,
    /// Who edited since the version before it, by the names they had.
    pub authors: Vec<String>,
    pub pages: usize,
}

/// A line of a page then, against now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedLine {
    Same(String),
    /// In the version, not now.
    Removed(String),
    /// Now, not in the version.
    Added(String),
}

/// One page of a version, compared with the notebook now.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionView {
    /// The page's title then; `None` if the page did not exist then.
    pub title: Option<String>,
    /// Its text then, line by line against now; `None` if the version's text was not kept.
    pub lines: Option<Vec<ChangedLine>>,
    /// Titles of pages there now and not then, and the other way round.
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The room's part: the history document and what keeps it.
pub(super) struct Versions {
    history: History,
    /// The browser's copy has been read: versions can be made (never before, or a version
    /// would not know the one before it).
    loaded: bool,
    timing: VersionTiming,
    /// This person's last change since the last version.
    changed: Option<u64>,
    last_made: u64,
    server: Option<ServerStore>,
    unopened: Option<(StoreKeys, ChaCha20Rng)>,
    ids: ChaCha20Rng,
}

impl Versions {
    pub fn new(client_id: u64, keys: Option<(StoreKeys, ChaCha20Rng)>, ids: ChaCha20Rng) -> Self {
        Versions {
            history: History::new(client_id),
            loaded: false,
            timing: VersionTiming::default(),
            changed: None,
            last_made: 0,
            server: None,
            unopened: keys,
            ids,
        }
    }

    /// When an automatic version is due.
    pub fn poll_timeout(&self) -> Option<u64> {
        let due = self.auto_due();
        let store = self.server.as_ref().and_then(ServerStore::poll_timeout);
        due.into_iter().chain(store).min()
    }

    fn auto_due(&self) -> Option<u64> {
        let last = self.changed.filter(|_| self.loaded)?;
        Some((last + self.timing.pause_ms).max(self.last_made + self.timing.every_ms))
    }
}

impl Room {
    /// For tests and the shell's settings: when automatic versions are made.
    pub fn set_version_timing(&mut self, timing: VersionTiming) {
        self.versions.timing = timing;
    }

    /// This browser's copy of the history, read (each record a Yjs update): from now on versions
    /// are made. Old versions are thinned.
    pub fn load_history(&mut self, now: u64, records: &[Vec<u8>]) {
        self.set_time(now);
        for record in records {
            if let Err(why) = self.versions.history.apply(record) {
                self.out.dropped(format!("a stored version record: {why}"));
            }
        }
        self.versions.loaded = true;
        self.versions.last_made = self.versions.history.newest().map_or(0, |v| v.at.min(now));
        self.thin_history(now);
        self.out.event(Event::HistoryChanged);
    }

    pub fn history_loaded(&self) -> bool {
        self.versions.loaded
    }

    /// The whole history as one update (to compact this browser's copy).
    pub fn history_state(&self) -> Vec<u8> {
        self.versions.history.encode()
    }

    /// Keeps the history in the server's store too (a keyed room whose server keeps stores),
    /// once this browser's copy is read. `writer` names this session's records.
    pub fn open_history_store(&mut self, now: u64, writer: WriterId) {
        self.set_time(now);
        // Removed with the notebook's copy: the history is not put back either.
        if self.status().server_copy == ServerCopy::Removed {
            self.versions.unopened = None;
        }
        let Some((keys, mut nonces)) = self.versions.unopened.take() else {
            return;
        };
        self.versions.server = Some(ServerStore::new(keys, writer, move || {
            let mut nonce = [0; 12];
            nonces.fill_bytes(&mut nonce);
            nonce
        }));
    }

    /// The store id and write token of the history's store; `None` while it is not kept there.
    pub fn history_store_keys(&self) -> Option<&StoreKeys> {
        self.versions.server.as_ref().map(ServerStore::keys)
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Vec<VersionEntry> {
        let people = self.people();
        let history = &self.versions.history;
        history
            .versions()
            .into_iter()
            .map(|version| {
                let authors: BTreeSet<String> = version
                    .authors
                    .iter()
                    .map(|&client| {
                        history
                            .name(client)
                            .or_else(|| {
                                people
                                    .iter()
                                    .find(|p| p.client_id == client)
                                    .map(|p| p.name.clone())
                            })
                            .filter(|name| !name.is_empty())
                            .unwrap_or_else(|| "Someone".to_owned())
                    })
                    .collect();
                VersionEntry {
                    pages: version.pages.len(),
                    id: version.id,
                    at: version.at,
                    name: version.name,
                    authors: authors.into_iter().collect(),
                }
            })
            .collect()
    }

    /// The person saves a version now, with a name or without: its id, or `None` while the
    /// history is not yet read.
    pub fn save_version(&mut self, now: u64, name: Option<&str>) -> Option<String> {
        self.set_time(now);
        self.make_version(now, name)
    }

    /// Page `page` as version `id` held it, against the notebook now.
    pub fn version_view(&self, id: &str, page: &str) -> Option<VersionView> {
        let version = self.versions.history.version(id)?;
        let txn = self.doc().transact();
        let notebook = self.pages.notebook();
        let now_pages = notebook.pages(&txn);
        let then = version.pages.iter().find(|p| p.id == page);
        let lines = then
            .and_then(|then| self.versions.history.text(then))
            .map(|old| {
                let now = notebook.text(&txn, page).unwrap_or_default();
                line_diff::lines(&old, &now)
                    .into_iter()
                    .map(|line| match line {
                        DiffLine::Same(l) => ChangedLine::Same(l.to_owned()),
                        DiffLine::Removed(l) => ChangedLine::Removed(l.to_owned()),
                        DiffLine::Added(l) => ChangedLine::Added(l.to_owned()),
                    })
                    .collect()
            });
        Some(VersionView {
            title: then.map(|p| p.title.clone()),
            lines,
            added: now_pages
                .iter()
                .filter(|p| !version.pages.iter().any(|v| v.id == p.id))
                .map(|p| p.title.clone())
                .collect(),
            removed: version
                .pages
                .iter()
                .filter(|v| !now_pages.iter().any(|p| p.id == v.id))
                .map(|v| v.title.clone())
                .collect(),
        })
    }

    /// Restores page `page` as version `id` held it (its text; a page deleted since comes back,
    /// titled as it was), as a change of this person's made while `open` is open: undo there
    /// takes it back.
    /// False if the version or its text is gone.
    pub fn restore_page(&mut self, now: u64, id: &str, page: &str, open: &str) -> bool {
        let Some(version) = self.versions.history.version(id) else {
            return false;
        };
        self.restore(now, &version, Some(page), open)
    }

    /// Restores the whole notebook as version `id` held it: every page's title, order and text,
    /// pages deleted since back, pages added since deleted, the notebook's title. Returns the
    /// page to show after it: `open`, or the home page if `open` was added since (and so is
    /// gone); one step of that page's undo takes the restore back. `None` if the version or a
    /// text of it is gone.
    pub fn restore_notebook(&mut self, now: u64, id: &str, open: &str) -> Option<String> {
        let version = self.versions.history.version(id)?;
        let stays = open == HOME || version.pages.iter().any(|p| p.id == open);
        let shown = if stays { open } else { HOME };
        self.restore(now, &version, None, shown)
            .then(|| shown.to_owned())
    }

    fn restore(&mut self, now: u64, version: &Version, only: Option<&str>, open: &str) -> bool {
        // Every text first: a version whose text was not kept restores nothing.
        let mut pages = Vec::new();
        for page in &version.pages {
            if only.is_some_and(|only| only != page.id) {
                continue;
            }
            let Some(text) = self.versions.history.text(page) else {
                self.out.dropped(format!(
                    "version {}: a page's text was not kept",
                    version.id
                ));
                return false;
            };
            pages.push((page.clone(), text));
        }
        if pages.is_empty() {
            return false;
        }
        let (scope, gone) = {
            let txn = self.doc().transact();
            let notebook = self.pages.notebook();
            let mut scope = vec![
                branch(notebook.pages_map()),
                branch(notebook.home()),
                branch(notebook.home_fields()),
            ];
            if only.is_none() {
                scope.push(branch(notebook.meta()));
            }
            let gone: Vec<String> = match only {
                Some(_) => Vec::new(),
                None => notebook
                    .pages(&txn)
                    .into_iter()
                    .filter(|p| !version.pages.iter().any(|v| v.id == p.id))
                    .map(|p| p.id)
                    .collect(),
            };
            (scope, gone)
        };
        let title = version.title.clone();
        let whole = only.is_none();
        let listed: HashMap<String, PageInfo> = self
            .pages()
            .into_iter()
            .map(|page| (page.id.clone(), page))
            .collect();
        self.commit_from_page(now, open, &scope, |notebook, txn| {
            for (page, text) in &pages {
                match notebook.text(txn, &page.id) {
                    Some(current) => {
                        notebook.splice(txn, &page.id, &line_diff::splices_to(&current, text));
                        // A page alone keeps its title: the links to it in other pages, rewritten
                        // when it was renamed, keep leading to it. The whole notebook comes
                        // back with its links as they were, so with its titles too.
                        let info = listed.get(&page.id).filter(|_| whole);
                        if info.is_some_and(|p| p.title != page.title) {
                            notebook.rename(txn, &page.id, &page.title);
                        }
                        if info.is_some_and(|p| p.order != page.order) {
                            notebook.set_order(txn, &page.id, page.order);
                        }
                    }
                    None if page.id != HOME => {
                        notebook.create(txn, &page.id, &page.title, page.order, text);
                    }
                    None => {}
                }
            }
            for id in &gone {
                notebook.delete(txn, id);
            }
            if whole {
                notebook.set_title(txn, title.as_deref().unwrap_or(""));
            }
        });
        true
    }

    /// This person changed the notebook: an automatic version will follow a pause.
    pub(super) fn note_change_for_history(&mut self, now: u64) {
        self.versions.changed = Some(now);
    }

    /// Makes the automatic version when one is due.
    pub(super) fn on_history_timeout(&mut self) {
        let now = self.now;
        if self.versions.auto_due().is_some_and(|due| due <= now) {
            self.make_version(now, None);
        }
    }

    fn make_version(&mut self, now: u64, name: Option<&str>) -> Option<String> {
        if !self.versions.loaded {
            return None;
        }
        let state = {
            let txn = self.doc().transact();
            let notebook = self.pages.notebook();
            NotebookNow {
                title: notebook.title(&txn),
                pages: notebook
                    .pages(&txn)
                    .into_iter()
                    .map(|page| {
                        let text = notebook.text(&txn, &page.id).unwrap_or_default();
                        (page, text)
                    })
                    .collect(),
                state: history::state_vector(&txn),
            }
        };
        self.versions.changed = None;
        self.versions.last_made = now;
        // An automatic version of what the newest already holds says nothing new.
        if name.is_none() && self.versions.history.unchanged_since_newest(&state) {
            return None;
        }
        let authors = self.versions.history.editors_since_newest(&state.state);
        let people = self.people();
        let names: Vec<(u64, String)> = authors
            .iter()
            .filter_map(|&client| {
                let person = people.iter().find(|p| p.client_id == client)?;
                Some((client, person.name.clone())).filter(|(_, name)| !name.is_empty())
            })
            .collect();
        let id = super::random_id(&mut self.versions.ids);
        let update = self.versions.history.record(
            NewVersion {
                id: &id,
                at: now,
                name,
                authors: &authors,
                names: &names,
            },
            &state,
        );
        self.keep_history_update(update);
        self.thin_history(now);
        self.out.event(Event::HistoryChanged);
        Some(id)
    }

    fn thin_history(&mut self, now: u64) {
        if let Some(update) = self.versions.history.thin(now) {
            self.keep_history_update(update);
        }
    }

    /// A change of the history's, for this browser's copy and the server's.
    fn keep_history_update(&mut self, update: Vec<u8>) {
        if let Some(store) = &mut self.versions.server {
            store.on_local_update(self.now, update.clone());
        }
        self.out.effect(Effect::StoreHistory(update));
    }

    /// The server's copy is removed: the history's goes with it.
    pub(super) fn remove_history_store(&mut self) {
        self.versions.unopened = None;
        if let Some(store) = &mut self.versions.server {
            let request = store.delete_request();
            self.out.transmit(Transmit::HistoryStore(request));
        }
    }

    /// The history store's next request, when one is due.
    pub(super) fn flush_history_store(&mut self) {
        let Some(store) = &mut self.versions.server else {
            return;
        };
        if let Some(request) = store.poll_request(self.now, self.versions.history.doc()) {
            self.out.transmit(Transmit::HistoryStore(request));
        }
    }

    pub(super) fn history_store_online(&mut self, now: u64) {
        if let Some(store) = &mut self.versions.server {
            store.on_online(now);
        }
    }

    pub(super) fn on_history_store_reply(&mut self, reply: StoreReply) {
        let Some(store) = &mut self.versions.server else {
            return self
                .out
                .dropped("a history store reply, but no history store is open".into());
        };
        let applied = store.on_reply(self.now, reply);
        for why in applied.dropped {
            self.out.dropped(format!("history store: {why}"));
        }
        if applied.updates.is_empty() {
            return;
        }
        for update in applied.updates {
            match self.versions.history.apply(&update) {
                Ok(()) => self.out.effect(Effect::StoreHistory(update)),
                Err(why) => self.out.dropped(format!("history store: {why}")),
            }
        }
        self.out.event(Event::HistoryChanged);
    }
}

#[cfg(test)]
mod tests;
