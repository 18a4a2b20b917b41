//! `commonplace_protocol::yjs_update`'s checks against yrs: whatever `check_v1` passes, yrs
//! decodes without reserving more than a bound proportional to the input (no count it claims
//! past its bytes), and without a panic; likewise a state vector and an awareness update.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use commonplace_protocol::yjs_update::{check_awareness_v1, check_state_vector_v1, check_v1};
use libfuzzer_sys::fuzz_target;
use yrs::sync::AwarenessUpdate;
use yrs::updates::decoder::Decode;
use yrs::{StateVector, Update};

/// Records the largest single allocation asked for on this thread.
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// The most yrs may reserve at once for an input of `len` bytes that passed the check: a few
/// hundred bytes of structure per input byte (a block, an `Any`, a map entry), never a count's
/// worth of them.
fn bound(len: usize) -> usize {
    64 * 1024 + 256 * len
}

fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    f();
    LARGEST.with(Cell::get)
}

fuzz_target!(|data: &[u8]| {
    if check_v1(data).is_ok() {
        let reserved = largest_allocation(|| {
            let _ = Update::decode_v1(data);
        });
        assert!(
            reserved <= bound(data.len()),
            "yrs reserved {reserved} bytes for a {}-byte update check_v1 passed",
            data.len()
        );
    }
    if check_state_vector_v1(data).is_ok() {
        let reserved = largest_allocation(|| {
            let _ = StateVector::decode_v1(data);
        });
        assert!(
            reserved <= bound(data.len()),
            "state vector: {reserved} bytes"
        );
    }
    if check_awareness_v1(data).is_ok() {
        let reserved = largest_allocation(|| {
            let _ = AwarenessUpdate::decode_v1(data);
        });
        assert!(
            reserved <= bound(data.len()),
            "awareness update: {reserved} bytes"
        );
    }
});
