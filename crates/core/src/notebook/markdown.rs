//! Markdown → HTML for the live preview.
//!
//! The preview shows text typed in other people's browsers, so the output goes into `innerHTML`
//! as untrusted input would. It is safe by construction, not by cleaning up afterwards:
//!
//! - pulldown-cmark only parses; this module writes every tag itself from a fixed set (`p`,
//!   `h1`–`h6`, `em`, `strong`, `del`, `code`, `pre`, `blockquote`, `ul`, `ol`, `li`, `table`,
//!   `thead`, `tbody`, `tr`, `th`, `td`, `a`, `img`, `input`, `br`, `hr`) with fixed attribute
//!   names. Everything that comes from the document, text or attribute value, goes through
//!   `escape` (`& < > " '`), and every attribute value is double-quoted. A link inside a link
//!   shows as its text.
//! - Raw HTML, block or inline, is never passed through: it is shown as the text that was typed.
//! - URLs are checked against an allowlist of schemes after pulldown-cmark has decoded entities
//!   and backslash escapes, reading the scheme as a browser would (ASCII whitespace and control
//!   characters before the first `:` dropped, case folded). The emitted URL starts with the
//!   canonical scheme we checked, so what the browser parses is what we allowed. A URL with a
//!   scheme we can't read fails closed.
//! - Links keep only absolute `http:`, `https:` and `mailto:` URLs; they open in a new tab with
//!   `rel="noopener noreferrer nofollow"`. Relative and fragment links (`#x`, `/x`, `x`) are
//!   shown as their text: the app's own fragment holds the room link and its secret key, so a
//!   link in a page must never navigate the app itself.
//! - Images keep only `http:` and `https:` sources (no `data:`), load lazily and send no
//!   referrer; any other image shows its alt text.
//! - Headings get no `id` (no DOM clobbering); code block languages and table alignment become
//!   classes from a fixed alphabet (`language-…`, `align-left|center|right`), never `style`.
//! - Wiki links `[[Title]]` / `[[Title|label]]` become `<a class="wikilink" data-title=…>`
//!   with no `href`; the app follows them itself. Class `missing` marks pages that don't exist
//!   yet. `![[Title]]` is the same link (no embedding). Inside code they stay text. A title
//!   that is blank or spans lines is no link and shows as typed. [`wiki_links`] runs the same
//!   renderer, so it lists exactly the links `render` writes.
//! - Task-list checkboxes are `<input type="checkbox" data-task="N">`, N counting the page's
//!   task markers from 0, so the shell can toggle the N-th marker in the source
//!   ([`super::tasks`]); they carry no handler of their own.
//!
//! Rendering streams the parser's events once, so it is linear in the input.

use std::collections::HashSet;
use std::ops::Range;

use pulldown_cmark::{
    Alignment, CodeBlockKind, Event, LinkType, OffsetIter, Options, Parser, Tag, TagEnd,
};

/// Schemes a link may have.
const LINK_SCHEMES: &[&str] = &["http", "https", "mailto"];
/// Schemes an image source may have.
const IMAGE_SCHEMES: &[&str] = &["http", "https"];
/// Longest code block language kept as a class.
const MAX_LANGUAGE: usize = 32;

/// Renders markdown to HTML that is safe to put in innerHTML.
pub fn render(markdown: &str, page_exists: &dyn Fn(&str) -> bool) -> String {
    Renderer::run(markdown, page_exists).out
}

/// The `[[Title]]` wiki-link targets in a page's markdown, in order of appearance (trimmed,
/// non-empty, deduped).
pub fn wiki_links(markdown: &str) -> Vec<String> {
    // Rendering and keeping only the links makes this agree with `render` by construction.
    let mut seen = HashSet::new();
    let titles = Renderer::run(markdown, &|_| true).wiki_titles;
    titles
        .into_iter()
        .filter(|title| seen.insert(title.clone()))
        .collect()
}

/// Where each wiki link `render` writes is in the source: its title (trimmed, as linked) and
/// the byte range of the whole link (`[[Title|label]]`), in order of appearance.
pub fn wiki_link_spans(markdown: &str) -> Vec<(String, Range<usize>)> {
    Renderer::run(markdown, &|_| true).wiki_spans
}

pub(super) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_WIKILINKS
}

/// The page a wiki link points at, or `None` if the link isn't one we render as such: not a
/// wiki link, an empty title, or a title spanning lines (the parser's raw slice would then
/// hold the next line's block quote or list markers).
fn wiki_title(link_type: LinkType, dest: &str) -> Option<&str> {
    if !matches!(link_type, LinkType::WikiLink { .. }) {
        return None;
    }
    let title = dest.trim();
    (!title.is_empty() && !title.chars().any(char::is_control)).then_some(title)
}

