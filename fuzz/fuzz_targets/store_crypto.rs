//! The store's sealed records under fixed keys: `open_update` and `open_snapshot` of the input
//! as received (which never authenticates, so only the header checks run), and of the input as
//! the plaintext of a seal that does (what someone holding the key could store).
#![no_main]

use commonplace_fuzz::key;
use commonplace_protocol::store_crypto::StoreKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = StoreKeys::derive(&key());
    let served = data.first().map_or(0, |&b| u64::from(b));
    let _ = keys.open_update(data);
    let _ = keys.open_snapshot(data, served);
    let update = keys.seal_plaintext(false, data, [2; 12]);
    if let Ok(opened) = keys.open_update(&update) {
        assert_eq!(opened.update.len() + 24, data.len());
        assert_eq!(
            keys.open_update(&keys.seal_update(&opened, [3; 12])),
            Ok(opened)
        );
    }
    let snapshot = keys.seal_plaintext(true, data, [2; 12]);
    let covers = data
        .get(..8)
        .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()));
    if let Ok(opened) = keys.open_snapshot(&snapshot, covers) {
        let sealed = keys.seal_snapshot(&opened, [3; 12]);
        assert_eq!(keys.open_snapshot(&sealed, covers), Ok(opened));
    }
    assert!(
        keys.open_snapshot(&update, served).is_err(),
        "an update is never a snapshot"
    );
});
