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
//!
//! Rendering streams the parser's events once, so it is linear in the input.

use std::collections::HashSet;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

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

fn options() -> Options {
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
    events: Parser<'a>,
    out: String,
    /// Every wiki link written, in order.
    wiki_titles: Vec<String>,
    page_exists: &'p dyn Fn(&str) -> bool,
    /// One entry per open link or wiki image, innermost last.
    links: Vec<LinkClose>,
    /// How many `<a>` are open: links inside one are shown as text rather than nested.
    anchor_depth: usize,
    table: Option<Table>,
    /// Lines written so far in the current raw HTML block.
    html_block_lines: usize,
}

impl<'a, 'p> Renderer<'a, 'p> {
    fn run(markdown: &'a str, page_exists: &'p dyn Fn(&str) -> bool) -> Self {
        let mut renderer = Renderer {
            events: Parser::new_ext(markdown, options()),
            out: String::with_capacity(markdown.len() + markdown.len() / 2),
            wiki_titles: Vec::new(),
            page_exists,
            links: Vec::new(),
            anchor_depth: 0,
            table: None,
            html_block_lines: 0,
        };
        renderer.write_all();
        renderer
    }

    fn write_all(&mut self) {
        while let Some(event) = self.events.next() {
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
                Event::TaskListMarker(checked) => self.out.push_str(if checked {
                    "<input type=\"checkbox\" disabled checked> "
                } else {
                    "<input type=\"checkbox\" disabled> "
                }),
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
        let alt = plain_text_until_end(&mut self.events);
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
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    const XSS_VECTORS: &str = include_str!("../../tests/fixtures/xss_vectors.json");

    fn html(markdown: &str) -> String {
        render(markdown, &|title| title == "Home")
    }

    fn assert_renders(markdown: &str, expected: &str) {
        assert_eq!(html(markdown), expected, "rendering {markdown:?}");
        assert_safe(markdown, &html(markdown));
    }

    // --- A tiny scanner for our own output, strict enough to catch anything unescaped. ---

    struct ScannedTag {
        name: String,
        closing: bool,
        attributes: Vec<(String, Option<String>)>,
    }

    const TAGS: &[&str] = &[
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "img",
        "input",
    ];
    const ENTITIES: &[&str] = &["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];

    /// Splits `html` into tags, failing on anything that isn't exactly the shape we write:
    /// lowercase names, double-quoted values, and `& < > " '` never raw outside markup.
    fn scan(html: &str) -> Result<Vec<ScannedTag>, String> {
        let mut tags = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            check_escaped(&rest[..i])?;
            let (tag, after) = scan_tag(&rest[i + 1..])?;
            tags.push(tag);
            rest = after;
        }
        check_escaped(rest)?;
        Ok(tags)
    }

    /// Text or an attribute value: `& < > " '` only as the entities `escape` writes.
    fn check_escaped(mut text: &str) -> Result<(), String> {
        while let Some(i) = text.find(['<', '>', '"', '\'', '&']) {
            let tail = &text[i..];
            let entity = ENTITIES.iter().find(|e| tail.starts_with(**e));
            let entity = entity.ok_or_else(|| format!("unescaped text at {tail:.40?}"))?;
            text = &tail[entity.len()..];
        }
        Ok(())
    }

    fn scan_name(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(s.len());
        s.split_at(end)
    }

    fn scan_tag(s: &str) -> Result<(ScannedTag, &str), String> {
        let (closing, s) = match s.strip_prefix('/') {
            Some(s) => (true, s),
            None => (false, s),
        };
        let (name, mut s) = scan_name(s);
        if name.is_empty() {
            return Err(format!("not a tag: <{s:.40?}"));
        }
        let mut attributes = Vec::new();
        loop {
            if let Some(after) = s.strip_prefix('>') {
                let tag = ScannedTag {
                    name: name.to_owned(),
                    closing,
                    attributes,
                };
                return Ok((tag, after));
            }
            s = s
                .strip_prefix(' ')
                .ok_or_else(|| format!("bad tag <{name} at {s:.40?}"))?;
            let (attribute, after) = scan_name(s);
            if attribute.is_empty() || closing {
                return Err(format!("bad attribute in <{name} at {s:.40?}"));
            }
            s = after;
            let value = match s.strip_prefix("=\"") {
                Some(after) => {
                    let end = after.find('"').ok_or("unterminated attribute value")?;
                    let value = &after[..end];
                    check_escaped(value)?;
                    s = &after[end + 1..];
                    Some(value.to_owned())
                }
                None => None,
            };
            attributes.push((attribute.to_owned(), value));
        }
    }

    fn unescape(value: &str) -> String {
        value
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    fn class_allowed(class: &str) -> bool {
        let language = class.strip_prefix("language-").is_some_and(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_+".contains(&b))
        });
        language
            || [
                "wikilink",
                "missing",
                "align-left",
                "align-center",
                "align-right",
            ]
            .contains(&class)
    }

    fn attribute_allowed(name: &str, value: Option<&str>) -> bool {
        match (name, value) {
            ("href", Some(v)) => ["http:", "https:", "mailto:"]
                .iter()
                .any(|s| v.starts_with(s)),
            ("src", Some(v)) => v.starts_with("http:") || v.starts_with("https:"),
            ("alt" | "title" | "data-title", Some(_)) => true,
            ("class", Some(v)) => v.split(' ').all(class_allowed),
            ("role", Some(v)) => v == "link",
            ("tabindex", Some(v)) => v == "0",
            ("target", Some(v)) => v == "_blank",
            ("rel", Some(v)) => v == "noopener noreferrer nofollow",
            ("type", Some(v)) => v == "checkbox",
            ("loading", Some(v)) => v == "lazy",
            ("referrerpolicy", Some(v)) => v == "no-referrer",
            ("start", Some(v)) => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
            ("checked" | "disabled", None) => true,
            _ => false,
        }
    }

    /// Everything `render` may write, and nothing else.
    fn check_safe(html: &str) -> Result<(), String> {
        let mut open_links = 0usize;
        for tag in scan(html)? {
            if tag.name == "a" {
                // A nested <a> would be split apart by the HTML parser: harmless, but not ours.
                open_links = if tag.closing {
                    open_links.saturating_sub(1)
                } else {
                    open_links + 1
                };
                if open_links > 1 {
                    return Err("nested links".into());
                }
            }
            if !TAGS.contains(&tag.name.as_str()) {
                return Err(format!("tag <{}> not allowed", tag.name));
            }
            for (name, value) in &tag.attributes {
                if !attribute_allowed(name, value.as_deref()) {
                    return Err(format!("attribute {name}={value:?} on <{}>", tag.name));
                }
            }
            let has = |n: &str| tag.attributes.iter().any(|(name, _)| name == n);
            if tag.name == "a" && !tag.closing && has("href") == has("data-title") {
                return Err("a link needs an href or, for a wiki link, only a data-title".into());
            }
        }
        Ok(())
    }

    fn assert_safe(markdown: &str, html: &str) {
        if let Err(e) = check_safe(html) {
            panic!("{e}\ninput: {markdown:?}\noutput: {html}");
        }
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
        ] {
            assert!(check_safe(unsafe_html).is_err(), "{unsafe_html}");
        }
        check_safe("<p class=\"align-left\" title=\"&amp;&#39;\">a &lt; b</p><br>").unwrap();
    }

    fn rendered_wiki_titles(html: &str) -> Vec<String> {
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
            "<ul><li><input type=\"checkbox\" disabled checked> done</li>\
             <li><input type=\"checkbox\" disabled> todo</li></ul>",
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
            &format!(
                "<p><a href=\"https://example.com/?q=1&amp;r=2\" title=\"T\" {attrs}>a</a></p>"
            ),
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
}
