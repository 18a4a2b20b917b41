//! A scanner for the markdown preview's HTML, strict enough to catch anything unescaped: it
//! accepts exactly the tags, attributes and escapes the renderer writes, and nothing else.
//!
//! Not used by the app: it is the markdown tests' oracle (`tests/markdown.rs`) and the fuzz
//! target's (`fuzz/fuzz_targets/markdown.rs`), kept here so both use this one implementation.
//! Nothing calls it in the app, so it adds nothing to the wasm.

pub struct ScannedTag {
    pub name: String,
    pub closing: bool,
    pub attributes: Vec<(String, Option<String>)>,
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
pub fn scan(html: &str) -> Result<Vec<ScannedTag>, String> {
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

pub fn unescape(value: &str) -> String {
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
        ("start" | "data-task", Some(v)) => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
        ("checked", None) => true,
        _ => false,
    }
}

/// Everything `render` may write, and nothing else.
pub fn check_safe(html: &str) -> Result<(), String> {
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
