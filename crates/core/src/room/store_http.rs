//! The server store's requests and replies as HTTP (`docs/store.md`), so that the shell only
//! carries bytes: [`StoreRequest::http`] says what to send, [`StoreReply::from_http`] what the
//! answer means. Anything the shell cannot reach, or a reply it cannot read, is
//! [`StoreReply::Failed`] (tried again later); what the store refuses for good is
//! [`StoreReply::Refused`] with the server's own sentence.

use commonplace_protocol::store::{
    decode_reply, read_path, records_path, snapshot_path, store_path, AppendReply, ErrorBody,
    SnapshotReply,
};
use commonplace_protocol::store_crypto::StoreKeys;

use super::server_store::{StoreReply, StoreRequest};

/// One HTTP request, relative to the app's own server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    /// Path and query, e.g. `/store/{id}?after=3`.
    pub path: String,
    /// The `Authorization` header, for writes.
    pub authorization: Option<String>,
    pub body: Option<Vec<u8>>,
}

impl StoreRequest {
    pub fn http(&self, keys: &StoreKeys) -> HttpRequest {
        let id = keys.store_id();
        let write = |method, path, body| HttpRequest {
            method,
            path,
            authorization: Some(keys.token().authorization()),
            body,
        };
        match self {
            StoreRequest::Read { after } => HttpRequest {
                method: "GET",
                path: read_path(&id, *after),
                authorization: None,
                body: None,
            },
            StoreRequest::Append { record } => {
                write("POST", records_path(&id), Some(record.clone()))
            }
            StoreRequest::Snapshot {
                covers,
                replaces,
                snapshot,
            } => write(
                "PUT",
                snapshot_path(&id, *covers, *replaces),
                Some(snapshot.clone()),
            ),
            StoreRequest::Delete => write("DELETE", store_path(&id), None),
        }
    }
}

impl StoreReply {
    /// What the answer `status`, `body` to `request` means.
    pub fn from_http(request: &StoreRequest, status: u16, body: &[u8]) -> StoreReply {
        match (request, status) {
            (StoreRequest::Read { after }, 200) => match decode_reply(body, *after) {
                Ok(reply) => StoreReply::Read {
                    snapshot: reply
                        .snapshot
                        .map(|(covers, bytes)| (covers, bytes.to_vec())),
                    records: reply
                        .records
                        .iter()
                        .map(|&(seq, bytes)| (seq, bytes.to_vec()))
                        .collect(),
                    more: reply.more.is_some(),
                },
                Err(error) => failed(format!("an unreadable store reply: {}", error.0)),
            },
            (StoreRequest::Append { .. }, 201) => match serde_json::from_slice(body) {
                Ok(AppendReply { seq }) => StoreReply::Appended { seq },
                Err(error) => failed(format!("an unreadable append reply: {error}")),
            },
            (StoreRequest::Snapshot { .. }, 200) => match serde_json::from_slice(body) {
                Ok(SnapshotReply { covers }) => StoreReply::SnapshotTaken { covers },
                Err(error) => failed(format!("an unreadable snapshot reply: {error}")),
            },
            (StoreRequest::Snapshot { .. }, 409) => match error_body(body).covers {
                Some(covers) => StoreReply::SnapshotStale { covers },
                None => failed("a 409 without the current snapshot".into()),
            },
            (StoreRequest::Delete, 204) => StoreReply::Deleted,
            (_, 404) => StoreReply::NotFound,
            (_, 410) => StoreReply::Gone,
            // Refused for good: a wrong or missing token, a record or store too large, a
            // request this app should never make.
            (_, 400 | 401 | 403 | 413 | 507) => StoreReply::Refused {
                why: error_body(body).error,
            },
            // Too fast, a server without a store or shutting down, a proxy's error page,
            // anything else: later.
            (_, status) => failed(format!("{status}: {}", error_body(body).error)),
        }
    }
}

fn error_body(body: &[u8]) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    ErrorBody::parse(&text).unwrap_or_else(|_| {
        let mut sentence: String = text.chars().take(200).collect();
        if sentence.trim().is_empty() {
            sentence = "no explanation".into();
        }
        ErrorBody::new(sentence)
    })
}

fn failed(why: String) -> StoreReply {
    StoreReply::Failed { why }
}

