//! The markdown preview renders what it should, and nothing a peer could use against a
//! reader: exact output for ordinary markdown, and a strict scanner of our own HTML
//! (`support::html`) over 124 XSS vectors, alone, combined and inside other markdown, and over
//! random input.

mod support;

use std::collections::HashSet;

use commonplace_core::notebook::markdown::{render, wiki_links};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use support::html::{assert_safe, check_safe, rendered_wiki_titles};

const XSS_VECTORS: &str = include_str!("fixtures/xss_vectors.json");

fn html(markdown: &str) -> String {
    render(markdown, &|title| title == "Home")
}

fn assert_renders(markdown: &str, expected: &str) {
    assert_eq!(html(markdown), expected, "rendering {markdown:?}");
    assert_safe(markdown, &html(markdown));
}

#[test]
fn checker_catches_unsafe_html() {
    for unsafe_html in [
        "<script>x</script>",
        "<img src=x onerror=y>",
        "<img src=\"x\" onerror=\"y\">",
        "<img src=\"data:x\">",
        "<a href=\"javascript:x\">",
        "<a href=\" javascript:x\">",
        "<a>",
        "<a href=\"http://x\" data-title=\"y\">",
        "<p style=\"x\">",
        "<p class=\"hidden\">",
        "<P>",
        "<!-- x -->",
        "a \" b",
        "a & b",
        "<p title='x'>",
        "<p title=\"a\"b\">",
        "<p",
        "<input type=\"checkbox\" data-task=\"x\">",
        "<input type=\"checkbox\" disabled onclick=\"x\">",
    ] {
        assert!(check_safe(unsafe_html).is_err(), "{unsafe_html}");
    }
    check_safe("<p class=\"align-left\" title=\"&amp;&#39;\">a &lt; b</p><br>").unwrap();
    check_safe("<input type=\"checkbox\" data-task=\"12\" checked>").unwrap();
}

// --- Ordinary rendering. ---

#[test]
fn blocks_and_emphasis() {
    assert_renders("# Title\n\n## Sub", "<h1>Title</h1><h2>Sub</h2>");
    assert_renders("###### six {#id}", "<h6>six {#id}</h6>");
    assert_renders(
        "*a* **b** ~~c~~ `d<e>`",
        "<p><em>a</em> <strong>b</strong> <del>c</del> <code>d&lt;e&gt;</code></p>",
    );
    assert_renders("a  \nb\nc", "<p>a<br>b\nc</p>");
    assert_renders(
        "> quote\n\n---",
        "<blockquote><p>quote</p></blockquote><hr>",
    );
    assert_renders(
        "Tom & \"Jerry's\"",
        "<p>Tom &amp; &quot;Jerry&#39;s&quot;</p>",
    );
}

#[test]
fn lists_and_tasks() {
    assert_renders("- a\n- b", "<ul><li>a</li><li>b</li></ul>");
    assert_renders("1. a\n2. b", "<ol><li>a</li><li>b</li></ol>");
    assert_renders("7. a", "<ol start=\"7\"><li>a</li></ol>");
    assert_renders(
        "- [x] done\n- [ ] todo",
        "<ul><li><input type=\"checkbox\" data-task=\"0\" checked> done</li>\
         <li><input type=\"checkbox\" data-task=\"1\"> todo</li></ul>",
    );
}

#[test]
fn tables() {
    assert_renders(
        "| a | b | c |\n|:--|:-:|---|\n| 1 | 2 | 3 |",
        "<table><thead><tr><th class=\"align-left\">a</th><th class=\"align-center\">b</th>\
         <th>c</th></tr></thead><tbody><tr><td class=\"align-left\">1</td>\
         <td class=\"align-center\">2</td><td>3</td></tr></tbody></table>",
    );
}

#[test]
fn code() {
    assert_renders(
        "```rust\nfn f() -> &str {}\n```",
        "<pre><code class=\"language-rust\">fn f() -&gt; &amp;str {}\n</code></pre>",
    );
    assert_renders("    indented", "<pre><code>indented</code></pre>");
    // A language that isn't a plain name is dropped, not escaped into the class.
    assert_renders("```a\"b\nx\n```", "<pre><code>x\n</code></pre>");
}

