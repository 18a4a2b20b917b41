//! The notebook's document schema.
//!
//! For now a notebook is one page: a root `Y.Text` named [`PAGE`] holding markdown. A Yjs app
//! reads it with `doc.getText("page")`.

use yrs::{ClientID, Doc, OffsetKind, Options, TextRef};

/// Name of the root text that holds the page.
pub const PAGE: &str = "page";

/// A document configured as every Commonplace peer needs it: offsets count UTF-16 code units,
/// as browsers and Yjs do. Yjs client ids have 53 bits; higher bits are dropped.
pub fn new_doc(client_id: u64) -> Doc {
    Doc::with_options(Options {
        client_id: ClientID::new(client_id & ((1 << 53) - 1)),
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    })
}

pub fn page(doc: &Doc) -> TextRef {
    doc.get_or_insert_text(PAGE)
}

/// The page's text.
pub fn page_text(doc: &Doc) -> String {
    use yrs::{GetString, Transact};
    let page = page(doc);
    let txn = doc.transact();
    page.get_string(&txn)
}
