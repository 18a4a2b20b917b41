//! Room links (`RoomLink::parse` of a location fragment): what parses writes a fragment that
//! parses to the same link.
#![no_main]

use commonplace_core::notebook::link::RoomLink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fragment) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(link)) = RoomLink::parse(fragment) {
        assert_eq!(RoomLink::parse(&link.fragment()), Ok(Some(link)));
    }
});
