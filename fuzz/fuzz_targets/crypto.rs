//! The crypto envelope under a fixed key: an envelope as received (`decrypt`, `decrypt_json`,
//! and a keyed room's signaling `data` with `decrypt_signal`), and, since a random envelope
//! never authenticates, the input as the plaintext of one that does: what a peer holding the
//! key can make the others read.
#![no_main]

use commonplace_fuzz::key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = key();
    let _ = key.decrypt(data);
    let _ = key.decrypt_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = key.decrypt_signal(text);
    }
    let envelope = key.encrypt(data, [1; 12]);
    assert_eq!(key.decrypt(&envelope).as_deref(), Ok(data));
    let _ = key.decrypt_json(&envelope);
});
