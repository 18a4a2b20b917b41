//! A notebook as plain markdown files: exported as a ZIP of `<title>.md`, imported from `.md`
//! files or such a ZIP. Plain files are the way out of the app and the way in from other tools,
//! so import is forgiving of files people made by hand.
//!
//! Titles become file names by [`name`]; archives are written and read by [`zip`].

use std::collections::HashSet;
use std::fmt;

mod name;
mod zip;

use name::{encode_stem, is_markdown_name, MAX_STEM};
pub use name::{file_name, title_from_file_name};
use zip::ZipWriter;
pub use zip::{read_zip, ZipError, MAX_ENTRIES};

/// One page as a file: its title (the file's name) and its markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPage {
    pub title: String,
    pub body: String,
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
    use super::zip::zip_of;
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

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
