//! A structural check of Yjs v1 payloads (updates, state vectors, awareness updates) before
//! yrs decodes them.
//!
//! yrs 0.28 reserves room for every count it reads (clients, blocks per client, JSON strings,
//! `Any` arrays and maps) before reading what the count counts. A few hostile bytes can claim
//! billions: natively that is address space never touched, in a browser tab (wasm32) memory
//! grown for good or an abort. [`check_v1`] walks the whole update as yrs would read it,
//! allocating nothing, and refuses it if a count is more than the bytes left could hold or the
//! structure ends early. It also bounds how deeply `Any` values nest (yrs reads them
//! recursively, without a bound).
//!
//! The walk reads integers exactly as yrs's `DecoderV1` does (its varints wrap rather than
//! fail past their width, up to 11 bytes), so whatever yrs decodes passes unless it nests
//! deeper than [`MAX_ANY_DEPTH`]. Trailing bytes after the delete set are ignored, as yrs does.
//! It checks shape, not meaning: what it passes, yrs may still refuse.

use std::fmt;

use crate::lib0::Decoder;

/// How deeply `Any` arrays and maps may nest (each level is a frame of yrs's recursive reader).
pub const MAX_ANY_DEPTH: usize = 64;

/// Why a payload was refused: what was being read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCheckError {
    /// The offset of the byte the walk had reached.
    pub at: usize,
    pub kind: CheckErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckErrorKind {
    /// A count (of `what`) larger than the bytes left could hold.
    CountTooLarge { what: &'static str, count: u64 },
    /// The payload ends inside a value.
    Truncated,
    /// A varint longer than yrs reads (11 bytes).
    VarIntTooLong,
    /// A string that is not UTF-8 (yrs refuses it too).
    InvalidUtf8,
    /// A block or content type yrs does not know.
    UnknownType(u8),
    /// `Any` values nested deeper than [`MAX_ANY_DEPTH`].
    TooDeep,
}

impl fmt::Display for UpdateCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            CheckErrorKind::CountTooLarge { what, count } => write!(
                f,
                "the count of {what}, {count}, is more than the bytes left hold (at byte {})",
                self.at
            ),
            CheckErrorKind::Truncated => write!(f, "the payload ends early (at byte {})", self.at),
            CheckErrorKind::VarIntTooLong => {
                write!(f, "a varint is too long (at byte {})", self.at)
            }
            CheckErrorKind::InvalidUtf8 => write!(f, "a string is not UTF-8 (at byte {})", self.at),
            CheckErrorKind::UnknownType(ty) => write!(f, "unknown type {ty} (at byte {})", self.at),
            CheckErrorKind::TooDeep => write!(
                f,
                "values nest deeper than {MAX_ANY_DEPTH} (at byte {})",
                self.at
            ),
        }
    }
}

impl std::error::Error for UpdateCheckError {}

/// Checks a Yjs v1 update (as `Update::decode_v1` reads it): every count it claims is there.
pub fn check_v1(bytes: &[u8]) -> Result<(), UpdateCheckError> {
    let mut walk = Walk::new(bytes);
    // Each client's part: its block count, client id and first clock, a varint each.
    let clients = walk.count_u32("clients", 3)?;
    for _ in 0..clients {
        // The fewest bytes a block takes: GC and Skip, an info byte and a length.
        let blocks = walk.count_u32("blocks", 2)?;
        walk.var_u64()?; // client
        walk.var_u32()?; // clock
        for _ in 0..blocks {
            walk.block()?;
        }
    }
    walk.delete_set()
}

/// Checks a v1 state vector (`StateVector::decode_v1`): a count, then client and clock.
pub fn check_state_vector_v1(bytes: &[u8]) -> Result<(), UpdateCheckError> {
    let mut walk = Walk::new(bytes);
    let entries = walk.count_u32("state vector entries", 2)?;
    for _ in 0..entries {
        walk.var_u64()?;
        walk.var_u32()?;
    }
    Ok(())
}

/// Checks a v1 awareness update (`AwarenessUpdate::decode_v1`): a count, then client, clock
/// and a JSON string.
pub fn check_awareness_v1(bytes: &[u8]) -> Result<(), UpdateCheckError> {
    let mut walk = Walk::new(bytes);
    let entries = walk.count_usize("awareness entries", 3)?;
    for _ in 0..entries {
        walk.var_u64()?;
        walk.var_u32()?;
        walk.string()?;
    }
    Ok(())
}

// yrs's constants (block.rs, types/mod.rs).
const GC: u8 = 0;
const SKIP: u8 = 10;
const HAS_ORIGIN: u8 = 0x80;
const HAS_RIGHT_ORIGIN: u8 = 0x40;
const HAS_PARENT_SUB: u8 = 0x20;
const TYPE_XML_ELEMENT: u8 = 3;

