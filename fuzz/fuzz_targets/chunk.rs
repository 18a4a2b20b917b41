//! Chunk streams: one peer's chunk frames into a `Reassembler` (bounded at 1 MiB here), in the
//! order given. A completed message is never larger than the bound, nor than what was pushed.
#![no_main]

use commonplace_fuzz::pieces;
use commonplace_protocol::chunk::{Reassembled, Reassembler};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut reassembler = Reassembler::new(MAX);
    let mut pushed = 0;
    for piece in pieces(data) {
        pushed += piece.len();
        match reassembler.push(piece) {
            Ok(Reassembled::Complete(message)) => {
                assert!(message.len() <= MAX && message.len() <= pushed);
                pushed = 0;
            }
            Ok(Reassembled::Partial { received, total }) => {
                assert!(received < total && total <= MAX && received <= pushed);
            }
            // A malformed chunk is ignored and the message in progress kept; the others drop
            // it. Either way `pushed` (only reset by a message completed) bounds what is held.
            Err(_) => {}
        }
    }
});
