//! The store's HTTP replies as a browser reads them: a read's binary body (`decode_reply`,
//! `Entries`) and, through `StoreReply::from_http`, every request's answer with any status;
//! the JSON bodies (`ErrorBody`, append and snapshot replies); store ids and write tokens as
//! the server parses them from a path and a header.
#![no_main]

use commonplace_core::room::server_store::{StoreReply, StoreRequest};
use commonplace_protocol::store::{decode_reply, Entries, ErrorBody, StoreId, WriteToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, after, body) = match data {
        [a, b, c, rest @ ..] => (
            [200, 201, 204, 404, 409, 410, 413, 500][usize::from(*a & 7)] + u16::from(*b & 1),
            u64::from(*c),
            rest,
        ),
        _ => return,
    };
    if let Ok(reply) = decode_reply(body, after) {
        // Checked: records strictly after `after` and increasing, the snapshot first.
        let mut last = reply.snapshot.map_or(after, |(covers, _)| covers);
        for (seq, _) in &reply.records {
            assert!(*seq > last);
            last = *seq;
        }
        let _ = reply.last();
    }
    for entry in Entries::new(body).take(1000) {
        if entry.is_err() {
            break;
        }
    }
    let requests = [
        StoreRequest::Read { after },
        StoreRequest::Append { record: vec![1] },
        StoreRequest::Snapshot {
            covers: after,
            replaces: 0,
            snapshot: vec![1],
        },
        StoreRequest::Delete,
    ];
    for request in &requests {
        if let StoreReply::Read { records, .. } = StoreReply::from_http(request, status, body) {
            assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = ErrorBody::parse(text);
        if let Ok(id) = StoreId::parse(text) {
            assert_eq!(StoreId::parse(&id.to_string()), Ok(id));
        }
        if let Ok(token) = WriteToken::parse(text) {
            assert_eq!(WriteToken::parse(&token.encode()), Ok(token.clone()));
            let _ = token.digest();
        }
        let _ = WriteToken::from_authorization(text);
    }
});