#[test]
fn links() {
    let attrs = "target=\"_blank\" rel=\"noopener noreferrer nofollow\"";
    assert_renders(
        "[a](https://example.com/?q=1&r=2 \"T\")",
        &format!("<p><a href=\"https://example.com/?q=1&amp;r=2\" title=\"T\" {attrs}>a</a></p>"),
    );
    assert_renders(
        "<HTTP://x.org> <me@example.com>",
        &format!(
            "<p><a href=\"http://x.org\" {attrs}>HTTP://x.org</a> \
             <a href=\"mailto:me@example.com\" {attrs}>me@example.com</a></p>"
        ),
    );
    assert_renders(
        "[a][r]\n\n[r]: mailto:me@example.com",
        &format!("<p><a href=\"mailto:me@example.com\" {attrs}>a</a></p>"),
    );
    // Relative and fragment links would navigate the app (whose fragment is the room link).
    assert_renders(
        "[a](#room=x) [b](/x) [c](x.html) [*d*](javascript:x)",
        "<p>a b c <em>d</em></p>",
    );
    // A link inside a link's text isn't nested.
    assert_renders(
        "[<http://b>](http://a)",
        &format!("<p><a href=\"http://a\" {attrs}>http://b</a></p>"),
    );
}

#[test]
fn images() {
    assert_renders(
        "![a *b*](https://x.org/i.png \"t\")",
        "<p><img src=\"https://x.org/i.png\" alt=\"a b\" title=\"t\" loading=\"lazy\" \
         referrerpolicy=\"no-referrer\"></p>",
    );
    assert_renders(
        "![alt <b>](data:image/png;base64,AAAA)",
        "<p>alt &lt;b&gt;</p>",
    );
    assert_renders("![alt](/local.png) ![m](mailto:a@b)", "<p>alt m</p>");
}

#[test]
fn raw_html_is_text() {
    assert_renders("a <b>x</b>", "<p>a &lt;b&gt;x&lt;/b&gt;</p>");
    assert_renders(
        "<div>\nhi\n</div>",
        "<p>&lt;div&gt;<br>hi<br>&lt;/div&gt;</p>",
    );
    assert_renders("<!-- c -->", "<p>&lt;!-- c --&gt;</p>");
}

#[test]
fn wiki_links_render() {
    let link = |class: &str, title: &str, label: &str| {
        format!(
            "<a class=\"wikilink{class}\" data-title=\"{title}\" role=\"link\" \
             tabindex=\"0\">{label}</a>"
        )
    };
    assert_renders("[[Home]]", &format!("<p>{}</p>", link("", "Home", "Home")));
    assert_renders(
        "[[Elsewhere|the *label*]]",
        &format!(
            "<p>{}</p>",
            link(" missing", "Elsewhere", "the <em>label</em>")
        ),
    );
    assert_renders(
        "[[ Home |]]",
        &format!("<p>{}</p>", link("", "Home", "Home")),
    );
    assert_renders(
        "[[a\"b<c>'d]]",
        &format!(
            "<p>{}</p>",
            link(
                " missing",
                "a&quot;b&lt;c&gt;&#39;d",
                "a&quot;b&lt;c&gt;&#39;d"
            )
        ),
    );
    // Not in code.
    assert_renders("`[[Home]]`", "<p><code>[[Home]]</code></p>");
    assert_renders("```\n[[Home]]\n```", "<pre><code>[[Home]]\n</code></pre>");
    assert_renders("    [[Home]]", "<pre><code>[[Home]]</code></pre>");
    // Not links: shown as typed.
    assert_renders("[[ ]] [[]]", "<p>[[ ]] [[]]</p>");
}

#[test]
fn wiki_link_list() {
    let page = "[[B]] [[A|x]] [[ B ]] `[[C]]` [[D|]] ![[E]]\n\n```\n[[F]]\n```\n> [[A]]";
    assert_eq!(wiki_links(page), ["B", "A", "D", "E"]);
    assert_eq!(rendered_wiki_titles(&html(page)), wiki_links(page));
    assert!(wiki_links("[[ ]] [[]] [[\n]] plain").is_empty());
}

// --- XSS: the fixture's vectors, alone, together and inside other markdown. ---

fn vectors() -> Vec<String> {
    serde_json::from_str(XSS_VECTORS).expect("xss_vectors.json is a JSON array of strings")
}

#[test]
fn xss_fixture_is_large_and_distinct() {
    let vectors = vectors();
    assert!(vectors.len() >= 60);
    let distinct: HashSet<&String> = vectors.iter().collect();
    assert_eq!(distinct.len(), vectors.len());
    for (i, vector) in vectors.iter().enumerate() {
        let marker = format!("({i})");
        assert!(
            vector.contains(&marker) || vector.contains("base64"),
            "{i}: {vector}"
        );
    }
}