/// `url` with its scheme made canonical, if that scheme is in `allowed`. Relative URLs (no
/// scheme) are refused too.
fn safe_url(url: &str, allowed: &[&str]) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    // Browsers drop tabs and newlines anywhere and C0 controls or spaces around the URL; drop
    // them all before the colon so that no spelling of a scheme reads differently to us.
    let scheme: String = scheme
        .chars()
        .filter(|c| !(c.is_ascii_whitespace() || c.is_ascii_control()))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let scheme = allowed.iter().find(|allowed| **allowed == scheme)?;
    Some(format!("{scheme}:{rest}"))
}

/// Writes `text` with `& < > " '` escaped, safe both as text and in a double-quoted attribute.
fn escape(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, byte) in text.bytes().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(replacement);
        last = i + 1;
    }
    out.push_str(&text[last..]);
}

/// The class for a fenced code block's language, if its first word is a plain name.
fn language_class(info: &str) -> Option<&str> {
    let language = info.split_whitespace().next()?;
    let plain = language
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'));
    (plain && language.len() <= MAX_LANGUAGE).then_some(language)
}

/// What closes a link or wiki-image when its end event comes.
enum LinkClose {
    /// `</a>`.
    Anchor,
    /// A wiki link: `</a>`, after the title if the label was empty (`[[Title|]]`).
    Wiki { label_start: usize, title: String },
    /// A refused wiki link shown as typed: `]]`.
    Literal,
    /// A refused link: only its text was shown.
    Nothing,
}

struct Table {
    alignments: Vec<Alignment>,
    in_head: bool,
    column: usize,
}

struct Renderer<'a, 'p> {
    events: OffsetIter<'a>,
    /// The source range of the event being written.
    range: Range<usize>,
    out: String,
    /// Every wiki link written, in order.
    wiki_titles: Vec<String>,
    /// The same links with their source ranges.
    wiki_spans: Vec<(String, Range<usize>)>,
    page_exists: &'p dyn Fn(&str) -> bool,
    /// One entry per open link or wiki image, innermost last.
    links: Vec<LinkClose>,
    /// How many `<a>` are open: links inside one are shown as text rather than nested.
    anchor_depth: usize,
    table: Option<Table>,
    /// Lines written so far in the current raw HTML block.
    html_block_lines: usize,
    /// Task-list checkboxes written so far.
    tasks: usize,
}

impl<'a, 'p> Renderer<'a, 'p> {
    fn run(markdown: &'a str, page_exists: &'p dyn Fn(&str) -> bool) -> Self {
        let mut renderer = Renderer {
            events: Parser::new_ext(markdown, options()).into_offset_iter(),
            range: 0..0,
            out: String::with_capacity(markdown.len() + markdown.len() / 2),
            wiki_titles: Vec::new(),
            wiki_spans: Vec::new(),
            page_exists,
            links: Vec::new(),
            anchor_depth: 0,
            table: None,
            html_block_lines: 0,
            tasks: 0,
        };
        renderer.write_all();
        renderer
    }

