//! The end-to-end encrypted store (peer ↔ its server, HTTP under `/store/`): what a browser and
//! the server both need to speak it, with nothing of what the records mean.
//!
//! A store is named by a [`StoreId`] (16 bytes, 32 lowercase hex digits in a URL) and written
//! with a [`WriteToken`] (32 bytes, `Authorization: Bearer <base64url>`); both are derived by
//! the browser from the room's secret, so the server learns neither the room nor the key. It
//! keeps the SHA-256 of the token ([`TokenDigest`]), set by the first write.
//!
//! `GET /store/{id}?after=N` answers with entries in a binary framing ([`ReplyEncoder`],
//! [`decode_reply`]): an optional snapshot, then records in order, then perhaps a
//! "more" marker when the reply was cut at its size bound. Each entry is a kind byte, a
//! big-endian `u64` and, for snapshot and record, a big-endian `u32` length and that many bytes:
//!
//! ```text
//! snapshot  01 | covers u64 BE | length u32 BE | bytes
//! record    02 | seq    u64 BE | length u32 BE | bytes
//! more      03 | after  u64 BE                         (last; ask again with ?after=after)
//! ```
//!
//! Other replies are JSON: [`AppendReply`], [`SnapshotReply`] and, for every error,
//! [`ErrorBody`]. `docs/store.md` describes the whole API.
//!
//! `DELETE /store/{id}` leaves a tombstone: from then on a read, an append or a snapshot on
//! that id answers `410 Gone` (whatever the token; a `DELETE` with its token: `204`), so that a
//! browser still holding the notebook learns that its server copy was removed, and does not
//! create it again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Bytes in a store id.
pub const ID_LEN: usize = 16;
/// Bytes in a write token.
pub const TOKEN_LEN: usize = 32;

/// Entry kinds in a read reply.
pub const KIND_SNAPSHOT: u8 = 1;
pub const KIND_RECORD: u8 = 2;
pub const KIND_MORE: u8 = 3;
/// Kind, number and length: the bytes before a snapshot's or a record's contents.
pub const ENTRY_HEADER: usize = 1 + 8 + 4;
/// A "more" marker: kind and the `after` to ask with next.
pub const MORE_LEN: usize = 1 + 8;

/// Why an id, a token or a reply could not be read. The message is a sentence a person can act
/// on; the server sends it as the `error` of a 400 or 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn error<T>(message: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError(message.into()))
}

/// A store's name: 16 bytes the browser derives from the room's secret, random-looking.
/// Written as 32 lowercase hex digits, the only spelling accepted (one id, one URL).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreId([u8; ID_LEN]);

impl StoreId {
    pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        StoreId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// 32 lowercase hex digits.
    pub fn parse(text: &str) -> Result<StoreId, FormatError> {
        let digits = text.as_bytes();
        if digits.len() != 2 * ID_LEN {
            return error(format!(
                "a store id is 32 lowercase hex digits, not {} characters",
                text.chars().count()
            ));
        }
        let mut bytes = [0u8; ID_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            match (hex_digit(pair[0]), hex_digit(pair[1])) {
                (Some(high), Some(low)) => *byte = high << 4 | low,
                _ => return error("a store id is 32 lowercase hex digits (0-9, a-f)"),
            }
        }
        Ok(StoreId(bytes))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreId({self})")
    }
}

impl FromStr for StoreId {
    type Err = FormatError;
    fn from_str(text: &str) -> Result<Self, FormatError> {
        StoreId::parse(text)
    }
}

/// What entitles a browser to write a store: 32 secret bytes, sent as
/// `Authorization: Bearer <43 base64url characters, no padding>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteToken([u8; TOKEN_LEN]);

impl WriteToken {
    pub const fn from_bytes(bytes: [u8; TOKEN_LEN]) -> Self {
        WriteToken(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; TOKEN_LEN] {
        &self.0
    }

    /// The token's base64url text (no padding).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The token from its base64url text (no padding): exactly 43 characters.
    pub fn parse(text: &str) -> Result<WriteToken, FormatError> {
        const TEXT_LEN: usize = (TOKEN_LEN * 4).div_ceil(3);
        if text.len() != TEXT_LEN {
            return error(format!(
                "a write token is {TEXT_LEN} base64url characters (no padding)"
            ));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| FormatError("a write token is base64url (A-Z a-z 0-9 - _)".into()))?;
        match <[u8; TOKEN_LEN]>::try_from(bytes) {
            Ok(bytes) => Ok(WriteToken(bytes)),
            Err(_) => error("a write token is 32 bytes"),
        }
    }

    /// The value of the `Authorization` header that carries this token.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.encode())
    }

