//! The app's page (`/` and `/index.html`) with this server's `/config` answer written into it,
//! so that a newcomer knows its ICE servers (and TURN credentials) the moment the app starts,
//! instead of a main-thread turn after the head start's `fetch('/config')` answers — which on a
//! busy start came 30–190 ms after the response itself had arrived.
//!
//! index.html carries an empty `<script type="application/json" id="commonplace-config">`
//! before its head start; this fills it with `{"servedAt": ms, "config": <GET /config>}`. A
//! page without that element (another build, a hand-written test page) is served as it is. The
//! answer is made per request (a TURN credential is per request), so it is never stored by
//! HTTP caches (`no-store`) and is compressed here rather than in advance (~12 kB: gzip takes
//! well under a millisecond).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::client_config::ConfigSource;
use crate::precompressed::{accept_encoding, accepts};

/// What fills the page: where it lies and what `/config` answers.
pub struct AppPage {
    pub index: PathBuf,
    pub config: Arc<ConfigSource>,
}

/// The element the config goes into (its start tag; attributes in any order, quoted or not).
const ELEMENT_ID: &str = "commonplace-config";

/// Middleware before the file service: answers GET and HEAD of the app's page itself.
pub async fn serve(State(page): State<Arc<AppPage>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path();
    if !(method == Method::GET || method == Method::HEAD) || !(path == "/" || path == "/index.html")
    {
        return next.run(request).await;
    }
    let Ok(html) = tokio::fs::read(&page.index).await else {
        return next.run(request).await;
    };
    let Some(filled) = fill(&html, &page.config.page_json()) else {
        return next.run(request).await;
    };
    let gzip = accepts(&accept_encoding(&request), "gzip");
    let (body, encoding) = match gzip.then(|| gzipped(&filled)).flatten() {
        Some(zipped) => (zipped, Some("gzip")),
        None => (filled, None),
    };
    let len = body.len();
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    });
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    // Made per request: no cache may keep or reuse it (the cache-control layer leaves this).
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn gzipped(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// `html` with `json` as the text of the config element; `None` when it has no such element,
/// or one that is not empty (nothing is overwritten).
pub fn fill(html: &[u8], json: &str) -> Option<Vec<u8>> {
    let at = find(html, ELEMENT_ID.as_bytes())?;
    let open_end = at + find(&html[at..], b">")? + 1;
    let before_id = &html[..at];
    let tag_start = before_id.iter().rposition(|&b| b == b'<')?;
    if !html[tag_start..].starts_with(b"<script") || !html[open_end..].starts_with(b"</script>") {
        return None;
    }
    let mut out = Vec::with_capacity(html.len() + json.len());
    out.extend_from_slice(&html[..open_end]);
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(&html[open_end..]);
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_empty_element_however_the_minifier_wrote_it() {
        for page in [
            r#"<head><script type="application/json" id="commonplace-config"></script><script>x</script>"#,
            "<head><script id=commonplace-config type=application/json></script><script>x</script>",
        ] {
            let filled = String::from_utf8(fill(page.as_bytes(), "{\"a\":1}").unwrap()).unwrap();
            assert!(filled.contains(">{\"a\":1}</script><script>x"), "{filled}");
        }
    }

    #[test]
    fn leaves_pages_without_an_empty_element_alone() {
        for page in [
            "<!doctype html><title>app</title>",
            "<script id=commonplace-config>{}</script>",
            "<div id=commonplace-config></div>",
            "commonplace-config",
        ] {
            assert_eq!(fill(page.as_bytes(), "{}"), None, "{page}");
        }
    }

    #[test]
    fn gzip_unless_refused() {
        let accepts_gzip = |value| accepts(value, "gzip");
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, identity"));
    }
}