struct Walk<'a> {
    decoder: Decoder<'a>,
    len: usize,
}

impl<'a> Walk<'a> {
    fn new(bytes: &'a [u8]) -> Walk<'a> {
        Walk {
            decoder: Decoder::new(bytes),
            len: bytes.len(),
        }
    }

    fn at(&self) -> usize {
        self.len - self.decoder.rest().len()
    }

    fn error(&self, kind: CheckErrorKind) -> UpdateCheckError {
        UpdateCheckError {
            at: self.at(),
            kind,
        }
    }

    fn u8(&mut self) -> Result<u8, UpdateCheckError> {
        self.decoder
            .read_u8()
            .map_err(|_| self.error(CheckErrorKind::Truncated))
    }

    fn skip(&mut self, len: usize) -> Result<&'a [u8], UpdateCheckError> {
        self.decoder
            .read_exact(len)
            .map_err(|_| self.error(CheckErrorKind::Truncated))
    }

    /// yrs's `read_var_u64`: 7 bits a byte, the shift wrapping at 64, at most 11 bytes.
    fn var_u64(&mut self) -> Result<u64, UpdateCheckError> {
        self.var_uint(u64::BITS)
    }

    /// yrs's `read_var_u32`: as [`Self::var_u64`], the shift wrapping at 32.
    fn var_u32(&mut self) -> Result<u32, UpdateCheckError> {
        Ok(self.var_uint(u32::BITS)? as u32)
    }