    fn write_all(&mut self) {
        while let Some((event, range)) = self.events.next() {
            self.range = range;
            match event {
                Event::Start(tag) => self.start(tag),
                Event::End(tag) => self.end(tag),
                Event::Text(text) => escape(&mut self.out, &text),
                Event::Code(code) => self.tagged("code", &code),
                Event::InlineMath(math) | Event::DisplayMath(math) => escape(&mut self.out, &math),
                Event::Html(html) => self.html_block_line(&html),
                // Shown as typed: raw HTML never reaches the DOM as markup.
                Event::InlineHtml(html) => escape(&mut self.out, &html),
                Event::FootnoteReference(label) => {
                    self.out.push_str("[^");
                    escape(&mut self.out, &label);
                    self.out.push(']');
                }
                Event::SoftBreak => self.out.push('\n'),
                Event::HardBreak => self.out.push_str("<br>"),
                Event::Rule => self.out.push_str("<hr>"),
                Event::TaskListMarker(checked) => self.task(checked),
            }
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.out.push_str("<p>"),
            Tag::Heading { level, .. } => {
                self.out.push('<');
                self.out.push_str(heading(level as usize));
                self.out.push('>');
            }
            Tag::BlockQuote(_) => self.out.push_str("<blockquote>"),
            Tag::CodeBlock(kind) => self.code_block(kind),
            Tag::HtmlBlock => {
                self.html_block_lines = 0;
                self.out.push_str("<p>");
            }
            Tag::List(None) => self.out.push_str("<ul>"),
            Tag::List(Some(1)) => self.out.push_str("<ol>"),
            Tag::List(Some(start)) => self.out.push_str(&format!("<ol start=\"{start}\">")),
            Tag::Item => self.out.push_str("<li>"),
            Tag::Table(alignments) => {
                self.table = Some(Table {
                    alignments,
                    in_head: false,
                    column: 0,
                });
                self.out.push_str("<table>");
            }
            Tag::TableHead => self.table_row(true),
            Tag::TableRow => self.table_row(false),
            Tag::TableCell => self.table_cell(),
            Tag::Emphasis => self.out.push_str("<em>"),
            Tag::Strong => self.out.push_str("<strong>"),
            Tag::Strikethrough => self.out.push_str("<del>"),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => self.link(link_type, &dest_url, &title),
            Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            } => self.image(link_type, &dest_url, &title),
            // Not enabled in `options`; their content still shows, as plain text.
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Superscript
            | Tag::Subscript
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.out.push_str("</p>"),
            TagEnd::Heading(level) => {
                self.out.push_str("</");
                self.out.push_str(heading(level as usize));
                self.out.push('>');
            }
            TagEnd::BlockQuote(_) => self.out.push_str("</blockquote>"),
            TagEnd::CodeBlock => self.out.push_str("</code></pre>"),
            TagEnd::List(true) => self.out.push_str("</ol>"),
            TagEnd::List(false) => self.out.push_str("</ul>"),
            TagEnd::Item => self.out.push_str("</li>"),
            TagEnd::Table => {
                self.table = None;
                self.out.push_str("</tbody></table>");
            }
            TagEnd::TableHead => self.out.push_str("</tr></thead><tbody>"),
            TagEnd::TableRow => self.out.push_str("</tr>"),
            TagEnd::TableCell => {
                let head = self.table.as_ref().is_some_and(|t| t.in_head);
                self.out.push_str(if head { "</th>" } else { "</td>" });
            }
            TagEnd::Emphasis => self.out.push_str("</em>"),
            TagEnd::Strong => self.out.push_str("</strong>"),
            TagEnd::Strikethrough => self.out.push_str("</del>"),
            // Ordinary images consume their own end; only wiki images get here.
            TagEnd::Link | TagEnd::Image => self.close_link(),
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// A task's checkbox, numbered in the page's order: the shell finds its marker in the
    /// source again with [`super::tasks::toggle`].
    fn task(&mut self, checked: bool) {
        self.out.push_str("<input type=\"checkbox\" data-task=\"");
        self.out.push_str(&self.tasks.to_string());
        self.out
            .push_str(if checked { "\" checked> " } else { "\"> " });
        self.tasks += 1;
    }

    fn tagged(&mut self, name: &str, text: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        escape(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn code_block(&mut self, kind: CodeBlockKind) {
        let language = match &kind {
            CodeBlockKind::Fenced(info) => language_class(info),
            CodeBlockKind::Indented => None,
        };
        match language {
            Some(language) => {
                self.out.push_str("<pre><code class=\"language-");
                self.out.push_str(language);
                self.out.push_str("\">");
            }
            None => self.out.push_str("<pre><code>"),
        }
    }

    /// One line of a raw HTML block, shown as text with its line break kept.
    fn html_block_line(&mut self, line: &str) {
        if self.html_block_lines > 0 {
            self.out.push_str("<br>");
        }
        self.html_block_lines += 1;
        escape(&mut self.out, line.trim_end_matches(['\n', '\r']));
    }

    fn table_row(&mut self, head: bool) {
        if let Some(table) = &mut self.table {
            table.in_head = head;
            table.column = 0;
        }
        self.out.push_str(if head { "<thead><tr>" } else { "<tr>" });
    }

    fn table_cell(&mut self) {
        let (head, alignment) = match &mut self.table {
            Some(table) => {
                let alignment = table.alignments.get(table.column).copied();
                table.column += 1;
                (table.in_head, alignment.unwrap_or(Alignment::None))
            }
            None => (false, Alignment::None),
        };
        self.out.push_str(if head { "<th" } else { "<td" });
        self.out.push_str(match alignment {
            Alignment::None => ">",
            Alignment::Left => " class=\"align-left\">",
            Alignment::Center => " class=\"align-center\">",
            Alignment::Right => " class=\"align-right\">",
        });
    }

    fn link(&mut self, link_type: LinkType, dest: &str, title: &str) {
        if matches!(link_type, LinkType::WikiLink { .. }) {
            return self.wiki_link(link_type, dest, false);
        }
        let href = match link_type {
            // The parser gives an email autolink's address without its scheme.
            LinkType::Email => safe_url(&format!("mailto:{dest}"), LINK_SCHEMES),
            _ => safe_url(dest, LINK_SCHEMES),
        };
        let Some(href) = href.filter(|_| self.anchor_depth == 0) else {
            self.links.push(LinkClose::Nothing);
            return;
        };
        self.out.push_str("<a href=\"");
        escape(&mut self.out, &href);
        self.out.push('"');
        self.title_attribute(title);
        self.out
            .push_str(" target=\"_blank\" rel=\"noopener noreferrer nofollow\">");
        self.anchor_depth += 1;
        self.links.push(LinkClose::Anchor);
    }

    /// A wiki link's opening; its label follows as ordinary events.
    fn wiki_link(&mut self, link_type: LinkType, dest: &str, image: bool) {
        let Some(title) = wiki_title(link_type, dest) else {
            // Shown as typed; the label (or the raw title) follows as text.
            self.out.push_str(if image { "![[" } else { "[[" });
            if matches!(link_type, LinkType::WikiLink { has_pothole: true }) {
                escape(&mut self.out, dest);
                self.out.push('|');
            }
            self.links.push(LinkClose::Literal);
            return;
        };
        if self.anchor_depth > 0 {
            // Not nested in another link: only its label shows.
            self.links.push(LinkClose::Nothing);
            return;
        }
        self.out.push_str("<a class=\"wikilink");
        if !(self.page_exists)(title) {
            self.out.push_str(" missing");
        }
        self.out.push_str("\" data-title=\"");
        escape(&mut self.out, title);
        self.out.push_str("\" role=\"link\" tabindex=\"0\">");
        self.anchor_depth += 1;
        self.wiki_titles.push(title.to_owned());
        self.wiki_spans.push((title.to_owned(), self.range.clone()));
        let label_start = self.out.len();
        self.links.push(LinkClose::Wiki {
            label_start,
            title: title.to_owned(),
        });
    }

    fn close_link(&mut self) {
        match self.links.pop() {
            Some(LinkClose::Anchor) => {
                self.anchor_depth -= 1;
                self.out.push_str("</a>");
            }
            Some(LinkClose::Wiki { label_start, title }) => {
                if self.out.len() == label_start {
                    escape(&mut self.out, &title);
                }
                self.anchor_depth -= 1;
                self.out.push_str("</a>");
            }
            Some(LinkClose::Literal) => self.out.push_str("]]"),
            Some(LinkClose::Nothing) | None => {}
        }
    }

    fn image(&mut self, link_type: LinkType, dest: &str, title: &str) {
        if matches!(link_type, LinkType::WikiLink { .. }) {
            return self.wiki_link(link_type, dest, true);
        }
        let alt = plain_text_until_end(&mut (&mut self.events).map(|(event, _)| event));
        let Some(src) = safe_url(dest, IMAGE_SCHEMES) else {
            escape(&mut self.out, &alt);
            return;
        };
        self.out.push_str("<img src=\"");
        escape(&mut self.out, &src);
        self.out.push_str("\" alt=\"");
        escape(&mut self.out, &alt);
        self.out.push('"');
        self.title_attribute(title);
        self.out
            .push_str(" loading=\"lazy\" referrerpolicy=\"no-referrer\">");
    }

    fn title_attribute(&mut self, title: &str) {
        if !title.is_empty() {
            self.out.push_str(" title=\"");
            escape(&mut self.out, title);
            self.out.push('"');
        }
    }
}

/// Consumes events up to the end of the element just started, keeping only their text (an
/// image's alt text).
fn plain_text_until_end<'a>(events: &mut impl Iterator<Item = Event<'a>>) -> String {
    let mut text = String::new();
    let mut depth = 0usize;
    for event in events {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => break,
            Event::End(_) => depth -= 1,
            Event::Text(t)
            | Event::Code(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t)
            | Event::Html(t)
            | Event::InlineHtml(t)
            | Event::FootnoteReference(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::Rule | Event::TaskListMarker(_) => {}
        }
    }
    text
}

fn heading(level: usize) -> &'static str {
    ["h1", "h2", "h3", "h4", "h5", "h6"][level.clamp(1, 6) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes() {
        for allowed in [
            "http://x",
            "HTTPS://x",
            " https://x",
            "ht\ttp://x",
            "\u{1}mailto:a@b",
        ] {
            assert!(safe_url(allowed, LINK_SCHEMES).is_some(), "{allowed:?}");
        }
        assert_eq!(
            safe_url("HtTpS://x:1", LINK_SCHEMES).unwrap(),
            "https://x:1"
        );
        for refused in [
            "javascript:x",
            "JaVaScRiPt:x",
            " javascript:x",
            "java\tscript:x",
            "java\nscript:x",
            "\u{0}javascript:x",
            "javascript\u{7f}:x",
            "vbscript:x",
            "data:text/html,x",
            "%6Aavascript:x",
            "javascript%3Ax",
            "javascript&colon;x",
            "\u{a0}http://x",
            "java\u{ad}script:x",
            "/x",
            "#x",
            "x",
            "//evil.example/x",
            "",
            ":",
        ] {
            assert!(safe_url(refused, LINK_SCHEMES).is_none(), "{refused:?}");
        }
        assert!(safe_url("mailto:a@b", IMAGE_SCHEMES).is_none());
    }
}
