//! When the browser's store of updates (IndexedDB, y-indexeddb's layout: one record per saved
//! update) is compacted: its records replaced by one holding the whole document.
//!
//! y-indexeddb compacts past 500 records. That alone lets a few big records pile up: pasting and
//! cutting a 2 MB chapter five times leaves 20 MB stored for a notebook that holds 2 MB, and
//! every later open reads and applies all of it. So the store is also compacted once what was
//! appended since it was last compacted (or opened) is at least as much as it held then, and at
//! least [`COMPACT_AT_GROWTH`]: the store never holds much more than twice the notebook, and
//! each compaction (which encodes the whole document) is paid for by as many bytes written.

/// y-indexeddb's `PREFERRED_TRIM_SIZE`.
pub const COMPACT_AT_RECORDS: u32 = 500;
/// Appended bytes below this never compact by size (small notebooks: the record count rules).
pub const COMPACT_AT_GROWTH: u64 = 1 << 20;

/// What the store holds, as far as compaction is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredUpdates {
    records: u32,
    /// Bytes held when it was last compacted, or when it was opened.
    base: u64,
    /// Bytes appended since.
    appended: u64,
}

impl StoredUpdates {
    /// The store as it was read when opened.
    pub fn opened(records: u32, bytes: u64) -> Self {
        StoredUpdates {
            records,
            base: bytes,
            appended: 0,
        }
    }

    pub fn appended(&mut self, records: u32, bytes: u64) {
        self.records = self.records.saturating_add(records);
        self.appended = self.appended.saturating_add(bytes);
    }

    /// The records were replaced by one of `bytes` (the whole document).
    pub fn compacted(&mut self, bytes: u64) {
        *self = StoredUpdates::opened(1, bytes);
    }

    /// What the records take.
    pub fn bytes(&self) -> u64 {
        self.base.saturating_add(self.appended)
    }

    pub fn due(&self) -> bool {
        self.records >= COMPACT_AT_RECORDS
            || (self.appended >= COMPACT_AT_GROWTH && self.appended >= self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn many_records_compact_as_y_indexeddb_does() {
        let mut store = StoredUpdates::opened(0, 0);
        store.appended(499, 499 * 30);
        assert!(!store.due());
        store.appended(1, 30);
        assert!(store.due());
        assert!(
            StoredUpdates::opened(COMPACT_AT_RECORDS, 0).due(),
            "on open"
        );
    }

    #[test]
    fn few_big_records_compact_once_the_store_has_doubled() {
        // A 2 MB notebook, stored as one record: one more 2 MB paste doubles it.
        let mut store = StoredUpdates::opened(1, 2 * MB);
        store.appended(1, MB);
        assert!(!store.due(), "grown by half");
        store.appended(1, MB);
        assert!(store.due(), "doubled, in 3 records");
        store.compacted(3 * MB);
        assert!(!store.due());
        store.appended(2, 3 * MB);
        assert!(store.due());
    }

    #[test]
    fn small_notebooks_compact_by_records_only() {
        let mut store = StoredUpdates::opened(1, 10_000);
        store.appended(10, MB - 1);
        assert!(!store.due(), "100 times the notebook, but under a MiB");
        store.appended(1, 1);
        assert!(store.due());
    }
}