    /// The token in an `Authorization` header's value: `Bearer` (any case), spaces, the token.
    pub fn from_authorization(value: &str) -> Result<WriteToken, FormatError> {
        let value = value.trim();
        let Some((scheme, token)) = value.split_once(' ') else {
            return error("the Authorization header must be \"Bearer <write token>\"");
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return error("the Authorization header must be \"Bearer <write token>\"");
        }
        WriteToken::parse(token.trim_start())
    }

    /// What the server keeps instead of the token.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteToken(…)")
    }
}

/// SHA-256 of a [`WriteToken`]: what the server stores with a store, and compares (in constant
/// time) with the digest of each write's token.
#[derive(Clone, Copy, Debug)]
pub struct TokenDigest(pub [u8; 32]);

impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for TokenDigest {}

/// One entry of a read reply, borrowing its bytes from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// The encrypted snapshot, covering every record up to and including `covers`.
    Snapshot { covers: u64, bytes: &'a [u8] },
    /// One encrypted record.
    Record { seq: u64, bytes: &'a [u8] },
    /// The reply stopped at its size bound: ask again with `?after=after`.
    More { after: u64 },
}

/// Reads a reply's entries one by one, without checking their order (see [`decode_reply`]).
/// After an error it yields nothing more.
pub struct Entries<'a> {
    rest: &'a [u8],
}

impl<'a> Entries<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Entries { rest: body }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, rest) = self.rest.split_first()?;
        let Some((number, rest)) = rest.split_first_chunk::<8>() else {
            self.rest = &[];
            return Some(error("a store reply ends inside an entry's header"));
        };
        let number = u64::from_be_bytes(*number);
        if kind == KIND_MORE {
            self.rest = rest;
            return Some(Ok(Entry::More { after: number }));
        }
        if kind != KIND_SNAPSHOT && kind != KIND_RECORD {
            self.rest = &[];
            return Some(error(format!("unknown entry kind {kind} in a store reply")));
        }
        let Some((len, rest)) = rest.split_first_chunk::<4>() else {
            self.rest = &[];
            return Some(error("a store reply ends inside an entry's header"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            self.rest = &[];
            return Some(error("a store reply ends inside an entry"));
        }
        let (bytes, rest) = rest.split_at(len);
        self.rest = rest;
        Some(Ok(if kind == KIND_SNAPSHOT {
            Entry::Snapshot {
                covers: number,
                bytes,
            }
        } else {
            Entry::Record { seq: number, bytes }
        }))
    }
}

/// A whole read reply, checked: at most one snapshot and only first, records in strictly
/// increasing order after it, a "more" marker only last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReply<'a> {
    /// `(covers, bytes)`.
    pub snapshot: Option<(u64, &'a [u8])>,
    /// `(seq, bytes)`, in order.
    pub records: Vec<(u64, &'a [u8])>,
    /// `Some(after)`: the reply was cut; ask again with `?after=after`.
    pub more: Option<u64>,
}

impl ReadReply<'_> {
    /// The last sequence number this reply brings the reader up to, if it brought anything:
    /// the `after` for the next read.
    pub fn last(&self) -> Option<u64> {
        self.records
            .last()
            .map(|&(seq, _)| seq)
            .or(self.snapshot.map(|(covers, _)| covers))
    }
}

/// Reads and checks a `GET /store/{id}` body, given the `after` it asked with. An empty body
/// means nothing new.
pub fn decode_reply(body: &[u8], after: u64) -> Result<ReadReply<'_>, FormatError> {
    let mut reply = ReadReply::default();
    let mut last = after;
    for entry in Entries::new(body) {
        if reply.more.is_some() {
            return error("a store reply goes on after its \"more\" marker");
        }
        match entry? {
            Entry::Snapshot { covers, bytes } => {
                if reply.snapshot.is_some() || !reply.records.is_empty() {
                    return error("a store reply's snapshot is not its first entry");
                }
                if covers <= after {
                    return error("a store reply's snapshot covers no more than was asked after");
                }
                reply.snapshot = Some((covers, bytes));
                last = covers;
            }
            Entry::Record { seq, bytes } => {
                if seq <= last {
                    return error("a store reply's records are not in increasing order");
                }
                reply.records.push((seq, bytes));
                last = seq;
            }
            Entry::More { after: next } => {
                if next != last || reply.last().is_none() {
                    return error("a store reply's \"more\" marker does not follow its last entry");
                }
                reply.more = Some(next);
            }
        }
    }
    Ok(reply)
}