fn contexts(vector: &str) -> Vec<String> {
    let mut contexts = vec![
        vector.to_owned(),
        format!("text before\n{vector}\ntext after"),
        format!("- {vector}"),
        format!("1. [ ] {vector}"),
        format!("> {vector}"),
        format!("> - {vector}"),
        format!("# {vector}"),
        format!("**{vector}**"),
        format!("| a |\n|---|\n| {vector} |"),
        format!("[{vector}](https://example.com)"),
        format!("![{vector}](https://example.com/i.png)"),
        format!("[[{vector}]]"),
        format!("[[Home|{vector}]]"),
        format!("`{vector}`"),
        format!("```\n{vector}\n```"),
    ];
    contexts.extend(vector.lines().map(|line| format!("[x]({line})")));
    contexts.extend(vector.lines().map(|line| format!("[x]\n\n[x]: {line}")));
    contexts
}

#[test]
fn xss_vectors_render_safely() {
    let vectors = vectors();
    for vector in &vectors {
        for markdown in contexts(vector) {
            let out = html(&markdown);
            assert_safe(&markdown, &out);
            assert_eq!(
                rendered_wiki_titles(&out),
                wiki_links(&markdown),
                "{markdown:?}"
            );
        }
    }
    for separator in ["", "\n", "\n\n"] {
        let all = vectors.join(separator);
        assert_safe(&all, &html(&all));
    }
}

// --- Robustness. ---

const PIECES: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "(",
    ")",
    "![",
    "!",
    "|",
    "*",
    "**",
    "_",
    "`",
    "```",
    "~~",
    "-",
    "+",
    "#",
    "> ",
    "<",
    ">",
    "</",
    "/>",
    "\n",
    "\n\n",
    " ",
    "    ",
    "\t",
    ":",
    "a",
    "Home",
    "é",
    "&",
    "&#106;",
    "&colon;",
    "\"",
    "'",
    "\\",
    "1. ",
    "- [ ] ",
    "- [x] ",
    "---",
    "|---|",
    "javascript:",
    "http://x.org",
    "mailto:a@b",
    "<script>",
    "onerror=",
    "<img src=x ",
    "[x]: ",
    "\u{0}",
    "\u{1}",
    "\r",
];

#[test]
fn random_markdown_never_panics_and_stays_safe() {
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..3000 {
        let len = rng.random_range(0..80);
        let markdown: String = (0..len)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        let out = html(&markdown);
        assert_safe(&markdown, &out);
        assert_eq!(
            rendered_wiki_titles(&out),
            wiki_links(&markdown),
            "{markdown:?}"
        );
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SmallRng::seed_from_u64(11);
    for _ in 0..2000 {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let markdown = String::from_utf8_lossy(&bytes);
        assert_safe(&markdown, &html(&markdown));
        wiki_links(&markdown);
    }
}

/// Not a timed assertion: run with `--ignored --nocapture` to see how long 1 MB takes.
#[test]
#[ignore]
fn large_inputs() {
    let mut rng = SmallRng::seed_from_u64(3);
    let mixed: String = std::iter::repeat_with(|| PIECES[rng.random_range(0..PIECES.len())])
        .take(250_000)
        .collect();
    let prose = "# Notes\n\nSome *text* with [[Home]], [a link](https://x.org) and `code`.\n\n\
                 - [ ] task\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        .repeat(8_000);
    for (name, markdown) in [
        ("mixed", mixed),
        ("prose", prose),
        ("[[ ", "[[ ".repeat(350_000)),
        ("[[a|", "[[a|".repeat(250_000)),
        ("![[", "![[".repeat(350_000)),
        ("]]", "]]".repeat(500_000)),
        ("[[a]]", "[[a]]".repeat(200_000)),
        ("[x](", "[x](".repeat(250_000)),
        ("<a ", "<a ".repeat(350_000)),
        ("> ", "> ".repeat(500_000)),
        ("*_", "*_".repeat(500_000)),
    ] {
        let start = std::time::Instant::now();
        let out = html(&markdown);
        let links = wiki_links(&markdown);
        println!(
            "{name}: {} KB in, {} KB out, {} wiki links, {:?}",
            markdown.len() / 1000,
            out.len() / 1000,
            links.len(),
            start.elapsed()
        );
    }
}