    /// A varint read into `width` bits as yrs reads it: each byte's 7 bits shifted by
    /// (7 × its place) modulo `width` (Rust's `wrapping_shl`), bits past `width` dropped.
    fn var_uint(&mut self, width: u32) -> Result<u64, UpdateCheckError> {
        let mut num = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8()?;
            num |= u64::from(byte & 0x7f) << (shift % width);
            shift += 7;
            if byte < 0x80 {
                return Ok(if width < u64::BITS {
                    num & ((1 << width) - 1)
                } else {
                    num
                });
            }
            if shift > 70 {
                return Err(self.error(CheckErrorKind::VarIntTooLong));
            }
        }
    }

    /// yrs's `read_var_i64`, skipped: a first byte of 6 bits, then at most 10 more.
    fn var_i64(&mut self) -> Result<(), UpdateCheckError> {
        if self.u8()? < 0x80 {
            return Ok(());
        }
        let mut shift = 6;
        loop {
            let byte = self.u8()?;
            shift += 7;
            if byte < 0x80 {
                return Ok(());
            }
            if shift > 70 {
                return Err(self.error(CheckErrorKind::VarIntTooLong));
            }
        }
    }

    /// A count read as yrs reads it into a `u32`, refused if the bytes left cannot hold that
    /// many items of at least `item_min` bytes.
    fn count_u32(&mut self, what: &'static str, item_min: usize) -> Result<u32, UpdateCheckError> {
        let count = self.var_u32()?;
        self.bound(what, u64::from(count), item_min)?;
        Ok(count)
    }

    /// A count yrs reads as a `usize` (a `u64` cut to the target's width, as yrs casts it).
    fn count_usize(
        &mut self,
        what: &'static str,
        item_min: usize,
    ) -> Result<usize, UpdateCheckError> {
        let count = self.var_u64()? as usize;
        self.bound(what, count as u64, item_min)?;
        Ok(count)
    }

    fn bound(
        &self,
        what: &'static str,
        count: u64,
        item_min: usize,
    ) -> Result<(), UpdateCheckError> {
        if count > (self.decoder.rest().len() / item_min) as u64 {
            return Err(self.error(CheckErrorKind::CountTooLarge { what, count }));
        }
        Ok(())
    }

    /// yrs's `read_buf`: a `u32` length, then the bytes.
    fn buf(&mut self) -> Result<&'a [u8], UpdateCheckError> {
        let len = self.var_u32()?;
        self.skip(len as usize)
    }

    /// yrs's `read_string`: a buffer that must be UTF-8.
    fn string(&mut self) -> Result<(), UpdateCheckError> {
        let start = self.at();
        let bytes = self.buf()?;
        std::str::from_utf8(bytes).map_err(|_| UpdateCheckError {
            at: start,
            kind: CheckErrorKind::InvalidUtf8,
        })?;
        Ok(())
    }

    /// `Update::decode_block`.
    fn block(&mut self) -> Result<(), UpdateCheckError> {
        let info = self.u8()?;
        if info == GC || info == SKIP {
            self.var_u32()?; // the length (yrs refuses 0)
            return Ok(());
        }
        let copies_parent = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) != 0;
        if info & HAS_ORIGIN != 0 {
            self.var_u64()?;
            self.var_u32()?;
        }
        if info & HAS_RIGHT_ORIGIN != 0 {
            self.var_u64()?;
            self.var_u32()?;
        }
        if !copies_parent {
            if self.var_u32()? == 1 {
                self.string()?; // a root type's name
            } else {
                self.var_u64()?; // the parent's id
                self.var_u32()?;
            }
            if info & HAS_PARENT_SUB != 0 {
                self.string()?;
            }
        }
        self.content(info & 0x0f)
    }

    /// `ItemContent::decode`.
    fn content(&mut self, content_ref: u8) -> Result<(), UpdateCheckError> {
        match content_ref {
            1 => {
                self.var_u32()?; // deleted length
            }
            2 => {
                // yrs reads one string more than the count says (`while remaining >= 0`), and
                // refuses a count past i32::MAX (its reservation of it fails).
                let count = self.count_u32("JSON strings", 1)?;
                for _ in 0..=count {
                    self.string()?;
                }
            }
            3 => {
                self.buf()?;
            }
            4 | 5 => self.string()?, // a string; an embed's JSON
            6 => {
                self.string()?; // key
                self.string()?; // JSON value
            }
            7 => {
                let type_ref = self.u8()?;
                match type_ref {
                    TYPE_XML_ELEMENT => self.string()?,
                    0 | 1 | 2 | 4 | 5 | 6 | 9 | 15 => {}
                    other => return Err(self.error(CheckErrorKind::UnknownType(other))),
                }
            }
            8 => {
                let count = self.count_u32("Any values", 1)?;
                for _ in 0..count {
                    self.any(0)?;
                }
            }
            9 => {
                self.string()?; // guid
                self.any(0)?; // options
            }
            other => return Err(self.error(CheckErrorKind::UnknownType(other))),
        }
        Ok(())
    }

    /// `Any::decode`, as yrs reads it (not as `crypto::decode_any` reads lib0's JSON subset).
    fn any(&mut self, depth: usize) -> Result<(), UpdateCheckError> {
        if depth > MAX_ANY_DEPTH {
            return Err(self.error(CheckErrorKind::TooDeep));
        }
        match self.u8()? {
            127 | 126 | 121 | 120 => {}
            125 => self.var_i64()?,
            124 => {
                self.skip(4)?;
            }
            123 | 122 => {
                self.skip(8)?;
            }
            119 => self.string()?,
            118 => {
                // An entry is at least a key's length and a value's tag.
                let len = self.count_usize("Any map entries", 2)?;
                for _ in 0..len {
                    self.string()?;
                    self.any(depth + 1)?;
                }
            }
            117 => {
                let len = self.count_usize("Any array items", 1)?;
                for _ in 0..len {
                    self.any(depth + 1)?;
                }
            }
            116 => {
                self.buf()?;
            }
            other => return Err(self.error(CheckErrorKind::UnknownType(other))),
        }
        Ok(())
    }

    /// `IdSet::decode`: clients, each with its ranges (a clock and a length).
    fn delete_set(&mut self) -> Result<(), UpdateCheckError> {
        // A client: its id and its range count.
        let clients = self.count_u32("delete set clients", 2)?;
        for _ in 0..clients {
            self.var_u64()?;
            let ranges = self.count_u32("deleted ranges", 2)?;
            for _ in 0..ranges {
                self.var_u32()?;
                self.var_u32()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lib0::{write_var_string, write_var_uint};

    /// One client (id 1, clock 0) with `blocks` claimed, then `body`.
    fn update(blocks: u64, body: &[u8]) -> Vec<u8> {
        let mut out = vec![1];
        write_var_uint(&mut out, blocks);
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(body);
        out
    }

    /// An item in root type "p" (info byte `content_ref`, no origins) and its content.
    fn item(content_ref: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![content_ref, 1];
        write_var_string(&mut out, "p");
        out.extend_from_slice(content);
        out
    }

    fn refused_count(bytes: &[u8]) -> Option<&'static str> {
        match check_v1(bytes) {
            Err(UpdateCheckError {
                kind: CheckErrorKind::CountTooLarge { what, .. },
                ..
            }) => Some(what),
            _ => None,
        }
    }

    #[test]
    fn well_formed_updates_pass() {
        // The empty update, and one client with one string item, a GC, and a delete set.
        assert_eq!(check_v1(&[0, 0]), Ok(()));
        let mut body = item(4, &[2, b'h', b'i']);
        body.extend_from_slice(&[0, 3]); // GC of 3
        body.extend_from_slice(&[1, 1, 1, 0, 2]); // client 1 deletes 0..2
        assert_eq!(check_v1(&update(2, &body)), Ok(()));
        // Bytes after the delete set are ignored, as yrs ignores them.
        assert_eq!(check_v1(&[0, 0, 0xff, 0xff]), Ok(()));
        // Any values of every kind, nested.
        let any = [
            117, 3, 125, 0x81, 0x01, 118, 1, 1, b'k', 116, 2, 9, 9, 124, 0, 0, 0, 0,
        ];
        let mut content = vec![1];
        content.extend_from_slice(&any);
        let mut body = item(8, &content);
        body.push(0);
        assert_eq!(check_v1(&update(1, &body)), Ok(()));
    }

    /// What yrs 0.28 would reserve room for before reading: each refused by its count.
    #[test]
    fn counts_past_the_bytes_are_refused() {
        // 2^32 - 1 clients; 2^32 - 1 blocks in one client.
        assert_eq!(
            refused_count(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]),
            Some("clients")
        );
        assert_eq!(
            refused_count(&update(u32::MAX.into(), &[0; 8])),
            Some("blocks")
        );
        // A JSON item claiming 2^31 strings.
        let huge = [0x80, 0x80, 0x80, 0x80, 0x08];
        assert_eq!(
            refused_count(&update(1, &item(2, &huge))),
            Some("JSON strings")
        );
        // An Any item claiming 2^31 values; one value, an array or a map claiming 2^40.
        assert_eq!(
            refused_count(&update(1, &item(8, &huge))),
            Some("Any values")
        );
        let mut array = vec![1, 117];
        write_var_uint(&mut array, 1 << 40);
        assert_eq!(
            refused_count(&update(1, &item(8, &array))),
            Some("Any array items")
        );
        let mut map = vec![1, 118];
        write_var_uint(&mut map, 1 << 40);
        assert_eq!(
            refused_count(&update(1, &item(8, &map))),
            Some("Any map entries")
        );
        // The same inside a subdocument's options.
        let mut doc = vec![0, 118];
        write_var_uint(&mut doc, 1 << 40);
        assert_eq!(
            refused_count(&update(1, &item(9, &doc))),
            Some("Any map entries")
        );
        // A delete set claiming 2^32 - 1 clients, or ranges.
        assert_eq!(
            refused_count(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]),
            Some("delete set clients")
        );
        assert_eq!(
            refused_count(&[0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]),
            Some("deleted ranges")
        );
        // A state vector and an awareness update likewise.
        assert!(check_state_vector_v1(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 1]).is_err());
        assert_eq!(check_state_vector_v1(&[2, 1, 1, 2, 2]), Ok(()));
        assert!(check_awareness_v1(&[0xac, 0xac, 0xac, 0x65, 0x72]).is_err());
        assert_eq!(check_awareness_v1(&[1, 5, 1, 2, b'{', b'}']), Ok(()));
    }

    #[test]
    fn counts_are_read_as_yrs_reads_them() {
        // yrs reads a count into a u32 with the shift wrapping: 2^32 + 1 in 5 bytes is 1.
        let mut one = Vec::new();
        write_var_uint(&mut one, (1 << 32) + 1);
        one.extend_from_slice(&[0, 1, 0, 0]);
        assert_eq!(check_v1(&one), Ok(()));
        // yrs reads one JSON string more than the count says.
        // A count of 1 with one string: the delete set's byte is read as the second string.
        let mut json = vec![1];
        write_var_string(&mut json, "1");
        write_var_string(&mut json, "2");
        let mut body = item(2, &json[..3]);
        body.push(0);
        assert_eq!(
            check_v1(&update(1, &body)).map_err(|e| e.kind),
            Err(CheckErrorKind::Truncated)
        );
        let mut body = item(2, &json);
        body.push(0);
        assert_eq!(check_v1(&update(1, &body)), Ok(()));
    }

    #[test]
    fn malformed_updates_are_errors_not_panics() {
        // Any nested past the bound.
        let mut deep = vec![1];
        for _ in 0..=MAX_ANY_DEPTH + 1 {
            deep.extend_from_slice(&[117, 1]);
        }
        deep.push(126);
        let mut body = item(8, &deep);
        body.push(0);
        assert_eq!(
            check_v1(&update(1, &body)).map_err(|e| e.kind),
            Err(CheckErrorKind::TooDeep)
        );
        // Unknown content and type refs, bad UTF-8, a varint of 12 bytes.
        for bad in [item(11, &[]), item(7, &[8]), item(4, &[1, 0xff])] {
            let mut bad = update(1, &bad);
            bad.push(0);
            assert!(check_v1(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_v1(&[0xff; 12]).map_err(|e| e.kind),
            Err(CheckErrorKind::VarIntTooLong)
        );
        // Every prefix of a good update is refused (or, cut at the end, passes), never panics.
        let mut body = item(4, &[2, b'h', b'i']);
        body.extend_from_slice(&[1, 1, 1, 0, 2]);
        let good = update(1, &body);
        for cut in 0..good.len() {
            assert!(check_v1(&good[..cut]).is_err(), "cut at {cut}");
        }
    }
}
