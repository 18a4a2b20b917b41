//! Concurrent renames of one page, and the links they rewrote.
//!
//! Renaming a page rewrites the title inside every link to it (`Notebook::relinks`). When two
//! people rename the same page at once, each deletes the old title in each link and inserts
//! their own: the text merges both insertions, `[[Old]]` becoming `[[MineTheirs]]`, while the
//! title itself (a map entry) keeps one of the two. The links then lead nowhere.
//!
//! So this peer remembers where its own rewrite put its title (sticky indexes around each
//! insertion) and, when others' changes bring another title for that page, takes its insertion
//! out again: every peer whose title lost does the same, and the links keep exactly the title
//! that won. Only what still reads as this peer's title at those places is deleted, so a later
//! rename or edit of the link is never undone; an entry goes once repaired or when this person
//! renames the page again. Kept in memory only, for the last [`KEPT`] renames: a reload before
//! the peers meet leaves the merged links to be fixed by hand, as before.

use yrs::{Assoc, GetString, IndexedSequence, StickyIndex, Text, Transact};

use super::pages::REPAIR;
use super::Room;
use crate::text::diff::Splice;
use crate::text::utf16;

/// How many of this person's renames are remembered.
const KEPT: usize = 16;

/// This peer's rename of `page` to `title`, and where its rewrite put the title in links.
struct OwnRename {
    page: String,
    title: String,
    /// (page whose text holds the link, start and end of the inserted title).
    links: Vec<(String, StickyIndex, StickyIndex)>,
}

#[derive(Default)]
pub(super) struct OwnRenames {
    renames: Vec<OwnRename>,
    /// Others changed page titles while renames were remembered: check them at this time.
    due: Option<u64>,
}

impl OwnRenames {
    /// Others' changes touched the page list at `now` (a title may be among them).
    pub fn titles_may_have_changed(&mut self, now: u64) {
        if !self.renames.is_empty() && self.due.is_none() {
            self.due = Some(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.due
    }
}

/// Where each splice's insertion ends up once all are applied: `splices` as `relinks` gives
/// them (last first, each index in the text before any of them), as UTF-16 ranges.
fn inserted_ranges(splices: &[Splice]) -> Vec<(u32, u32)> {
    let mut shift: i64 = 0;
    let mut ranges = Vec::with_capacity(splices.len());
    for splice in splices.iter().rev() {
        let start = (i64::from(splice.index) + shift).max(0) as u32;
        let len = utf16::len(&splice.insert) as u32;
        ranges.push((start, start + len));
        shift += i64::from(len) - i64::from(splice.delete);
    }
    ranges
}

impl Room {
    /// Remembers this person's rename of `page` to `title`, whose rewrite applied `relinks`.
    pub(super) fn remember_rename(
        &mut self,
        page: &str,
        title: &str,
        relinks: &[(String, Vec<Splice>)],
    ) {
        let notebook = self.pages.notebook();
        let txn = self.doc().transact();
        let mut links = Vec::new();
        for (id, splices) in relinks {
            let Some(body) = notebook.body(&txn, id) else {
                continue;
            };
            for (start, end) in inserted_ranges(splices) {
                let first = body.sticky_index(&txn, start, Assoc::After);
                let last = body.sticky_index(&txn, end, Assoc::Before);
                if let (Some(first), Some(last)) = (first, last) {
                    links.push((id.clone(), first, last));
                }
            }
        }
        drop(txn);
        let renames = &mut self.pages.own_renames.renames;
        renames.retain(|rename| rename.page != page);
        if !links.is_empty() {
            renames.push(OwnRename {
                page: page.to_owned(),
                title: title.trim().to_owned(),
                links,
            });
        }
        if renames.len() > KEPT {
            renames.remove(0);
        }
    }

    /// At the time [`OwnRenames::poll_timeout`] gave: takes this peer's title out of the links
    /// of every remembered rename that another title won.
    pub(super) fn repair_lost_renames(&mut self, now: u64) {
        if self.pages.own_renames.due.is_none_or(|due| due > now) {
            return;
        }
        self.pages.own_renames.due = None;
        let renames = std::mem::take(&mut self.pages.own_renames.renames);
        let pages = self.pages();
        let (lost, kept): (Vec<OwnRename>, _) = renames.into_iter().partition(|rename| {
            pages
                .iter()
                .find(|page| page.id == rename.page)
                .is_none_or(|page| page.title.trim() != rename.title)
        });
        self.pages.own_renames.renames = kept;
        if lost.is_empty() {
            return;
        }
        // (page, start, length) of each insertion that still reads as the lost title.
        let mut deletions: Vec<(String, u32, u32)> = Vec::new();
        {
            let txn = self.doc().transact();
            let notebook = self.pages.notebook();
            for rename in &lost {
                for (id, first, last) in &rename.links {
                    let Some(body) = notebook.body(&txn, id) else {
                        continue;
                    };
                    let (Some(start), Some(end)) = (first.get_offset(&txn), last.get_offset(&txn))
                    else {
                        continue;
                    };
                    let (start, end) = (start.index, end.index);
                    if end <= start || end - start != utf16::len(&rename.title) as u32 {
                        continue;
                    }
                    let units = utf16::units(&body.get_string(&txn));
                    let there = units.get(start as usize..end as usize);
                    if there == Some(&utf16::units(&rename.title)[..]) {
                        deletions.push((id.clone(), start, end - start));
                    }
                }
            }
        }
        if deletions.is_empty() {
            return;
        }
        // Last first within a page, so earlier offsets stay true.
        deletions.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        self.commit_with(now, REPAIR, |notebook, txn| {
            for (id, start, len) in &deletions {
                if let Some(body) = notebook.body(txn, id) {
                    body.remove_range(txn, *start, *len);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertions_land_where_the_splices_put_them() {
        // "[[Old]] and [[Old]]" -> "[[Longer]] and [[Longer]]", given last first.
        let splices = [
            Splice {
                index: 14,
                delete: 3,
                insert: "Longer".into(),
            },
            Splice {
                index: 2,
                delete: 3,
                insert: "Longer".into(),
            },
        ];
        assert_eq!(inserted_ranges(&splices), vec![(2, 8), (17, 23)]);
    }
}