/// Writes a read reply: the snapshot (if any) first, then records in order until the body
/// reaches `limit` bytes. A reply always holds its first entry, however large; once the next
/// record would take it past `limit`, a "more" marker ends it.
#[derive(Debug)]
pub struct ReplyEncoder {
    body: Vec<u8>,
    limit: usize,
    last: u64,
    full: bool,
}

impl ReplyEncoder {
    /// For a read `?after=after`.
    pub fn new(after: u64, limit: usize) -> Self {
        ReplyEncoder {
            body: Vec::new(),
            limit,
            last: after,
            full: false,
        }
    }

    /// The snapshot, which must come first and cover more than `after`.
    pub fn snapshot(&mut self, covers: u64, bytes: &[u8]) -> Result<(), FormatError> {
        if !self.body.is_empty() || covers <= self.last {
            return error("the snapshot goes first and covers more than was asked after");
        }
        push_entry(&mut self.body, KIND_SNAPSHOT, covers, bytes)?;
        self.last = covers;
        Ok(())
    }

    /// Adds a record if it fits: `Ok(false)` once the reply is full (the "more" marker is
    /// written then, and nothing more goes in).
    pub fn record(&mut self, seq: u64, bytes: &[u8]) -> Result<bool, FormatError> {
        if self.full {
            return Ok(false);
        }
        if seq <= self.last {
            return error("records go in increasing order, after the snapshot");
        }
        let size = ENTRY_HEADER.saturating_add(bytes.len());
        if !self.body.is_empty() && self.body.len().saturating_add(size) > self.limit {
            self.body.push(KIND_MORE);
            self.body.extend_from_slice(&self.last.to_be_bytes());
            self.full = true;
            return Ok(false);
        }
        push_entry(&mut self.body, KIND_RECORD, seq, bytes)?;
        self.last = seq;
        Ok(true)
    }

    /// The last sequence number the reply brings its reader to: its last entry's (a
    /// snapshot's `covers`, a record's `seq`), or the `after` it was made for.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The body: empty if there was nothing after `after`.
    pub fn finish(self) -> Vec<u8> {
        self.body
    }
}

fn push_entry(body: &mut Vec<u8>, kind: u8, number: u64, bytes: &[u8]) -> Result<(), FormatError> {
    let Ok(len) = u32::try_from(bytes.len()) else {
        return error("an entry of 4 GiB or more does not fit a store reply");
    };
    body.reserve(ENTRY_HEADER + bytes.len());
    body.push(kind);
    body.extend_from_slice(&number.to_be_bytes());
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(bytes);
    Ok(())
}

/// `201` to `POST /store/{id}/records`: the record's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendReply {
    pub seq: u64,
}

/// `200` to `PUT /store/{id}/snapshot`: what the stored snapshot now covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReply {
    pub covers: u64,
}

/// Every error's body: a sentence, and with `409` what the current snapshot covers (0: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<u64>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            covers: None,
        }
    }

    pub fn parse(json: &str) -> Result<ErrorBody, FormatError> {
        serde_json::from_str(json).map_err(|e| FormatError(format!("not a store error: {e}")))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"error\":\"?\"}"))
    }
}

/// The paths, for a client: `/store/{id}?after=N`, `/store/{id}/records`,
/// `/store/{id}/snapshot?covers=S&replaces=P`, `/store/{id}`.
pub fn read_path(id: &StoreId, after: u64) -> String {
    format!("/store/{id}?after={after}")
}

pub fn records_path(id: &StoreId) -> String {
    format!("/store/{id}/records")
}

pub fn snapshot_path(id: &StoreId, covers: u64, replaces: u64) -> String {
    format!("/store/{id}/snapshot?covers={covers}&replaces={replaces}")
}