#[cfg(test)]
mod tests {
    use commonplace_protocol::crypto::RoomKey;
    use commonplace_protocol::store::ReplyEncoder;

    use super::*;

    fn keys() -> StoreKeys {
        StoreKeys::derive(&RoomKey::from_bytes([9; 32]))
    }

    #[test]
    fn requests_name_the_store_by_its_id_and_only_writes_carry_the_token() {
        let keys = keys();
        let read = StoreRequest::Read { after: 7 }.http(&keys);
        assert_eq!(read.method, "GET");
        assert_eq!(read.path, format!("/store/{}?after=7", keys.id()));
        assert_eq!(read.authorization, None);
        let append = StoreRequest::Append {
            record: vec![1, 2, 3],
        }
        .http(&keys);
        assert_eq!(
            (append.method, append.body.as_deref()),
            ("POST", Some(&[1u8, 2, 3][..]))
        );
        assert_eq!(
            append.authorization,
            Some(format!("Bearer {}", keys.write_token()))
        );
        let snapshot = StoreRequest::Snapshot {
            covers: 9,
            replaces: 4,
            snapshot: vec![5],
        }
        .http(&keys);
        assert_eq!(
            snapshot.path,
            format!("/store/{}/snapshot?covers=9&replaces=4", keys.id())
        );
        assert_eq!(StoreRequest::Delete.http(&keys).method, "DELETE");
    }

    #[test]
    fn replies_mean_what_docs_store_md_says() {
        let read = StoreRequest::Read { after: 0 };
        let append = StoreRequest::Append { record: vec![1] };
        let snapshot = StoreRequest::Snapshot {
            covers: 3,
            replaces: 0,
            snapshot: vec![1],
        };
        let mut encoder = ReplyEncoder::new(0, 1 << 20);
        encoder.snapshot(2, b"snap").unwrap();
        encoder.record(3, b"rec").unwrap();
        assert_eq!(
            StoreReply::from_http(&read, 200, &encoder.finish()),
            StoreReply::Read {
                snapshot: Some((2, b"snap".to_vec())),
                records: vec![(3, b"rec".to_vec())],
                more: false,
            }
        );
        assert_eq!(
            StoreReply::from_http(&append, 201, br#"{"seq":12}"#),
            StoreReply::Appended { seq: 12 }
        );
        assert_eq!(
            StoreReply::from_http(&snapshot, 409, br#"{"error":"stale","covers":5}"#),
            StoreReply::SnapshotStale { covers: 5 }
        );
        assert_eq!(
            StoreReply::from_http(&snapshot, 200, br#"{"covers":3}"#),
            StoreReply::SnapshotTaken { covers: 3 }
        );
        assert_eq!(StoreReply::from_http(&read, 404, b""), StoreReply::NotFound);
        assert_eq!(StoreReply::from_http(&append, 410, b"{}"), StoreReply::Gone);
        assert_eq!(
            StoreReply::from_http(&append, 507, br#"{"error":"this store is full"}"#),
            StoreReply::Refused {
                why: "this store is full".into()
            }
        );
        assert_eq!(
            StoreReply::from_http(&StoreRequest::Delete, 204, b""),
            StoreReply::Deleted
        );
    }

    #[test]
    fn what_cannot_be_read_is_tried_again_never_applied() {
        let read = StoreRequest::Read { after: 5 };
        // Records not after what was asked, a reply cut inside an entry, HTML from a proxy.
        let mut encoder = ReplyEncoder::new(0, 1 << 20);
        encoder.record(3, b"old").unwrap();
        for (status, body) in [
            (200, encoder.finish()),
            (200, vec![2, 0, 0]),
            (502, b"<html>bad gateway</html>".to_vec()),
            (429, br#"{"error":"too fast"}"#.to_vec()),
            (503, Vec::new()),
        ] {
            assert!(
                matches!(
                    StoreReply::from_http(&read, status, &body),
                    StoreReply::Failed { .. }
                ),
                "{status} {body:?}"
            );
        }
        assert!(matches!(
            StoreReply::from_http(&StoreRequest::Append { record: vec![] }, 201, b"nope"),
            StoreReply::Failed { .. }
        ));
    }
}
