//! A notebook as plain markdown files: exported as a ZIP of `<title>.md`, imported from `.md`
//! files or such a ZIP. Plain files are the way out of the app and the way in from other tools,
//! so import is forgiving of files people made by hand.
//!
//! The ZIP code is small on purpose: export writes uncompressed (stored) entries, and import
//! reads only those, which is what every unzip tool and OS can make sense of. Markdown is small,
//! so compression would buy little.

use std::collections::HashSet;
use std::fmt;

/// One page as a file: its title (the file's name) and its markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPage {
    pub title: String,
    pub body: String,
}

/// Extensions that import takes as markdown, compared case-insensitively.
const MARKDOWN_EXTENSIONS: [&str; 3] = [".md", ".markdown", ".txt"];

/// The stem of an empty title. Encoding escapes every `%`, so no other title encodes to a lone
/// `%`; an empty stem would make the hidden file `.md`.
const EMPTY_STEM: &str = "%";

/// Longest stem a ZIP entry gets, in bytes: file systems allow 255 bytes per name, and
/// ` (NN).md` must still fit.
const MAX_STEM: usize = 240;

/// The file name for a page titled `title`: `<title>.md`, with the characters that some file
/// system, OS or unzip tool rejects or mangles percent-encoded (`%XX`, uppercase hex of the
/// UTF-8 bytes), so that [`title_from_file_name`] gives back exactly `title`.
///
/// Encoded: `/ \ : * ? " < > | %`, ASCII control characters, a leading `.` (hidden file) or
/// space, a trailing space, and the first letter of a Windows device name (`CON`, `nul.txt`,
/// `COM1`…). Everything else, Unicode included, stays as it is. The empty title is `%.md`.
pub fn file_name(title: &str) -> String {
    format!("{}.md", encode_stem(title))
}

fn encode_stem(title: &str) -> String {
    if title.is_empty() {
        return EMPTY_STEM.to_owned();
    }
    let last = title.chars().count() - 1;
    let device = is_windows_device_name(title);
    let mut stem = String::with_capacity(title.len());
    for (i, c) in title.chars().enumerate() {
        let at_edge = (i == 0 && (c == '.' || c == ' ' || device)) || (i == last && c == ' ');
        if at_edge || is_unsafe_in_file_name(c) {
            for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                stem.push_str(&format!("%{byte:02X}"));
            }
        } else {
            stem.push(c);
        }
    }
    stem
}

fn is_unsafe_in_file_name(c: char) -> bool {
    matches!(
        c,
        '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '%'
    ) || c.is_ascii_control()
}

/// Windows refuses these names whatever the extension (`CON.md`, `con.notes.md`).
fn is_windows_device_name(title: &str) -> bool {
    let base = title
        .split('.')
        .next()
        .unwrap_or(title)
        .trim_end_matches(' ');
    let upper = base.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => upper
            .strip_prefix("COM")
            .or_else(|| upper.strip_prefix("LPT"))
            .is_some_and(|digit| digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit()),
    }
}

/// The title for a file name: the inverse of [`file_name`], and forgiving of names people made.
/// Drops any directory part and one `.md`, `.markdown` or `.txt` extension (any case), and
/// decodes `%XX` sequences whose bytes are UTF-8; anything else is kept literally.
pub fn title_from_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = strip_markdown_extension(base).unwrap_or(base);
    if stem == EMPTY_STEM {
        return String::new();
    }
    percent_decode(stem)
}

/// The name without its markdown extension, or `None` if it has none.
fn strip_markdown_extension(name: &str) -> Option<&str> {
    MARKDOWN_EXTENSIONS.iter().find_map(|extension| {
        let split = name.len().checked_sub(extension.len())?;
        let (stem, tail) = (name.get(..split)?, name.get(split..)?);
        tail.eq_ignore_ascii_case(extension).then_some(stem)
    })
}

fn is_markdown_name(name: &str) -> bool {
    strip_markdown_extension(name).is_some()
}

