//! The built app, served from `dist` with cache headers, compressed in advance
//! (`precompressed`) — but for the app's page, which carries a config made per request
//! (`app_page`) and is compressed as it is served.
//!
//! Only files inside `dist` are served. tower-http's `ServeDir` refuses `..` and the like in
//! every spelling (percent-escaped, backslashes, NUL bytes: `tests/hostile_http.rs`), but it
//! follows symlinks wherever they lead: a link in `dist` to `..` or `/etc` served whatever is
//! there, and so did the compressed copies. `inside_dist` resolves the links first and answers
//! 404 for a file (or a folder's `index.html`) that lies outside; links within `dist` work.

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, IF_MODIFIED_SINCE, LAST_MODIFIED};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use percent_encoding::percent_decode_str;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tower_http::services::ServeDir;

use crate::app_page::{self, AppPage};
use crate::client_config::ConfigSource;
use crate::precompressed::{self, Precompressed};

pub fn service(dist: PathBuf, config: Arc<ConfigSource>) -> Router {
    let precompressed = Precompressed::start(dist.clone());
    let page = Arc::new(AppPage {
        index: dist.join("index.html"),
        config,
    });
    let index = dist.join("index.html");
    // Checked per request, so the app can be built while the server runs.
    let missing = get(move || async move {
        if tokio::fs::try_exists(&index).await.unwrap_or(false) {
            (StatusCode::NOT_FOUND, "not found").into_response()
        } else {
            let text = "Commonplace: app not built: run scripts/serve (or trunk build)";
            (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
        }
    });
    Router::new()
        .fallback_service(ServeDir::new(&dist).fallback(missing))
        .layer(middleware::from_fn_with_state(
            precompressed,
            precompressed::serve,
        ))
        .layer(middleware::from_fn_with_state(page, app_page::serve))
        // Before the compressed copies: they are made on demand of the file a path names.
        .layer(middleware::from_fn_with_state(Arc::new(dist), inside_dist))
        .layer(middleware::from_fn(cache_control))
}

/// 404 for a path whose file, its symlinks followed, is not inside `dist`.
async fn inside_dist(State(dist): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    if let Some(file) = named_file(&dist, request.uri().path()) {
        if !inside(&dist, &file).await {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
    }
    next.run(request).await
}

/// The file a URL path names in `dist` as `ServeDir` reads it (tower-http's
/// `build_and_validate_path`): percent-decoded, made of plain names; `None` for any path it
/// refuses itself (`..`, a root, a name that is not UTF-8).
fn named_file(dist: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(url_path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let mut file = dist.to_path_buf();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(name) => file.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(file)
}

/// Whether `file`, and for a folder its `index.html`, resolve to somewhere inside `dist`. What
/// cannot be resolved (it does not exist) is left to the file service, which finds nothing
/// either.
async fn inside(dist: &Path, file: &Path) -> bool {
    let (Ok(root), Ok(real)) = (
        tokio::fs::canonicalize(dist).await,
        tokio::fs::canonicalize(file).await,
    ) else {
        return true;
    };
    if !real.starts_with(&root) {
        return false;
    }
    if tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_dir()) {
        if let Ok(index) = tokio::fs::canonicalize(real.join("index.html")).await {
            return index.starts_with(&root);
        }
    }
    true
}

async fn cache_control(mut request: Request, next: Next) -> Response {
    let policy = cache_policy(request.uri().path());
    let revalidated = policy == NO_CACHE;
    if revalidated {
        // Modification times are whole seconds and deploys may carry old dates: a changed
        // sw.js or index.html must never be answered "304 Not Modified" by date.
        request.headers_mut().remove(IF_MODIFIED_SINCE);
    }
    let mut response = next.run(request).await;
    if revalidated {
        response.headers_mut().remove(LAST_MODIFIED);
    }
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        // The app's page, made per request, says so itself (`no-store`).
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(policy));
    }
    response
}

/// Files whose name carries Trunk's content hash never change; everything else (index.html,
/// sw.js, the manifest, copied assets) is revalidated on every use, so a deploy shows at once.
fn cache_policy(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    if has_content_hash(name) {
        "public, max-age=31536000, immutable"
    } else {
        NO_CACHE
    }
}

const NO_CACHE: &str = "no-cache";

/// Trunk names hashed files `<stem>-<hex u64>` plus `.js`, `_bg.wasm`, `.css`, ...
fn has_content_hash(name: &str) -> bool {
    name.rsplit_once('-').is_some_and(|(_, rest)| {
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        (12..=16).contains(&hex) && matches!(rest.as_bytes().get(hex), Some(b'.' | b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_are_cached_long() {
        for path in [
            "/commonplace-1f2e3d4c5b6a7988_bg.wasm",
            "/commonplace-a1b2c3d4e5f6a7b.js",
            "/x/style-0123456789abcdef.css",
        ] {
            assert_eq!(
                cache_policy(path),
                "public, max-age=31536000, immutable",
                "{path}"
            );
        }
        for path in [
            "/",
            "/index.html",
            "/sw.js",
            "/manifest.webmanifest",
            "/icon-192.png",
            "/a-b/c.js",
            "/x-1234567890abcdefg.js",
        ] {
            assert_eq!(cache_policy(path), "no-cache", "{path}");
        }
    }
}
