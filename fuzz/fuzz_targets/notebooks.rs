//! The start screen's list of notebooks, read back from localStorage (`Notebooks::parse`):
//! what it keeps writes and reads back the same.
#![no_main]

use commonplace_core::app::notebooks::Notebooks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let notebooks = Notebooks::parse(json);
    let again = Notebooks::parse(&notebooks.to_json());
    assert_eq!(again.entries(), notebooks.entries());
});
