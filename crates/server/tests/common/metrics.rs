//! `/metrics` as the tests read it: a strict parser of Prometheus's text exposition format
//! (version 0.0.4), scrapes over [`Http`], and waiting for counters and gauges to settle.

use super::http::Http;
use super::WAIT;
use commonplace_server::metrics::CONTENT_TYPE_0_0_4;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A strict parser of the text exposition format, version 0.0.4.

/// One scrape: its text, and every series (`name{label="value",...}`, labels sorted) with its
/// value.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    pub series: BTreeMap<String, f64>,
}

pub fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels = labels.to_vec();
    labels.sort();
    if labels.is_empty() {
        return name.to_string();
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{value}\""))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

impl Scrape {
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = series_key(name, labels);
        *self
            .series
            .get(&key)
            .unwrap_or_else(|| panic!("no series {key} in:\n{}", self.text))
    }

    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.series.contains_key(&series_key(name, labels))
    }
}

pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// A sample value: a decimal float (digits, sign, point, exponent) or NaN, +Inf, -Inf.
pub fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => return Ok(f64::NAN),
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let plain = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if !plain || !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("not a number: {text:?}"));
    }
    text.parse::<f64>()
        .map_err(|e| format!("not a number: {text:?} ({e})"))
}

pub type Sample = (String, Vec<(String, String)>, f64);

/// `name{label="value",...} value [timestamp]`.
pub fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .ok_or("a sample without a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            let label_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .ok_or("unfinished labels")?;
            let label = &rest[..label_end];
            if !is_label_name(label) {
                return Err(format!("bad label name {label:?}"));
            }
            rest = rest[label_end..]
                .strip_prefix("=\"")
                .ok_or("a label without =\"")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("an unfinished label value".into()),
                    Some((at, '"')) => break at,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape in a label value: {other:?}")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.iter().any(|(seen, _)| seen == label) {
                return Err(format!("label {label} twice"));
            }
            labels.push((label.to_string(), value));
            rest = &rest[end + 1..];
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            rest = rest
                .strip_prefix(',')
                .ok_or("labels not separated by a comma")?;
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().unwrap_or_default())?;
    if let Some(timestamp) = parts.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("bad timestamp {timestamp:?}"))?;
    }
    if parts.next().is_some() {
        return Err("more after the timestamp".into());
    }
    Ok((name.to_string(), labels, value))
}

/// Every line a `# HELP`, a `# TYPE` or a sample; each metric's HELP and TYPE once, before its
/// samples; a family's samples together; counters named `_total`, finite and not negative;
/// every value a number; no series twice; the text ends with a newline.
pub fn parse_exposition(text: &str) -> Result<BTreeMap<String, f64>, String> {
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut help: HashSet<String> = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut sampled: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(at("an empty line".into()));
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let (keyword, rest) = comment
                .split_once(' ')
                .ok_or_else(|| at("a bare comment".into()))?;
            let (name, argument) = rest
                .split_once(' ')
                .ok_or_else(|| at(format!("{keyword} without a text")))?;
            if !is_metric_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            if sampled.contains(name) {
                return Err(at(format!("{keyword} after {name}'s samples")));
            }
            match keyword {
                "HELP" => {
                    if argument.trim().is_empty() {
                        return Err(at("an empty HELP".into()));
                    }
                    let mut chars = argument.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                            return Err(at("a bad escape in HELP".into()));
                        }
                    }
                    if !help.insert(name.to_string()) {
                        return Err(at(format!("a second HELP for {name}")));
                    }
                }
                "TYPE" => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&argument)
                    {
                        return Err(at(format!("unknown type {argument:?}")));
                    }
                    if argument == "counter" && !name.ends_with("_total") {
                        return Err(at(format!("a counter not named _total: {name}")));
                    }
                    if types
                        .insert(name.to_string(), argument.to_string())
                        .is_some()
                    {
                        return Err(at(format!("a second TYPE for {name}")));
                    }
                }
                _ => return Err(at(format!("unknown comment {keyword:?}"))),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(at("a comment other than HELP or TYPE".into()));
        }
        let (name, labels, value) = parse_sample(line).map_err(at)?;
        let kind = types
            .get(&name)
            .ok_or_else(|| at(format!("{name} has no TYPE")))?;
        if !help.contains(&name) {
            return Err(at(format!("{name} has no HELP")));
        }
        if matches!(kind.as_str(), "histogram" | "summary") {
            return Err(at("histograms and summaries are not expected here".into()));
        }
        if current.as_deref() != Some(name.as_str()) {
            if !sampled.insert(name.clone()) {
                return Err(at(format!("{name}'s samples are not together")));
            }
            current = Some(name.clone());
        }
        if kind == "counter" && !(value.is_finite() && value >= 0.0) {
            return Err(at(format!("a counter at {value}")));
        }
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let key = series_key(&name, &labels);
        if series.insert(key.clone(), value).is_some() {
            return Err(at(format!("{key} twice")));
        }
    }
    for name in &help {
        if !types.contains_key(name) {
            return Err(format!("{name} has a HELP and no TYPE"));
        }
    }
    for name in types.keys() {
        if !help.contains(name) {
            return Err(format!("{name} has a TYPE and no HELP"));
        }
    }
    Ok(series)
}

// ---------------------------------------------------------------------------------------------
// Scraping.

pub async fn scrape(http: &mut Http) -> Scrape {
    let reply = http.request("GET", "/metrics", &[], &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE_0_0_4));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let text = String::from_utf8(reply.body).expect("UTF-8");
    let series = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Scrape { text, series }
}

/// A counter (its name and labels) and how much it moved.
pub type Moved<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64);

/// What is expected of a scrape: counters by how much they moved since `before` (every counter
/// not listed: not at all), gauges by their value.
pub struct Expected<'a> {
    pub moved: Vec<Moved<'a>>,
    pub gauges: Vec<(&'a str, f64)>,
}

/// The differences between `after` and what was expected, one line each.
pub fn differences(before: &Scrape, after: &Scrape, expected: &Expected) -> Vec<String> {
    let mut moved: BTreeMap<String, f64> = BTreeMap::new();
    for (name, labels, by) in &expected.moved {
        moved.insert(series_key(name, labels), *by);
    }
    let mut wrong = Vec::new();
    for (key, value) in &after.series {
        if !key.split('{').next().unwrap().ends_with("_total") {
            continue;
        }
        let was = before.series.get(key).copied().unwrap_or(0.0);
        let by = moved.remove(key).unwrap_or(0.0);
        if value - was != by {
            wrong.push(format!("{key}: moved by {}, expected {by}", value - was));
        }
    }
    for key in moved.keys() {
        wrong.push(format!("{key}: missing"));
    }
    for (name, value) in &expected.gauges {
        let is = after.get(name, &[]);
        if is != *value {
            wrong.push(format!("{name}: {is}, expected {value}"));
        }
    }
    wrong
}

/// Scrapes until the counters and gauges are as expected (some of them move when the server has
/// noticed a close, a moment after the client's side), or fails saying what differs.
pub async fn settled(http: &mut Http, before: &Scrape, expected: &Expected<'_>) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let after = scrape(http).await;
        let wrong = differences(before, &after, expected);
        if wrong.is_empty() {
            return after;
        }
        assert!(
            Instant::now() < deadline,
            "not as expected:\n{}\n\n{}",
            wrong.join("\n"),
            after.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
