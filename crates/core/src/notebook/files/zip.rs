//! ZIP archives, small on purpose: written with uncompressed (stored) entries, and read only
//! such, which is what every unzip tool and OS can make sense of. Markdown is small, so
//! compression would buy little. Reading is bounded: entry counts, overlapping entries and
//! sizes are checked against the input, so a crafted archive cannot make it allocate more.

use crate::crc32::crc32;
use std::fmt;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_RECORD: u32 = 0x0605_4b50;
/// General purpose flag bit 11: names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;
const ENCRYPTED: u16 = 1;
/// 1980-01-01 in MS-DOS date format, the earliest a ZIP can say.
const DOS_DATE: u16 = 1 << 5 | 1;
/// Version 2.0, the baseline every reader supports.
const VERSION: u16 = 20;
const STORED: u16 = 0;

#[derive(Default)]
pub(super) struct ZipWriter {
    out: Vec<u8>,
    directory: Vec<u8>,
    entries: usize,
}

impl ZipWriter {
    pub(super) fn add(&mut self, name: &str, data: &[u8]) {
        let fields = shared_fields(name, data);
        let offset = self.out.len() as u32;
        put32(&mut self.out, LOCAL_HEADER);
        self.out.extend_from_slice(&fields);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        put32(&mut self.directory, CENTRAL_HEADER);
        put16(&mut self.directory, VERSION); // made by: MS-DOS, so no Unix permissions
        self.directory.extend_from_slice(&fields);
        put16(&mut self.directory, 0); // comment length
        put16(&mut self.directory, 0); // disk
        put16(&mut self.directory, 0); // internal attributes
        put32(&mut self.directory, 0); // external attributes
        put32(&mut self.directory, offset);
        self.directory.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        let offset = self.out.len() as u32;
        self.out.extend_from_slice(&self.directory);
        put32(&mut self.out, END_RECORD);
        put16(&mut self.out, 0); // this disk
        put16(&mut self.out, 0); // disk where the directory starts
        put16(&mut self.out, self.entries as u16); // on this disk
        put16(&mut self.out, self.entries as u16);
        put32(&mut self.out, self.directory.len() as u32);
        put32(&mut self.out, offset);
        put16(&mut self.out, 0); // comment length
        self.out
    }
}

/// The fields that local and central headers share, from "version needed" to "extra length".
fn shared_fields(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(26);
    put16(&mut out, VERSION);
    put16(&mut out, UTF8_NAMES);
    put16(&mut out, STORED);
    put16(&mut out, 0); // time: midnight
    put16(&mut out, DOS_DATE);
    put32(&mut out, crc32(data));
    put32(&mut out, data.len() as u32); // compressed size
    put32(&mut out, data.len() as u32);
    put16(&mut out, name.len() as u16);
    put16(&mut out, 0); // extra length
    out
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Most entries [`read_zip`] accepts: a notebook has far fewer, and each costs memory.
pub const MAX_ENTRIES: usize = 10_000;

/// Why an archive could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZipError {
    NotAZip,
    /// An entry is compressed with this method (8 is deflate); only stored entries are read.
    Unsupported(u16),
    /// Encryption, ZIP64 or split archives.
    UnsupportedFeature(&'static str),
    /// The archive claims more than [`MAX_ENTRIES`] entries.
    TooManyEntries(usize),
    Corrupt(&'static str),
}

impl fmt::Display for ZipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZipError::NotAZip => f.write_str("the file is not a ZIP archive"),
            ZipError::Unsupported(method) => write!(
                f,
                "the archive is compressed (method {method}); only uncompressed ZIP archives, \
                 such as Commonplace's exports, can be imported: import the .md files instead"
            ),
            ZipError::UnsupportedFeature(what) => {
                write!(f, "the archive uses {what}, which is not supported")
            }
            ZipError::TooManyEntries(n) => {
                write!(
                    f,
                    "the archive has {n} entries; at most {MAX_ENTRIES} can be imported"
                )
            }
            ZipError::Corrupt(what) => write!(f, "the archive is damaged: {what}"),
        }
    }
}

impl std::error::Error for ZipError {}

/// The files in a ZIP archive as (path in the archive, contents), in the central directory's
/// order. Directories and OS clutter (`__MACOSX/`, `.DS_Store`, `._*`, `Thumbs.db`) are left out.
///
/// Reads only stored (uncompressed) entries and checks each one's CRC. Hostile input is
/// refused, never trusted: claimed sizes are checked against the input before anything is
/// copied, and entries that overlap to add up to more than the input are refused.
pub fn read_zip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    let end = EndRecord::find(bytes)?;
    let mut files = Vec::new();
    let mut at = end.directory_offset;
    let mut total = 0;
    for _ in 0..end.entries {
        let entry = CentralEntry::read(bytes, at)?;
        at = entry.next;
        if is_clutter(&entry.name) {
            continue;
        }
        let data = entry.data(bytes)?;
        total += data.len();
        if total > bytes.len() {
            return Err(ZipError::Corrupt("entries overlap"));
        }
        files.push((entry.name, data.to_vec()));
    }
    Ok(files)
}

