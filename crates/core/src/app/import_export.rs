//! Files out of the notebook and into it: a page as markdown, every page in a zip, and
//! markdown files or such zips back in as pages, with the texts a person reads when a file
//! cannot be imported. (The whole notebook as one Yjs update is [`Room::encode_state`] and
//! [`Room::import_update`].)

use crate::notebook::files::{self, ExportedPage};
use crate::room::Room;

use super::navigation::title_of;

/// The page as a markdown file: (file name, contents).
pub fn export_page(room: &Room, page: &str) -> (String, Vec<u8>) {
    let title = title_of(&room.pages(), page);
    let body = room.page_text(page).unwrap_or_default();
    (files::file_name(&title), body.into_bytes())
}

/// Every page as a markdown file, in one zip archive.
pub fn export_markdown(room: &Room) -> Vec<u8> {
    let pages: Vec<ExportedPage> = room
        .pages()
        .into_iter()
        .map(|page| ExportedPage {
            body: room.page_text(&page.id).unwrap_or_default(),
            title: page.title,
        })
        .collect();
    files::notebook_zip(&pages)
}

/// Markdown files (or zip archives of them) as pages, or why one cannot be read (naming it).
/// Nothing is imported unless every file can be.
pub fn pages_from_files(files: Vec<(String, Vec<u8>)>) -> Result<Vec<ExportedPage>, String> {
    let mut pages = Vec::new();
    for (name, bytes) in files {
        let found = files::import_files(&name, bytes).map_err(|e| format!("{name}: {e}"))?;
        pages.extend(found);
    }
    Ok(pages)
}

/// Adds the files' pages to the notebook in one change; returns how many.
pub fn import_files(
    room: &mut Room,
    now: u64,
    files: Vec<(String, Vec<u8>)>,
) -> Result<usize, String> {
    let pages = pages_from_files(files)?;
    let pairs: Vec<(&str, &str)> = pages
        .iter()
        .map(|page| (page.title.as_str(), page.body.as_str()))
        .collect();
    if !pairs.is_empty() {
        room.import_pages(now, &pairs);
    }
    Ok(pages.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notebook::HOME;

    fn room() -> Room {
        crate::room::test_room()
    }

    #[test]
    fn a_notebook_goes_out_as_a_zip_and_comes_back_in() {
        let mut source = room();
        source.rename_page(0, HOME, "Start");
        source.create_page(0, "Notes: a/b", "# Notes\n\nsome text");
        let (name, bytes) = export_page(&source, HOME);
        assert_eq!((name.as_str(), bytes.as_slice()), ("Start.md", &b""[..]));

        let zip = export_markdown(&source);
        let mut copy = room();
        let imported = import_files(&mut copy, 1, vec![("notebook.zip".into(), zip)]).unwrap();
        assert_eq!(imported, 2);
        let titles: Vec<String> = copy.pages().into_iter().map(|p| p.title).collect();
        assert_eq!(titles, ["Home", "Start", "Notes: a/b"]);
    }

    #[test]
    fn a_file_that_cannot_be_read_is_named_and_nothing_is_imported() {
        let mut room = room();
        let files = vec![
            ("ok.md".into(), b"fine".to_vec()),
            ("broken.zip".into(), b"PK not really".to_vec()),
        ];
        let error = import_files(&mut room, 0, files).unwrap_err();
        assert!(error.starts_with("broken.zip: "), "{error}");
        assert_eq!(room.pages().len(), 1);
    }
}
