//! A ZIP a person imports (`read_zip`, and `import_files` as the import button calls it): an
//! error or files, never a panic, and never more files than it allows; the pages it gives
//! export to a ZIP that reads back.
#![no_main]

use commonplace_core::notebook::files::{import_files, notebook_zip, read_zip, MAX_ENTRIES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = read_zip(data) {
        assert!(files.len() <= MAX_ENTRIES);
    }
    if let Ok(pages) = import_files("notes.zip", data.to_vec()) {
        let zip = notebook_zip(&pages);
        assert_eq!(read_zip(&zip).map(|files| files.len()), Ok(pages.len()));
    }
});