fn is_clutter(path: &str) -> bool {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    path.ends_with('/')
        || path.split(['/', '\\']).any(|part| part == "__MACOSX")
        || base.starts_with("._")
        || matches!(base, ".DS_Store" | "Thumbs.db" | "desktop.ini")
}

/// The "end of central directory" record.
struct EndRecord {
    entries: usize,
    directory_offset: usize,
}

impl EndRecord {
    const LEN: usize = 22;

    /// Searches backwards past an archive comment of up to 64 KiB.
    fn find(bytes: &[u8]) -> Result<EndRecord, ZipError> {
        let last = bytes.len().checked_sub(Self::LEN);
        let first = bytes
            .len()
            .saturating_sub(Self::LEN + usize::from(u16::MAX));
        let at = last
            .and_then(|last| {
                (first..=last).rev().find(|&at| {
                    read32(bytes, at) == Some(END_RECORD)
                        && read16(bytes, at + 20).is_some_and(|comment| {
                            at + Self::LEN + usize::from(comment) <= bytes.len()
                        })
                })
            })
            .ok_or(if bytes.starts_with(b"PK\x03\x04") {
                ZipError::Corrupt("its end is missing (cut short?)")
            } else {
                ZipError::NotAZip
            })?;
        Self::parse(bytes, at)
    }

    fn parse(bytes: &[u8], at: usize) -> Result<EndRecord, ZipError> {
        let field16 = |offset| read16(bytes, at + offset).ok_or(ZipError::Corrupt("end record"));
        let field32 = |offset| read32(bytes, at + offset).ok_or(ZipError::Corrupt("end record"));
        let (disk, directory_disk) = (field16(4)?, field16(6)?);
        let (on_disk, entries) = (field16(8)?, field16(10)?);
        let (size, offset) = (field32(12)?, field32(16)?);
        if entries == u16::MAX || size == u32::MAX || offset == u32::MAX {
            return Err(ZipError::UnsupportedFeature("ZIP64"));
        }
        if disk != 0 || directory_disk != 0 || on_disk != entries {
            return Err(ZipError::UnsupportedFeature(
                "several parts (a split archive)",
            ));
        }
        let (entries, size, offset) = (usize::from(entries), size as usize, offset as usize);
        if entries > MAX_ENTRIES {
            return Err(ZipError::TooManyEntries(entries));
        }
        if offset.checked_add(size).is_none_or(|end| end > at) {
            return Err(ZipError::Corrupt("the directory lies outside the archive"));
        }
        if entries * CentralEntry::LEN > size {
            return Err(ZipError::Corrupt(
                "the directory is too small for its entries",
            ));
        }
        Ok(EndRecord {
            entries,
            directory_offset: offset,
        })
    }
}

/// One entry of the central directory: what the archive says about a file.
struct CentralEntry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed_size: usize,
    size: usize,
    local_header: usize,
    /// Where the next entry starts.
    next: usize,
}

impl CentralEntry {
    const LEN: usize = 46;

    fn read(bytes: &[u8], at: usize) -> Result<CentralEntry, ZipError> {
        const BAD: ZipError = ZipError::Corrupt("a directory entry is cut short");
        if read32(bytes, at) != Some(CENTRAL_HEADER) {
            return Err(ZipError::Corrupt("a directory entry is missing"));
        }
        let field16 = |offset| read16(bytes, at + offset).map(usize::from).ok_or(BAD);
        let field32 = |offset| read32(bytes, at + offset).ok_or(BAD);
        let name_len = field16(28)?;
        let name = slice(bytes, at + Self::LEN, name_len).ok_or(BAD)?;
        Ok(CentralEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: field16(8)? as u16,
            method: field16(10)? as u16,
            crc: field32(16)?,
            compressed_size: field32(20)? as usize,
            size: field32(24)? as usize,
            local_header: field32(42)? as usize,
            next: at.saturating_add(Self::LEN + name_len + field16(30)? + field16(32)?),
        })
    }

    /// The entry's contents, checked.
    fn data<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], ZipError> {
        const BAD: ZipError = ZipError::Corrupt("a file's header is cut short");
        if self.flags & ENCRYPTED != 0 {
            return Err(ZipError::UnsupportedFeature("encryption"));
        }
        if self.method != STORED {
            return Err(ZipError::Unsupported(self.method));
        }
        if self.compressed_size != self.size {
            return Err(ZipError::Corrupt("an uncompressed file has two sizes"));
        }
        let at = self.local_header;
        if read32(bytes, at) != Some(LOCAL_HEADER) {
            return Err(ZipError::Corrupt("a file's header is missing"));
        }
        let name_len = read16(bytes, at + 26).ok_or(BAD)?;
        let extra_len = read16(bytes, at + 28).ok_or(BAD)?;
        let start = at.saturating_add(30 + usize::from(name_len) + usize::from(extra_len));
        let data = slice(bytes, start, self.size)
            .ok_or(ZipError::Corrupt("a file runs past the end of the archive"))?;
        if crc32(data) != self.crc {
            return Err(ZipError::Corrupt("a file's checksum does not match"));
        }
        Ok(data)
    }
}

