//! What the app reads of its server's config: `GET /config` (`ClientConfig::parse`), the copy
//! written into the page (`ServedConfig::parse`, and its `<script>` text read back), and the
//! version timing a person may set by hand (`VersionTiming::parse`).
#![no_main]

use commonplace_core::room::VersionTiming;
use commonplace_protocol::config::{ClientConfig, ServedConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = ClientConfig::parse(text) {
        let _ = config.renew_at(1_700_000_000_000);
        let _ = config.renew_at(0);
    }
    if let Ok(served) = ServedConfig::parse(text) {
        let script = served.to_script_text();
        assert!(!script.contains('<'));
        assert_eq!(ServedConfig::parse(&script).as_ref(), Ok(&served));
        let _ = served.fresh_at(0);
    }
    let _ = VersionTiming::parse(text);
});
