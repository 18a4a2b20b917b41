//! The notebook's version history (issue 15), kept as a Yjs document of its own beside the
//! notebook's (`docs/history.md`):
//!
//! - root `Y.Map "versions"`: version id → `{ at, name?, title?, pages: [[id, title, order,
//!   text]], authors: [client id], state: state vector }`, where `text` names an entry of
//! - root `Y.Map "texts"`: a page text's SHA-256 (base64url, 128 bits) → the text, so a page
//!   unchanged between versions is kept once;
//! - root `Y.Map "names"`: client id → the name that person had in presence when a version
//!   listed them.
//!
//! Why a document: it is stored and carried as the notebook is (IndexedDB in y-indexeddb's
//! layout, the server's sealed store), versions made by several browsers merge without any of
//! them coordinating, and thinning is deleting entries — with garbage collection on, what is
//! deleted goes. Why beside the notebook and not in it: peers never send it when someone joins
//! (a late joiner's wait stays the notebook's size), and a stock Yjs peer never sees it. Why
//! texts and not Yjs snapshots: a snapshot needs garbage collection off, forever, for
//! everyone.

pub mod thinning;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};
use yrs::updates::encoder::Encode;
use yrs::{Any, Doc, Map, MapRef, Number, Out, ReadTxn, StateVector, Transact};

use crate::notebook::PageInfo;
use thinning::Aged;

const VERSIONS: &str = "versions";
const TEXTS: &str = "texts";
const NAMES: &str = "names";

/// A page as a version holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPage {
    pub id: String,
    pub title: String,
    pub order: f64,
    /// The key of its text in `texts`.
    pub text: String,
}

/// One version, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub id: String,
    /// When it was made, ms since the epoch.
    pub at: u64,
    /// Given by whoever saved it; automatic versions have none.
    pub name: Option<String>,
    /// The notebook's title then.
    pub title: Option<String>,
    pub pages: Vec<VersionPage>,
    /// The Yjs client ids whose changes it was the first version to include.
    pub authors: Vec<u64>,
    /// The notebook's state vector then (v1-encoded).
    pub state: Vec<u8>,
}

/// The notebook as a version records it.
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookNow {
    pub title: Option<String>,
    /// Every page in order, with its text.
    pub pages: Vec<(PageInfo, String)>,
    /// The notebook document's state vector (v1-encoded).
    pub state: Vec<u8>,
}

/// A version to record.
pub struct NewVersion<'a> {
    pub id: &'a str,
    pub at: u64,
    pub name: Option<&'a str>,
    /// The clients who edited since the newest version ([`History::editors_since_newest`]).
    pub authors: &'a [u64],
    /// The names some of them have in presence now.
    pub names: &'a [(u64, String)],
}

pub struct History {
    doc: Doc,
    versions: MapRef,
    texts: MapRef,
    names: MapRef,
}

