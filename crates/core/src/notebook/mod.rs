//! The notebook's document schema, version 1 (documented in `docs/schema.md`).
//!
//! A notebook is a set of pages, each with a stable id, a title, an order and a markdown body:
//!
//! - root `Y.Map "pages"`: page id → `Y.Map { title: string, order: number, body: Y.Text }`;
//! - the *home* page (id [`HOME`]) is always there: its body is the root `Y.Text "page"` (so a
//!   notebook of schema 0, one page, is a valid notebook of schema 1, and no two peers ever race
//!   to create a first page); its title and order are in the root `Y.Map "home"` (a root type,
//!   so a first rename and a first move made at once both stick). It cannot be deleted;
//! - root `Y.Map "meta"`: `version` = 1 (absent means 1), for later schemas to recognise this one;
//!   `title`: the notebook's name (a string; absent or blank: untitled).
//!
//! Pages sort by `order`, then id. Titles need not be unique: a wiki link opens the first page,
//! in that order, whose title matches ignoring case and surrounding spaces.

use std::rc::Rc;

use yrs::{
    Any, ClientID, Doc, GetString, Map, MapPrelim, MapRef, Number, OffsetKind, Options, Out,
    ReadTxn, Text, TextPrelim, TextRef, TransactionMut,
};

use crate::text::diff::Splice;

pub mod files;
pub mod html_check;
pub mod link;
pub mod markdown;
pub mod qr;
pub mod relink;
mod search;
pub mod tasks;

/// The home page's id, and the root text holding its body.
pub const HOME: &str = "home";
pub const HOME_BODY: &str = "page";
pub const PAGES: &str = "pages";
/// The root map of the home page's title and order.
pub const HOME_FIELDS: &str = "home";
pub const META: &str = "meta";
pub const VERSION: i64 = 1;
/// What an untitled home page is called.
pub const HOME_TITLE: &str = "Home";

const TITLE: &str = "title";
const ORDER: &str = "order";
const BODY: &str = "body";

