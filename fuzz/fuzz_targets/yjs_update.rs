//! `commonplace_protocol::yjs_update`'s checks against yrs: whatever `check_v1` passes, yrs
//! decodes without reserving more than a bound proportional to the input (no count it claims
//! past its bytes), and without a panic; likewise a state vector and an awareness update.
#![no_main]

// The allocation tracker the core's update_check test uses, installed here as well.
#[path = "../../crates/core/tests/largest_allocation/mod.rs"]
mod largest_allocation;

use commonplace_protocol::yjs_update::{check_awareness_v1, check_state_vector_v1, check_v1};
use largest_allocation::largest_allocation;
use libfuzzer_sys::fuzz_target;
use yrs::sync::AwarenessUpdate;
use yrs::updates::decoder::Decode;
use yrs::{StateVector, Update};

/// The most yrs may reserve at once for an input of `len` bytes that passed the check: a few
/// hundred bytes of structure per input byte (a block, an `Any`, a map entry), never a count's
/// worth of them.
fn bound(len: usize) -> usize {
    64 * 1024 + 256 * len
}

/// Asserts that yrs's `decode` of `data` (a `what` the check passed) reserves within [`bound`].
fn assert_bounded(what: &str, data: &[u8], decode: impl FnOnce()) {
    let reserved = largest_allocation(decode);
    assert!(
        reserved <= bound(data.len()),
        "yrs reserved {reserved} bytes for a {}-byte {what} its check passed",
        data.len()
    );
}

fuzz_target!(|data: &[u8]| {
    if check_v1(data).is_ok() {
        assert_bounded("update", data, || {
            let _ = Update::decode_v1(data);
        });
    }
    if check_state_vector_v1(data).is_ok() {
        assert_bounded("state vector", data, || {
            let _ = StateVector::decode_v1(data);
        });
    }
    if check_awareness_v1(data).is_ok() {
        assert_bounded("awareness update", data, || {
            let _ = AwarenessUpdate::decode_v1(data);
        });
    }
});
