//! Markdown files a person imports: the first message is a file name, the rest are files
//! (name, contents, name, contents, …) for `import_markdown`; the first name and second message
//! also go through `import_files` as a single picked file. File names to titles and back.
#![no_main]

use commonplace_core::notebook::files::{
    file_name, import_files, import_markdown, title_from_file_name,
};
use commonplace_fuzz::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pieces = pieces(data);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if let [name, contents, ..] = pieces[..] {
        let _ = import_files(&text(name), contents.to_vec());
    }
    let files: Vec<(String, Vec<u8>)> = pieces
        .chunks(2)
        .map(|pair| {
            (
                text(pair[0]),
                pair.get(1).map_or(Vec::new(), |c| c.to_vec()),
            )
        })
        .collect();
    if let Ok(pages) = import_markdown(files) {
        for page in pages {
            assert!(!page.body.contains('\r'));
            let _ = title_from_file_name(&file_name(&page.title));
        }
    }
    for piece in pieces {
        let name = file_name(&text(piece));
        assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
        let _ = title_from_file_name(&text(piece));
    }
});