fn percent_decode(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        let run = escaped_run_len(rest.as_bytes());
        if run == 0 {
            decoded.push('%');
            rest = &rest[1..];
        } else {
            decode_run(&rest[..run], &mut decoded);
            rest = &rest[run..];
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Length in bytes of the `%XX%XX…` run that `text` starts with.
fn escaped_run_len(text: &[u8]) -> usize {
    text.chunks(3)
        .take_while(|c| c.len() == 3 && c[0] == b'%' && hex(c[1]).is_some() && hex(c[2]).is_some())
        .count()
        * 3
}

/// Decodes a run of `%XX` escapes: bytes that form UTF-8 become text, the others stay escaped
/// as they were written.
fn decode_run(escaped: &str, decoded: &mut String) {
    let bytes: Vec<u8> = escaped
        .as_bytes()
        .chunks(3)
        .map(|c| hex(c[1]).unwrap_or(0) << 4 | hex(c[2]).unwrap_or(0))
        .collect();
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        decoded.push_str(chunk.valid());
        at += chunk.valid().len();
        let invalid = chunk.invalid().len();
        decoded.push_str(&escaped[3 * at..3 * (at + invalid)]);
        at += invalid;
    }
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// The notebook as a ZIP archive: one `file_name(title)` entry per page, in order.
///
/// Names that would clash on a case-insensitive file system get ` (2)`, ` (3)`… before `.md`,
/// and stems past 240 bytes are cut; such titles do not round-trip exactly. The output depends
/// on the pages only (every date is 1980-01-01), so exporting twice gives the same bytes.
/// ZIP64 is not written: past 65,535 pages or 4 GiB the counts would wrap.
pub fn notebook_zip(pages: &[ExportedPage]) -> Vec<u8> {
    let mut zip = ZipWriter::default();
    for (name, page) in entry_names(pages).iter().zip(pages) {
        zip.add(name, page.body.as_bytes());
    }
    zip.finish()
}

/// Unique entry names, comparing as a case-insensitive file system would.
fn entry_names(pages: &[ExportedPage]) -> Vec<String> {
    let mut taken = HashSet::new();
    pages
        .iter()
        .map(|page| {
            let stem = shorten(encode_stem(&page.title));
            let mut name = format!("{stem}.md");
            let mut n = 1;
            while !taken.insert(name.to_lowercase()) {
                n += 1;
                name = format!("{stem} ({n}).md");
            }
            name
        })
        .collect()
}

/// Cuts `stem` to at most [`MAX_STEM`] bytes on a character boundary, never inside an escape.
fn shorten(mut stem: String) -> String {
    if stem.len() <= MAX_STEM {
        return stem;
    }
    let mut cut = MAX_STEM;
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    // `%` is ASCII, so cutting before it is cutting on a character boundary.
    if let Some(percent) = stem.as_bytes()[cut - 2..cut]
        .iter()
        .position(|&b| b == b'%')
    {
        cut = cut - 2 + percent;
    }
    stem.truncate(cut);
    stem
}

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
struct ZipWriter {
    out: Vec<u8>,
    directory: Vec<u8>,
    entries: usize,
}

impl ZipWriter {
    fn add(&mut self, name: &str, data: &[u8]) {
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

    fn finish(mut self) -> Vec<u8> {
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

/// CRC-32 (IEEE, as ZIP, gzip and PNG use it), one table lookup per byte.
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0, |crc, &byte| {
        CRC_TABLE[((crc ^ byte as u32) & 0xff) as usize] ^ (crc >> 8)
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

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

/// Why files could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    Zip(ZipError),
    /// This file's contents are not UTF-8 text.
    NotUtf8(String),
    /// This file is neither markdown (`.md`, `.markdown`, `.txt`) nor a ZIP archive.
    NotMarkdown(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Zip(error) => error.fmt(f),
            ImportError::NotUtf8(name) => write!(f, "{name} is not UTF-8 text"),
            ImportError::NotMarkdown(name) => {
                write!(
                    f,
                    "{name} is not a markdown file (.md, .markdown, .txt) or a ZIP archive"
                )
            }
        }
    }
}

impl std::error::Error for ImportError {}

impl From<ZipError> for ImportError {
    fn from(error: ZipError) -> Self {
        ImportError::Zip(error)
    }
}

/// Pages from (file name, contents) pairs, in order; files without a markdown extension are
/// skipped. A UTF-8 byte order mark is dropped and line breaks become `\n`, as a textarea
/// would make them, so that an imported page does not change the moment it is edited.
pub fn import_markdown(files: Vec<(String, Vec<u8>)>) -> Result<Vec<ExportedPage>, ImportError> {
    files
        .into_iter()
        .filter(|(name, _)| is_markdown_name(name))
        .map(|(name, bytes)| page_from_file(name, bytes))
        .collect()
}

/// Pages from one file a person picked: a markdown file, or a ZIP of them (recognised by its
/// contents, or by a `.zip` name so that a broken one says why). A ZIP without markdown gives
/// no pages.
pub fn import_files(name: &str, bytes: Vec<u8>) -> Result<Vec<ExportedPage>, ImportError> {
    let zip_name = name.len() >= 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|e| e.eq_ignore_ascii_case(".zip"));
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") || zip_name {
        import_markdown(read_zip(&bytes)?)
    } else if is_markdown_name(name) {
        Ok(vec![page_from_file(name.to_owned(), bytes)?])
    } else {
        Err(ImportError::NotMarkdown(name.to_owned()))
    }
}

fn page_from_file(name: String, bytes: Vec<u8>) -> Result<ExportedPage, ImportError> {
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(ImportError::NotUtf8(name));
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let body = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    };
    Ok(ExportedPage {
        title: title_from_file_name(&name),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Titles that exercise every rule of the encoding.
    fn awkward_titles() -> Vec<String> {
        let mut titles: Vec<String> = [
            "",
            " ",
            ".",
            "..",
            "...",
            " . ",
            ".hidden",
            " lead",
            "trail ",
            "trail.",
            "a/b\\c:d*e?f\"g<h>i|j%k",
            "%",
            "%%",
            "%41",
            "%2",
            "%zz",
            "100%",
            "a.md",
            "a.MD",
            "a.txt",
            "a.markdown",
            "CON",
            "con.txt",
            "Con .md",
            "nul",
            "aux.",
            "COM1",
            "lpt9.notes",
            "COM",
            "COM10",
            "CONSOLE",
            "é",
            "日本語のノート",
            "emoji 🦀 crab",
            "tab\there",
            "line\nbreak",
            "\u{7f}",
            "\u{0}",
            "  ",
            "\u{feff}bom",
            "Ünïcödé…",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        titles.extend((0u8..0x80).map(|b| format!("{}", b as char)));
        titles.extend((0u8..0x80).map(|b| format!("x{}x", b as char)));
        titles
    }

    fn assert_safe(name: &str) {
        let stem = name.strip_suffix(".md").expect("ends with .md");
        assert!(!stem.is_empty(), "{name:?}");
        assert!(!stem.starts_with(['.', ' ']), "{name:?}");
        assert!(!stem.ends_with(' '), "{name:?}");
        assert!(
            !stem
                .chars()
                .any(|c| matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')),
            "{name:?}"
        );
        assert!(!stem.chars().any(|c| c.is_ascii_control()), "{name:?}");
        assert!(!is_windows_device_name(stem), "{name:?}");
    }

    #[test]
    fn titles_round_trip_through_safe_file_names() {
        for title in awkward_titles() {
            let name = file_name(&title);
            assert_safe(&name);
            assert_eq!(title_from_file_name(&name), title, "via {name:?}");
        }
    }

    #[test]
    fn random_titles_round_trip() {
        let palette: Vec<char> = "ab .%/\\:*?\"<>|\u{0}\u{1f}\u{7f}é日🦀%4A1Cc"
            .chars()
            .collect();
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..5000 {
            let len = rng.random_range(0..8);
            let title: String = (0..len)
                .map(|_| palette[rng.random_range(0..palette.len())])
                .collect();
            let name = file_name(&title);
            assert_safe(&name);
            assert_eq!(title_from_file_name(&name), title, "via {name:?}");
        }
    }

    #[test]
    fn ordinary_titles_are_kept_as_they_are() {
        assert_eq!(file_name("Shopping list"), "Shopping list.md");
        assert_eq!(file_name("Café 日本 🦀"), "Café 日本 🦀.md");
        assert_eq!(file_name("What? 50%: a/b"), "What%3F 50%25%3A a%2Fb.md");
        assert_eq!(file_name(".env"), "%2Eenv.md");
        assert_eq!(file_name("con"), "%63on.md");
        assert_eq!(file_name(""), "%.md");
    }

    #[test]
    fn hand_made_names_are_read_forgivingly() {
        for (name, title) in [
            ("Notes.md", "Notes"),
            ("dir/sub/Notes.MD", "Notes"),
            ("C:\\Users\\me\\Plan.Markdown", "Plan"),
            ("todo.txt", "todo"),
            ("no extension", "no extension"),
            ("archive.md.md", "archive.md"),
            (".md", ""),
            ("日.md", "日"),
            ("é", "é"),
            ("%C3%A9t%c3%a9.md", "été"),
            ("100%.md", "100%"),
            ("%zz%4%.md", "%zz%4%"),
            ("%E9t%E9.md", "%E9t%E9"),
            ("%C3%A9%FF%41.md", "é%FFA"),
            ("%F0%9F%A6.md", "%F0%9F%A6"),
            ("%F0%9F%A6%80.md", "🦀"),
            ("%2541.md", "%41"),
        ] {
            assert_eq!(title_from_file_name(name), title, "{name:?}");
        }
    }

    #[test]
    fn title_from_file_name_never_panics() {
        let palette: Vec<char> = "%%%0aAfFgG9/\\.mdMDtx é日\u{80}".chars().collect();
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let len = rng.random_range(0..12);
            let name: String = (0..len)
                .map(|_| palette[rng.random_range(0..palette.len())])
                .collect();
            title_from_file_name(&name);
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    fn page(title: &str, body: &str) -> ExportedPage {
        ExportedPage {
            title: title.to_owned(),
            body: body.to_owned(),
        }
    }

    fn sample() -> Vec<ExportedPage> {
        vec![
            page("Shopping list", "- eggs\n- milk\n"),
            page("What? 50%: a/b", "# Odd\n"),
            page("日本語", "こんにちは 🦀"),
            page("", ""),
            page(".hidden", "dot"),
        ]
    }

    #[test]
    fn zip_reads_back_what_was_written() {
        let pages = sample();
        let zip = notebook_zip(&pages);
        let files = read_zip(&zip).unwrap();
        let names: Vec<_> = files.iter().map(|(name, _)| name.clone()).collect();
        let expected: Vec<_> = pages.iter().map(|p| file_name(&p.title)).collect();
        assert_eq!(names, expected);
        assert_eq!(import_markdown(files).unwrap(), pages);
        assert_eq!(import_files("notebook.zip", zip.clone()).unwrap(), pages);
        assert_eq!(notebook_zip(&pages), zip, "deterministic");
    }

    #[test]
    fn empty_notebook_is_an_empty_zip() {
        let zip = notebook_zip(&[]);
        assert_eq!(zip.len(), 22);
        assert_eq!(read_zip(&zip).unwrap(), vec![]);
        assert_eq!(import_files("x", zip).unwrap(), vec![]);
    }

    #[test]
    fn clashing_names_are_numbered() {
        let pages: Vec<_> = ["a", "A", "a", "a (2)", "b"]
            .iter()
            .map(|t| page(t, t))
            .collect();
        let names: Vec<_> = read_zip(&notebook_zip(&pages))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            ["a.md", "A (2).md", "a (3).md", "a (2) (2).md", "b.md"]
        );
    }

    #[test]
    fn long_titles_are_cut_to_fit_a_file_name() {
        for title in [
            "x".repeat(1000),
            "é".repeat(300),
            "?".repeat(300),
            format!("a{}", "?".repeat(300)),
        ] {
            let pages = [page(&title, ""), page(&title, "")];
            for (name, _) in read_zip(&notebook_zip(&pages)).unwrap() {
                assert!(name.len() <= 255, "{} bytes", name.len());
                let stem = name.split(" (").next().unwrap().trim_end_matches(".md");
                assert!(title.starts_with(&title_from_file_name(stem)), "{name}");
                assert!(
                    !title_from_file_name(stem).contains('%'),
                    "an escape was cut: {name}"
                );
            }
        }
    }

    /// A ZIP whose entries have these names, as another tool might write it.
    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = ZipWriter::default();
        for (name, data) in entries {
            zip.add(name, data.as_bytes());
        }
        zip.finish()
    }

    #[test]
    fn clutter_and_directories_are_skipped() {
        let zip = zip_of(&[
            ("notes/", ""),
            ("notes/a.md", "A"),
            ("__MACOSX/notes/._a.md", "junk"),
            ("notes/.DS_Store", "junk"),
            ("notes/._b.md", "junk"),
            ("Thumbs.db", "junk"),
            ("notes/pic.png", "png"),
            ("notes/b.markdown", "B"),
        ]);
        let files = read_zip(&zip).unwrap();
        let names: Vec<_> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["notes/a.md", "notes/pic.png", "notes/b.markdown"]);
        assert_eq!(
            import_markdown(files).unwrap(),
            [page("a", "A"), page("b", "B")]
        );
    }

    #[test]
    fn an_archive_comment_is_allowed() {
        let mut zip = notebook_zip(&sample());
        let comment = b"made by hand";
        let len = zip.len();
        zip[len - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
        zip.extend_from_slice(comment);
        assert_eq!(import_markdown(read_zip(&zip).unwrap()).unwrap(), sample());
    }

    /// Offsets of every occurrence of a header signature.
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

    #[test]
    fn truncated_archives_are_refused_without_panicking() {
        let zip = notebook_zip(&sample());
        for len in 0..zip.len() {
            assert!(read_zip(&zip[..len]).is_err(), "cut to {len}");
            let _ = import_files("n.zip", zip[..len].to_vec());
        }
    }

    #[test]
    fn mutated_archives_never_panic() {
        let zip = notebook_zip(&sample());
        let mut rng = SmallRng::seed_from_u64(3);
        let interesting = [0x00, 0xff, 0x7f, 0x80, 0x50, 0x4b];
        for _ in 0..20_000 {
            let mut bytes = zip.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = if rng.random_bool(0.5) {
                    interesting[rng.random_range(0..interesting.len())]
                } else {
                    rng.random()
                };
            }
            if let Ok(files) = read_zip(&bytes) {
                assert!(files.iter().map(|(_, d)| d.len()).sum::<usize>() <= bytes.len());
                let _ = import_markdown(files);
            }
        }
    }

    #[test]
    fn single_files_are_imported() {
        let bytes = b"\xef\xbb\xbf# Title\r\nline\rold mac\n".to_vec();
        assert_eq!(
            import_files("Plan.MD", bytes).unwrap(),
            [page("Plan", "# Title\nline\nold mac\n")]
        );
        assert_eq!(
            import_files("a.txt", b"\xff".to_vec()),
            Err(ImportError::NotUtf8("a.txt".into()))
        );
        assert_eq!(
            import_files("a.png", b"\x89PNG".to_vec()),
            Err(ImportError::NotMarkdown("a.png".into()))
        );
        assert_eq!(
            import_files("broken.zip", b"nope".to_vec()),
            Err(ImportError::Zip(ZipError::NotAZip))
        );
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("commonplace-{}-{name}.zip", std::process::id()))
    }

    /// Runs `program` with `args`; `None` if it is not installed.
    fn run(program: &str, args: &[&std::ffi::OsStr]) -> Option<std::process::Output> {
        let output = std::process::Command::new(program).args(args).output().ok();
        if output.is_none() {
            eprintln!("skipped: {program} is not installed");
        }
        output
    }

    #[test]
    fn unzip_accepts_the_archive() {
        let path = temp_path("unzip");
        std::fs::write(&path, notebook_zip(&sample())).unwrap();
        let output = run("unzip", &["-t".as_ref(), path.as_ref()]);
        std::fs::remove_file(&path).unwrap();
        let Some(output) = output else { return };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("No errors detected"), "{stdout}");
    }

    #[test]
    fn python_zipfile_reads_the_archive() {
        let path = temp_path("python-read");
        std::fs::write(&path, notebook_zip(&sample())).unwrap();
        let script = "import sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps([[i.filename, z.read(i).decode(), i.date_time[:3]] for i in z.infolist()]))";
        let output = run("python3", &["-c".as_ref(), script.as_ref(), path.as_ref()]);
        std::fs::remove_file(&path).unwrap();
        let Some(output) = output else { return };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let read: Vec<(String, String, Vec<u16>)> = serde_json::from_slice(&output.stdout).unwrap();
        let expected: Vec<_> = sample()
            .into_iter()
            .map(|p| (file_name(&p.title), p.body, vec![1980, 1, 1]))
            .collect();
        assert_eq!(read, expected);
    }

    /// Archives another tool wrote: stored ones are read, deflated ones get a clear error.
    #[test]
    fn python_zipfile_archives_are_read_or_refused() {
        let script = r"import sys, zipfile
for path, method in [(sys.argv[1], zipfile.ZIP_STORED), (sys.argv[2], zipfile.ZIP_DEFLATED)]:
    with zipfile.ZipFile(path, 'w', method) as z:
        z.writestr('Notes/', '')
        z.writestr('Notes/Café.md', '# Café\r\n' * 20)
        z.writestr('Notes/a%3Fb.md', 'q')";
        let (stored, deflated) = (temp_path("python-stored"), temp_path("python-deflated"));
        let args = [
            "-c".as_ref(),
            script.as_ref(),
            stored.as_os_str(),
            deflated.as_os_str(),
        ];
        let output = run("python3", &args);
        let read = |path| {
            let bytes = std::fs::read(path).unwrap();
            std::fs::remove_file(path).unwrap();
            bytes
        };
        let Some(output) = output else { return };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            import_files("notes.zip", read(&stored)).unwrap(),
            [page("Café", &"# Café\n".repeat(20)), page("a?b", "q")]
        );
        assert_eq!(
            import_files("notes.zip", read(&deflated)),
            Err(ImportError::Zip(ZipError::Unsupported(8)))
        );
    }
}