impl History {
    /// An empty history whose own changes carry `client_id`.
    pub fn new(client_id: u64) -> History {
        let doc = crate::notebook::new_doc(client_id);
        History {
            versions: doc.get_or_insert_map(VERSIONS),
            texts: doc.get_or_insert_map(TEXTS),
            names: doc.get_or_insert_map(NAMES),
            doc,
        }
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Merges an update (from this browser's store, the server's, or a file).
    pub fn apply(&mut self, update: &[u8]) -> Result<(), String> {
        let update = crate::peer_message::decode_update(update)
            .map_err(|e| format!("not a Yjs update: {e}"))?;
        let mut txn = self.doc.transact_mut();
        let applied = txn.apply_update(update);
        crate::peer_message::drop_unreadable_pending(&mut txn);
        applied.map_err(|e| format!("cannot apply it: {e}"))
    }

    /// All of it, as one update.
    pub fn encode(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Vec<Version> {
        let txn = self.doc.transact();
        let mut versions: Vec<Version> = self
            .versions
            .iter(&txn)
            .filter_map(|(id, value)| match value {
                Out::Any(Any::Map(fields)) => read_version(id, &fields),
                _ => None,
            })
            .collect();
        versions.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
        versions
    }

    /// The newest version (the first [`History::versions`] lists), without sorting them all.
    pub fn newest(&self) -> Option<Version> {
        let txn = self.doc.transact();
        self.versions
            .iter(&txn)
            .filter_map(|(id, value)| match value {
                Out::Any(Any::Map(fields)) => read_version(id, &fields),
                _ => None,
            })
            .max_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)))
    }

    pub fn version(&self, id: &str) -> Option<Version> {
        match self.versions.get(&self.doc.transact(), id)? {
            Out::Any(Any::Map(fields)) => read_version(id, &fields),
            _ => None,
        }
    }

    /// A page's text in a version; `None` if it was not kept (thinned away by a browser that
    /// had not yet seen the version using it).
    pub fn text(&self, page: &VersionPage) -> Option<String> {
        match self.texts.get(&self.doc.transact(), &page.text)? {
            Out::Any(Any::String(text)) => Some(text.to_string()),
            _ => None,
        }
    }

    /// The name a client id had when a version listed it.
    pub fn name(&self, client: u64) -> Option<String> {
        match self.names.get(&self.doc.transact(), &client.to_string())? {
            Out::Any(Any::String(name)) => Some(name.to_string()),
            _ => None,
        }
    }

    /// True if `now` holds what the newest version holds (titles, order, texts).
    pub fn unchanged_since_newest(&self, now: &NotebookNow) -> bool {
        let Some(newest) = self.newest() else {
            return false;
        };
        newest.title == now.title
            && newest.pages.len() == now.pages.len()
            && newest
                .pages
                .iter()
                .zip(&now.pages)
                .all(|(kept, (page, text))| {
                    kept.id == page.id
                        && kept.title == page.title
                        && kept.order == page.order
                        && kept.text == text_key(text)
                })
    }

    /// Records a version of `now`; returns the update it made.
    pub fn record(&mut self, version: NewVersion, now: &NotebookNow) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        let mut pages = Vec::with_capacity(now.pages.len());
        for (page, text) in &now.pages {
            let key = text_key(text);
            if self.texts.get(&txn, &key).is_none() {
                self.texts.insert(&mut txn, key.clone(), text.as_str());
            }
            pages.push(Any::from(vec![
                Any::from(page.id.as_str()),
                Any::from(page.title.as_str()),
                Any::from(page.order),
                Any::from(key),
            ]));
        }
        for (client, name) in version.names {
            let key = client.to_string();
            let known = matches!(self.names.get(&txn, &key),
                Some(Out::Any(Any::String(old))) if old.as_ref() == name);
            if !known {
                self.names.insert(&mut txn, key, name.as_str());
            }
        }
        let mut fields: HashMap<String, Any> = HashMap::new();
        fields.insert("at".into(), Any::from(version.at as f64));
        if let Some(name) = version.name.map(str::trim).filter(|n| !n.is_empty()) {
            fields.insert("name".into(), Any::from(name));
        }
        if let Some(title) = &now.title {
            fields.insert("title".into(), Any::from(title.as_str()));
        }
        fields.insert("pages".into(), Any::from(pages));
        let authors: Vec<Any> = version
            .authors
            .iter()
            .map(|&client| Any::from(client as f64))
            .collect();
        fields.insert("authors".into(), Any::from(authors));
        fields.insert("state".into(), Any::from(now.state.clone()));
        self.versions
            .insert(&mut txn, version.id, Any::Map(Arc::new(fields)));
        txn.encode_update_v1()
    }

    /// Drops the versions [`thinning`] says to drop at `now`, and the texts no version uses
    /// any more; returns the update, if anything went.
    pub fn thin(&mut self, now: u64) -> Option<Vec<u8>> {
        let versions = self.versions();
        let aged: Vec<Aged> = versions
            .iter()
            .map(|v| Aged {
                id: &v.id,
                at: v.at,
                named: v.name.is_some(),
            })
            .collect();
        let drop: HashSet<&str> = thinning::to_drop(&aged, now).into_iter().collect();
        let used: HashSet<&str> = versions
            .iter()
            .filter(|v| !drop.contains(v.id.as_str()))
            .flat_map(|v| v.pages.iter().map(|p| p.text.as_str()))
            .collect();
        let mut txn = self.doc.transact_mut();
        let unused: Vec<String> = self
            .texts
            .keys(&txn)
            .filter(|key| !used.contains(key))
            .map(str::to_owned)
            .collect();
        if drop.is_empty() && unused.is_empty() {
            return None;
        }
        for id in drop {
            self.versions.remove(&mut txn, id);
        }
        for key in unused {
            self.texts.remove(&mut txn, &key);
        }
        Some(txn.encode_update_v1())
    }

    /// The clients whose changes `state` (a notebook state vector) has and the newest
    /// version's does not: who edited since it. Everyone in `state` when there is none.
    pub fn editors_since_newest(&self, state: &[u8]) -> Vec<u64> {
        let Ok(now) = crate::peer_message::decode_state_vector(state) else {
            return Vec::new();
        };
        let before = self
            .newest()
            .and_then(|v| crate::peer_message::decode_state_vector(&v.state).ok())
            .unwrap_or_default();
        let editors: BTreeSet<u64> = now
            .iter()
            .filter(|(client, clock)| before.get(client) < **clock)
            .map(|(client, _)| client.get())
            .collect();
        editors.into_iter().collect()
    }
}

/// A notebook state vector, encoded.
pub fn state_vector<T: ReadTxn>(txn: &T) -> Vec<u8> {
    txn.state_vector().encode_v1()
}

/// The key a text is kept under: 128 bits of its SHA-256, base64url.
pub fn text_key(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A version's fields as stored; anything malformed (another app's, a damaged one) is skipped.
fn read_version(id: &str, fields: &HashMap<String, Any>) -> Option<Version> {
    let string = |key: &str| match fields.get(key) {
        Some(Any::String(s)) => Some(s.to_string()),
        _ => None,
    };
    let at = match fields.get("at")? {
        Any::Number(at) => whole(*at)?,
        _ => return None,
    };
    let Some(Any::Array(list)) = fields.get("pages") else {
        return None;
    };
    let pages = list
        .iter()
        .filter_map(|page| match page {
            Any::Array(fields) => match &fields[..] {
                [Any::String(id), Any::String(title), Any::Number(order), Any::String(text)] => {
                    Some(VersionPage {
                        id: id.to_string(),
                        title: title.to_string(),
                        order: order.as_f64().filter(|o| o.is_finite())?,
                        text: text.to_string(),
                    })
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    let authors = match fields.get("authors") {
        Some(Any::Array(list)) => list
            .iter()
            .filter_map(|a| match a {
                Any::Number(n) => whole(*n),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let state = match fields.get("state") {
        Some(Any::Buffer(bytes)) => bytes.to_vec(),
        _ => Vec::new(),
    };
    Some(Version {
        id: id.to_owned(),
        at,
        name: string("name"),
        title: string("title"),
        pages,
        authors,
        state,
    })
}

/// A whole number that is not negative.
fn whole(n: Number) -> Option<u64> {
    n.as_i64().and_then(|n| u64::try_from(n).ok())
}

#[cfg(test)]
mod tests;