/// A document configured as every Commonplace peer needs it: offsets count UTF-16 code units,
/// as browsers and Yjs do. Yjs client ids have 53 bits; higher bits are dropped.
pub fn new_doc(client_id: u64) -> Doc {
    Doc::with_options(Options {
        client_id: ClientID::new(client_id & ((1 << 53) - 1)),
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageInfo {
    pub id: String,
    pub title: String,
    pub order: f64,
}

/// Where a search found its text.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    /// UTF-16 offset of the match in the page's body.
    pub index: u32,
    /// The text around the match, on one line.
    pub snippet: String,
}

/// Handles to a notebook's root types.
#[derive(Clone)]
pub struct Notebook {
    pages: MapRef,
    home: TextRef,
    home_fields: MapRef,
    meta: MapRef,
}

impl Notebook {
    pub fn new(doc: &Doc) -> Notebook {
        Notebook {
            pages: doc.get_or_insert_map(PAGES),
            home: doc.get_or_insert_text(HOME_BODY),
            home_fields: doc.get_or_insert_map(HOME_FIELDS),
            meta: doc.get_or_insert_map(META),
        }
    }

    pub fn pages_map(&self) -> &MapRef {
        &self.pages
    }

    pub fn home(&self) -> &TextRef {
        &self.home
    }

    pub fn home_fields(&self) -> &MapRef {
        &self.home_fields
    }

    pub fn meta(&self) -> &MapRef {
        &self.meta
    }

    /// The notebook's name, trimmed; `None` while untitled.
    pub fn title<T: ReadTxn>(&self, txn: &T) -> Option<String> {
        match self.meta.get(txn, TITLE) {
            Some(Out::Any(Any::String(title))) => {
                Some(title.trim().to_owned()).filter(|t| !t.is_empty())
            }
            _ => None,
        }
    }

    /// Names the notebook (trimmed); a blank name makes it untitled again.
    pub fn set_title(&self, txn: &mut TransactionMut, title: &str) {
        let title = title.trim();
        if title.is_empty() {
            self.meta.remove(txn, TITLE);
        } else {
            self.meta.insert(txn, TITLE, title);
        }
    }

    /// Every page, in order; the home page is always among them.
    pub fn pages<T: ReadTxn>(&self, txn: &T) -> Vec<PageInfo> {
        let (title, order) = title_and_order(txn, &self.home_fields);
        let title = if title.is_empty() {
            HOME_TITLE.to_owned()
        } else {
            title
        };
        let mut pages = vec![PageInfo {
            id: HOME.to_owned(),
            title,
            order,
        }];
        for (id, value) in self.pages.iter(txn) {
            let Out::YMap(entry) = value else {
                continue;
            };
            if id != HOME && matches!(entry.get(txn, BODY), Some(Out::YText(_))) {
                let (title, order) = title_and_order(txn, &entry);
                pages.push(PageInfo {
                    id: id.to_owned(),
                    title,
                    order,
                });
            }
        }
        pages.sort_by(|a, b| a.order.total_cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        pages
    }

    pub fn body<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<TextRef> {
        if id == HOME {
            return Some(self.home.clone());
        }
        match self.entry(txn, id)?.get(txn, BODY) {
            Some(Out::YText(body)) => Some(body),
            _ => None,
        }
    }

    pub fn text<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<String> {
        Some(self.body(txn, id)?.get_string(txn))
    }

    pub fn create(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        title: &str,
        order: f64,
        body: &str,
    ) -> TextRef {
        if self.meta.get(txn, "version").is_none() {
            self.meta.insert(txn, "version", VERSION);
        }
        let entry = self.pages.insert(txn, id, MapPrelim::default());
        entry.insert(txn, TITLE, title);
        entry.insert(txn, ORDER, order);
        entry.insert(txn, BODY, TextPrelim::new(body))
    }

    pub fn rename(&self, txn: &mut TransactionMut, id: &str, title: &str) {
        self.set(txn, id, TITLE, Any::from(title));
    }

    /// What renaming page `id` to `title` does to the links that lead to it: each page's
    /// splices ([`relink::rewrite`]), in page order. None when `[[old title]]` does not open
    /// this page (an earlier page has the same title) or `[[title]]` would not once renamed.
    pub fn relinks<T: ReadTxn>(
        &self,
        txn: &T,
        id: &str,
        title: &str,
    ) -> Vec<(String, Vec<Splice>)> {
        let mut pages = self.pages(txn);
        let Some(old) = pages
            .iter()
            .find(|page| page.id == id)
            .map(|p| p.title.clone())
        else {
            return Vec::new();
        };
        let leads_to_page = |pages: &[PageInfo], title: &str| {
            first_titled(pages, title).map(|p| p.id.as_str()) == Some(id)
        };
        if !leads_to_page(&pages, &old) {
            return Vec::new();
        }
        for page in pages.iter_mut().filter(|page| page.id == id) {
            page.title = title.to_owned();
        }
        if !leads_to_page(&pages, title) {
            return Vec::new();
        }
        pages
            .iter()
            .filter_map(|page| {
                let text = self.text(txn, &page.id)?;
                let splices = relink::rewrite(&text, &old, title);
                (!splices.is_empty()).then(|| (page.id.clone(), splices))
            })
            .collect()
    }

    /// Applies splices (UTF-16, one after another) to a page's body, clamped to its text.
    pub fn splice(&self, txn: &mut TransactionMut, id: &str, splices: &[Splice]) {
        let Some(body) = self.body(txn, id) else {
            return;
        };
        for splice in splices {
            splice_text(txn, &body, splice);
        }
    }

    /// The map holding a page's title and order (the home page's is a root map).
    pub fn fields<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<MapRef> {
        if id == HOME {
            return Some(self.home_fields.clone());
        }
        self.entry(txn, id)
    }

    pub fn set_order(&self, txn: &mut TransactionMut, id: &str, order: f64) {
        self.set(txn, id, ORDER, Any::from(order));
    }

    /// Removes a page (not the home page): false if there was none to remove.
    pub fn delete(&self, txn: &mut TransactionMut, id: &str) -> bool {
        id != HOME && self.pages.remove(txn, id).is_some()
    }

    /// The first page, in order, titled `title` (ignoring case and surrounding spaces).
    pub fn find_by_title<T: ReadTxn>(&self, txn: &T, title: &str) -> Option<String> {
        first_titled(&self.pages(txn), title).map(|page| page.id.clone())
    }

    /// The pages whose bodies link to `id` by its title.
    pub fn backlinks<T: ReadTxn>(&self, txn: &T, id: &str) -> Vec<PageInfo> {
        self.backlinks_with(txn, id, |page| {
            link_keys(&self.text(txn, page).unwrap_or_default())
        })
    }

    /// The same, with each page's [`link_keys`] from `links` (given a page id): a cache may
    /// answer, where finding them renders the page.
    pub fn backlinks_with<T: ReadTxn>(
        &self,
        txn: &T,
        id: &str,
        mut links: impl FnMut(&str) -> Rc<[String]>,
    ) -> Vec<PageInfo> {
        let pages = self.pages(txn);
        let Some(target) = pages.iter().find(|page| page.id == id) else {
            return Vec::new();
        };
        let wanted = title_key(&target.title);
        pages
            .iter()
            .filter(|page| page.id != id)
            .filter(|page| links(&page.id).contains(&wanted))
            .cloned()
            .collect()
    }

    /// Pages whose title or body contain `query` (ignoring case), at most `limit` hits, first
    /// title matches, then body matches in page order.
    pub fn search<T: ReadTxn>(&self, txn: &T, query: &str, limit: usize) -> Vec<SearchHit> {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        let pages = self.pages(txn);
        let mut hits: Vec<SearchHit> = pages
            .iter()
            .filter(|page| page.title.to_lowercase().contains(&query))
            .map(|page| SearchHit {
                id: page.id.clone(),
                title: page.title.clone(),
                index: 0,
                snippet: String::new(),
            })
            .collect();
        for page in &pages {
            if hits.len() >= limit {
                break;
            }
            let text = self.text(txn, &page.id).unwrap_or_default();
            if let Some(hit) = search::find_in(&text, &query) {
                if !hits.iter().any(|h| h.id == page.id) {
                    hits.push(SearchHit {
                        id: page.id.clone(),
                        title: page.title.clone(),
                        index: hit.0,
                        snippet: hit.1,
                    });
                }
            }
        }
        hits.truncate(limit);
        hits
    }

    /// The schema version the notebook declares.
    pub fn version<T: ReadTxn>(&self, txn: &T) -> i64 {
        match self.meta.get(txn, "version") {
            Some(Out::Any(Any::Number(n))) => number(n).map_or(VERSION, |n| n as i64),
            _ => VERSION,
        }
    }

    fn entry<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<MapRef> {
        match self.pages.get(txn, id) {
            Some(Out::YMap(entry)) => Some(entry),
            _ => None,
        }
    }

    /// Sets a field of a page's entry (the home page's are in their own root map).
    fn set(&self, txn: &mut TransactionMut, id: &str, key: &str, value: Any) {
        if id == HOME {
            self.home_fields.insert(txn, key, value);
        } else if let Some(entry) = self.entry(txn, id) {
            entry.insert(txn, key, value);
        }
    }
}

/// A page's title and order, whatever a peer wrote there.
fn title_and_order<T: ReadTxn>(txn: &T, fields: &MapRef) -> (String, f64) {
    let title = match fields.get(txn, TITLE) {
        Some(Out::Any(Any::String(title))) => title.to_string(),
        _ => String::new(),
    };
    let order = match fields.get(txn, ORDER) {
        Some(Out::Any(Any::Number(n))) => number(n).unwrap_or(0.0),
        _ => 0.0,
    };
    (title, order)
}

/// A finite number, whichever way the peer encoded it.
/// The page a wiki link to `title` opens: the first, in `pages`' order, whose title matches
/// ignoring case and surrounding spaces.
pub fn first_titled<'a>(pages: &'a [PageInfo], title: &str) -> Option<&'a PageInfo> {
    let wanted = title_key(title);
    pages.iter().find(|page| title_key(&page.title) == wanted)
}

/// Applies one splice (UTF-16 units) to `body`, clamped to its text: where it went, what it
/// deleted and what it inserted, in UTF-16 units.
pub fn splice_text(txn: &mut TransactionMut, body: &TextRef, splice: &Splice) -> (u32, u32, u32) {
    let len = body.len(txn);
    let index = splice.index.min(len);
    let delete = splice.delete.min(len - index);
    if delete > 0 {
        body.remove_range(txn, index, delete);
    }
    if !splice.insert.is_empty() {
        body.insert(txn, index, &splice.insert);
    }
    (index, delete, body.len(txn) - (len - delete))
}

fn number(n: Number) -> Option<f64> {
    match n {
        Number::Int(i) => Some(i as f64),
        Number::Float(f) => f.is_finite().then_some(f),
    }
}

/// The titles a page's markdown links to, as [`title_key`]s.
pub fn link_keys(markdown: &str) -> Rc<[String]> {
    markdown::wiki_links(markdown)
        .iter()
        .map(|link| title_key(link))
        .collect()
}

/// How titles compare: ignoring case and surrounding spaces.
pub fn title_key(title: &str) -> String {
    title.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Text, Transact};

    fn notebook() -> (Doc, Notebook) {
        let doc = new_doc(1);
        let notebook = Notebook::new(&doc);
        (doc, notebook)
    }

    #[test]
    fn a_new_notebook_has_only_the_home_page() {
        let (doc, notebook) = notebook();
        let pages = notebook.pages(&doc.transact());
        assert_eq!(pages.len(), 1);
        assert_eq!(
            (pages[0].id.as_str(), pages[0].title.as_str()),
            (HOME, HOME_TITLE)
        );
    }

    #[test]
    fn pages_sort_by_order_and_home_can_be_renamed_and_moved_but_not_deleted() {
        let (doc, notebook) = notebook();
        let mut txn = doc.transact_mut();
        notebook.create(&mut txn, "b", "Beta", 2.0, "");
        notebook.create(&mut txn, "a", "Alpha", 1.0, "links to [[home]]");
        notebook.rename(&mut txn, HOME, "Start");
        notebook.set_order(&mut txn, HOME, 3.0);
        assert!(!notebook.delete(&mut txn, HOME));
        let titles: Vec<String> = notebook.pages(&txn).into_iter().map(|p| p.title).collect();
        assert_eq!(titles, ["Alpha", "Beta", "Start"]);
        assert!(notebook.delete(&mut txn, "b"));
        assert_eq!(notebook.pages(&txn).len(), 2);
        assert_eq!(notebook.version(&txn), 1);
    }

    #[test]
    fn titles_match_ignoring_case_and_backlinks_follow_them() {
        let (doc, notebook) = notebook();
        let mut txn = doc.transact_mut();
        notebook.create(
            &mut txn,
            "r",
            "Recipes",
            1.0,
            "see [[ home ]] and `[[Bread]]`",
        );
        notebook.create(&mut txn, "b", "Bread", 2.0, "back to [[recipes]]");
        assert_eq!(
            notebook.find_by_title(&txn, " RECIPES ").as_deref(),
            Some("r")
        );
        let back: Vec<String> = notebook
            .backlinks(&txn, "r")
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(back, ["b"]);
        let back: Vec<String> = notebook
            .backlinks(&txn, HOME)
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(back, ["r"]);
        // A link inside code is not a link.
        assert!(notebook.backlinks(&txn, "b").is_empty());
    }

    #[test]
    fn search_finds_titles_then_text_with_utf16_offsets() {
        let (doc, notebook) = notebook();
        let mut txn = doc.transact_mut();
        notebook
            .home()
            .insert(&mut txn, 0, "😀 Die Straße ist nass");
        notebook.create(&mut txn, "s", "Straßen", 1.0, "");
        let hits = notebook.search(&txn, "STRASSE", 10);
        assert!(hits.is_empty(), "ß does not fold to ss: {hits:?}");
        let hits = notebook.search(&txn, "straß", 10);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].id, "s");
        assert_eq!((hits[1].id.as_str(), hits[1].index), (HOME, 7));
        assert_eq!(hits[1].snippet, "😀 Die Straße ist nass");
    }
}
