//! The strict scanner of the markdown preview's HTML lives in the core
//! (`notebook::html_check`), shared with the fuzz target; what only tests need is here.

pub use commonplace_core::notebook::html_check::{check_safe, scan, unescape};

pub fn assert_safe(markdown: &str, html: &str) {
    if let Err(e) = check_safe(html) {
        panic!("{e}\ninput: {markdown:?}\noutput: {html}");
    }
}

pub fn rendered_wiki_titles(html: &str) -> Vec<String> {
    let mut titles = Vec::new();
    for tag in scan(html).unwrap() {
        for (name, value) in tag.attributes {
            if name == "data-title" {
                let title = unescape(&value.unwrap());
                if !titles.contains(&title) {
                    titles.push(title);
                }
            }
        }
    }
    titles
}