/// `len` bytes at `at`, if the input has them. Offsets come from the input, so nothing here
/// may overflow or index out of bounds.
fn slice(bytes: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    bytes.get(at..at.checked_add(len)?)
}

fn read16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(slice(bytes, at, 2)?.try_into().ok()?))
}

fn read32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(slice(bytes, at, 4)?.try_into().ok()?))
}

/// A ZIP whose entries have these names, as another tool might write it.
#[cfg(test)]
pub(super) fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = ZipWriter::default();
    for (name, data) in entries {
        zip.add(name, data.as_bytes());
    }
    zip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(zip: &[u8], signature: u32) -> Vec<usize> {
        (0..zip.len())
            .filter(|&at| read32(zip, at) == Some(signature))
            .collect()
    }

    fn patch16(zip: &mut [u8], at: usize, value: u16) {
        zip[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn compressed_and_encrypted_entries_are_refused() {
        let zip = zip_of(&[("a.md", "hello")]);
        let mut deflated = zip.clone();
        for at in headers(&zip, LOCAL_HEADER) {
            patch16(&mut deflated, at + 8, 8);
        }
        for at in headers(&zip, CENTRAL_HEADER) {
            patch16(&mut deflated, at + 10, 8);
        }
        assert_eq!(read_zip(&deflated), Err(ZipError::Unsupported(8)));
        assert!(ZipError::Unsupported(8).to_string().contains("compressed"));

        let mut encrypted = zip.clone();
        for at in headers(&zip, CENTRAL_HEADER) {
            patch16(&mut encrypted, at + 8, UTF8_NAMES | ENCRYPTED);
        }
        assert_eq!(
            read_zip(&encrypted),
            Err(ZipError::UnsupportedFeature("encryption"))
        );
    }

    #[test]
    fn damage_is_detected() {
        let zip = zip_of(&[("a.md", "hello")]);
        let mut flipped = zip.clone();
        flipped[30 + 4] ^= 1; // first byte of a.md's data
        assert_eq!(
            read_zip(&flipped),
            Err(ZipError::Corrupt("a file's checksum does not match"))
        );

        assert_eq!(read_zip(b"hello"), Err(ZipError::NotAZip));
        assert_eq!(read_zip(b""), Err(ZipError::NotAZip));
        assert!(matches!(
            read_zip(&zip[..zip.len() - 1]),
            Err(ZipError::Corrupt(_))
        ));
    }

    #[test]
    fn claimed_entry_counts_are_bounded() {
        let mut zip = zip_of(&[("a.md", "hello")]);
        let end = zip.len() - EndRecord::LEN;
        patch16(&mut zip, end + 8, 10_001);
        patch16(&mut zip, end + 10, 10_001);
        assert_eq!(read_zip(&zip), Err(ZipError::TooManyEntries(10_001)));
    }

    #[test]
    fn overlapping_entries_cannot_multiply_the_input() {
        // A directory that lists the same 1 KiB file 100 times.
        let data = "x".repeat(1024);
        let one = zip_of(&[("a.md", &data)]);
        let directory_at = headers(&one, CENTRAL_HEADER)[0];
        let end_at = one.len() - EndRecord::LEN;
        let entry = one[directory_at..end_at].to_vec();
        let mut zip = one[..directory_at].to_vec();
        for _ in 0..100 {
            zip.extend_from_slice(&entry);
        }
        let mut end = one[end_at..].to_vec();
        patch16(&mut end, 8, 100);
        patch16(&mut end, 10, 100);
        end[12..16].copy_from_slice(&(100 * entry.len() as u32).to_le_bytes());
        zip.extend_from_slice(&end);
        assert_eq!(read_zip(&zip), Err(ZipError::Corrupt("entries overlap")));
    }
}
