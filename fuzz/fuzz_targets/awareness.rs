//! Awareness states from a peer, as the room applies them (`Presence::on_update` through
//! `Input::PeerFrame`): each message goes in as the payload of an awareness frame (or, if its
//! first byte is odd, as a whole frame) from one of two open peers, with time passing; after
//! each, the people list and the carets on the home page are read as the app reads them.
#![no_main]

use commonplace_core::notebook::HOME;
use commonplace_core::room::Input;
use commonplace_fuzz::{drain, open_peer, pieces, room};
use commonplace_protocol::{frame, lib0};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut now = 1_000;
    let mut room = room(None, now);
    open_peer(&mut room, None, now, "p");
    open_peer(&mut room, None, now, "q");
    room.set_user(now, "me", "#123456");
    room.set_cursor(now, HOME, 0, 0);
    drain(&mut room);
    for piece in pieces(data) {
        let Some((&how, rest)) = piece.split_first() else {
            now += 10_000;
            room.handle(now, Input::Timeout);
            drain(&mut room);
            continue;
        };
        let bytes = if how & 1 == 1 {
            rest.to_vec()
        } else {
            let mut bytes = vec![frame::MSG_AWARENESS];
            lib0::write_var_uint8_array(&mut bytes, rest);
            bytes
        };
        let peer = ["p", "q"][usize::from(how >> 1 & 1)];
        room.handle(
            now,
            Input::PeerFrame {
                peer,
                bytes: &bytes,
            },
        );
        drain(&mut room);
        let _ = room.people();
        let _ = room.remote_cursors(HOME);
    }
});
