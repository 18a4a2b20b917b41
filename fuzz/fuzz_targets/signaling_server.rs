//! What the signaling server parses from its clients: text frames into the hub (`Hub::handle`)
//! from three connections, one of which disconnects midway, and in the shared (several
//! servers) mode, publishes forwarded from another server (`Hub::deliver`).
#![no_main]

use commonplace_fuzz::pieces;
use commonplace_protocol::hub::{Hub, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_topics_per_conn: 4,
        max_topics: 8,
        max_topic_len: 32,
    };
    let mut hub = if data.first().is_some_and(|b| b & 1 == 1) {
        Hub::shared(limits)
    } else {
        Hub::new(limits)
    };
    let conns = [hub.connect(), hub.connect(), hub.connect()];
    for (i, piece) in pieces(data.get(1..).unwrap_or_default())
        .into_iter()
        .enumerate()
    {
        let Ok(text) = std::str::from_utf8(piece) else {
            continue;
        };
        match i % 5 {
            3 => {
                let _ = hub.deliver(text);
            }
            4 if i == 9 => hub.disconnect(conns[1]),
            n => {
                let _ = hub.handle(conns[n % 3], text);
            }
        }
        if i % 4 == 0 {
            hub.set_elsewhere("room", i);
            let _ = hub.take_changes();
        }
    }
    for conn in conns {
        hub.disconnect(conn);
    }
    assert_eq!(
        hub.topic_count(),
        0,
        "every topic goes with its last subscriber"
    );
});
