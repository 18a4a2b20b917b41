//! lib0 `Any` as JSON (`decode_any`): what decodes encodes again, and that decodes to the same.
#![no_main]

use commonplace_protocol::crypto::{decode_any, encode_any};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode_any(data) {
        let again = decode_any(&encode_any(&value)).expect("what decode_any made encodes");
        assert_eq!(again, value);
    }
});