pub fn store_path(id: &StoreId) -> String {
    format!("/store/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_digits() {
        let text = "00ff10a0b1c2d3e4f5061728394a5b6c";
        let id = StoreId::parse(text).unwrap();
        assert_eq!(id.as_bytes()[..3], [0x00, 0xff, 0x10]);
        assert_eq!(id.to_string(), text);
        assert_eq!(text.parse::<StoreId>().unwrap(), id);
        for bad in [
            "",
            "00ff",
            "00FF10a0b1c2d3e4f5061728394a5b6c",
            "00ff10a0b1c2d3e4f5061728394a5b6",
            "00ff10a0b1c2d3e4f5061728394a5b6c0",
            "g0ff10a0b1c2d3e4f5061728394a5b6c",
            "00ff10a0b1c2d3e4f5061728394a5b6\u{e9}",
            "../../../../../../../../../../..",
        ] {
            let e = StoreId::parse(bad).unwrap_err();
            assert!(e.0.contains("32 lowercase hex"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn tokens_travel_as_bearer_base64url() {
        let token = WriteToken::from_bytes([0xfb; 32]);
        let text = token.encode();
        assert_eq!(text.len(), 43);
        assert!(!text.contains(['+', '/', '=']), "{text}");
        assert_eq!(WriteToken::parse(&text).unwrap(), token);
        let header = token.authorization();
        assert_eq!(header, format!("Bearer {text}"));
        assert_eq!(WriteToken::from_authorization(&header).unwrap(), token);
        assert_eq!(
            WriteToken::from_authorization(&format!("bearer   {text} ")).unwrap(),
            token
        );
        for bad in [
            String::new(),
            "Bearer".into(),
            format!("Basic {text}"),
            format!("Bearer {text}="),
            format!("Bearer {}", &text[1..]),
            format!("Bearer +{}", &text[1..]),
            format!("Bearer {}", URL_SAFE_NO_PAD.encode([1u8; 31])),
            "Bearer ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓".into(),
        ] {
            assert!(WriteToken::from_authorization(&bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{token:?}").contains(&text));
    }

    #[test]
    fn the_server_keeps_the_tokens_sha256() {
        let token = WriteToken::from_bytes([0; 32]);
        // SHA-256 of 32 zero bytes.
        let expected = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";
        let hex: String = token
            .digest()
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
        assert_eq!(token.digest(), token.digest());
        assert_ne!(token.digest(), WriteToken::from_bytes([1; 32]).digest());
    }

    #[test]
    fn a_reply_round_trips() {
        let mut encoder = ReplyEncoder::new(3, 1 << 20);
        encoder.snapshot(7, b"snap").unwrap();
        assert!(encoder.record(8, b"r8").unwrap());
        assert!(encoder.record(10, b"").unwrap());
        let body = encoder.finish();
        assert_eq!(
            body[..ENTRY_HEADER + 4],
            [1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 4, b's', b'n', b'a', b'p']
        );
        assert_eq!(body.len(), 3 * ENTRY_HEADER + 6);
        let reply = decode_reply(&body, 3).unwrap();
        assert_eq!(reply.snapshot, Some((7, &b"snap"[..])));
        assert_eq!(reply.records, [(8, &b"r8"[..]), (10, &b""[..])]);
        assert_eq!((reply.more, reply.last()), (None, Some(10)));
        let nothing = decode_reply(&[], 10).unwrap();
        assert_eq!((nothing.last(), nothing.records.len()), (None, 0));
    }

    #[test]
    fn a_reply_stops_at_its_bound_with_a_more_marker() {
        let record = [9u8; 100];
        let mut encoder = ReplyEncoder::new(0, 3 * (ENTRY_HEADER + 100));
        let mut seq = 0;
        while encoder.record(seq + 1, &record).unwrap() {
            seq += 1;
        }
        assert_eq!(seq, 3);
        assert!(!encoder.record(5, &record).unwrap(), "full stays full");
        let body = encoder.finish();
        let reply = decode_reply(&body, 0).unwrap();
        assert_eq!((reply.records.len(), reply.more), (3, Some(3)));
        assert_eq!(&body[body.len() - MORE_LEN..], [3, 0, 0, 0, 0, 0, 0, 0, 3]);

        // The first entry always goes in, however large; a snapshot can be followed by "more".
        let mut encoder = ReplyEncoder::new(0, 10);
        encoder.snapshot(50, &record).unwrap();
        assert!(!encoder.record(51, b"x").unwrap());
        let body = encoder.finish();
        let reply = decode_reply(&body, 0).unwrap();
        assert_eq!((reply.snapshot.unwrap().0, reply.more), (50, Some(50)));
        let mut encoder = ReplyEncoder::new(0, 10);
        assert!(encoder.record(1, &record).unwrap());
        assert!(!encoder.record(2, b"").unwrap());
    }

    #[test]
    fn the_encoder_refuses_out_of_order_entries() {
        let mut encoder = ReplyEncoder::new(5, 100);
        assert!(encoder.snapshot(5, b"").is_err());
        assert!(encoder.record(5, b"").is_err());
        assert!(encoder.record(6, b"").unwrap());
        assert!(encoder.snapshot(9, b"").is_err(), "the snapshot goes first");
        assert!(encoder.record(6, b"").is_err());
    }

    #[test]
    fn bad_replies_are_errors() {
        let mut good = ReplyEncoder::new(0, 1 << 20);
        good.snapshot(2, b"ab").unwrap();
        good.record(3, b"cd").unwrap();
        let good = good.finish();
        // Every truncation but the entry boundaries is an error; none panics.
        for cut in 0..good.len() {
            let result = decode_reply(&good[..cut], 0);
            let boundary = cut == 0 || cut == ENTRY_HEADER + 2;
            assert_eq!(result.is_ok(), boundary, "cut at {cut}");
        }
        let record = |seq: u64| {
            let mut body = vec![KIND_RECORD];
            body.extend_from_slice(&seq.to_be_bytes());
            body.extend_from_slice(&1u32.to_be_bytes());
            body.push(0);
            body
        };
        let snapshot = |covers: u64| {
            let mut body = record(covers);
            body[0] = KIND_SNAPSHOT;
            body
        };
        let more = |after: u64| {
            let mut body = vec![KIND_MORE];
            body.extend_from_slice(&after.to_be_bytes());
            body
        };
        let cases: [(Vec<u8>, u64, &str); 10] = [
            ([record(2), record(2)].concat(), 0, "increasing"),
            ([record(3), record(2)].concat(), 0, "increasing"),
            (record(4), 4, "increasing"),
            (snapshot(4), 4, "covers no more"),
            ([record(5), snapshot(6)].concat(), 0, "first"),
            ([snapshot(5), snapshot(6)].concat(), 0, "first"),
            ([record(5), more(5), record(6)].concat(), 0, "after its"),
            ([record(5), more(4)].concat(), 0, "does not follow"),
            (more(0), 0, "does not follow"),
            (vec![4, 0, 0, 0, 0, 0, 0, 0, 0], 0, "unknown entry kind 4"),
        ];
        for (body, after, expected) in cases {
            let e = decode_reply(&body, after).unwrap_err();
            assert!(e.0.contains(expected), "{body:?}: {e}");
        }
        // A huge declared length is an error, not an allocation.
        let mut huge = vec![KIND_RECORD];
        huge.extend_from_slice(&1u64.to_be_bytes());
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_reply(&huge, 0).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let body: Vec<u8> = (0..len)
                .map(|i| {
                    let b = (state >> (i % 8 * 8)) as u8;
                    if i == 0 {
                        b % 4
                    } else {
                        b
                    }
                })
                .collect();
            let _ = decode_reply(&body, state % 3);
            let _ = Entries::new(&body).count();
        }
    }

    #[test]
    fn error_bodies_are_json() {
        let body = ErrorBody {
            error: "stale".into(),
            covers: Some(7),
        };
        assert_eq!(body.to_json(), r#"{"error":"stale","covers":7}"#);
        assert_eq!(ErrorBody::parse(&body.to_json()).unwrap(), body);
        assert_eq!(
            ErrorBody::new("no such store").to_json(),
            r#"{"error":"no such store"}"#
        );
        assert!(ErrorBody::parse("<html>").is_err());
        assert_eq!(
            serde_json::to_string(&AppendReply { seq: 3 }).unwrap(),
            r#"{"seq":3}"#
        );
        let id = StoreId::from_bytes([0xab; 16]);
        assert_eq!(
            snapshot_path(&id, 9, 0),
            format!("/store/{}/snapshot?covers=9&replaces=0", "ab".repeat(16))
        );
    }
}
