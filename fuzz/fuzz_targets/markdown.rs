//! The markdown preview: `render` never panics, and what it writes passes the same strict HTML
//! scanner as the markdown tests (`notebook::html_check`); wiki links' spans are inside the text.
#![no_main]

use commonplace_core::notebook::html_check::check_safe;
use commonplace_core::notebook::markdown::{render, wiki_link_spans, wiki_links};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(markdown) = std::str::from_utf8(data) else {
        return;
    };
    let html = render(markdown, &|title| title.len() % 2 == 0);
    if let Err(error) = check_safe(&html) {
        panic!("unsafe HTML: {error}\ninput: {markdown:?}\noutput: {html}");
    }
    let _ = wiki_links(markdown);
    for (_, span) in wiki_link_spans(markdown) {
        assert!(markdown.get(span).is_some());
    }
});
