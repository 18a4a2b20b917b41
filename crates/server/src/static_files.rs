//! The built app, served from `dist` with cache headers, compressed in advance
//! (`precompressed`): nothing is compressed per request.

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, IF_MODIFIED_SINCE, LAST_MODIFIED};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;
use tower_http::services::ServeDir;

use crate::precompressed::{self, Precompressed};

pub fn service(dist: PathBuf) -> Router {
    let precompressed = Precompressed::start(dist.clone());
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
        .fallback_service(ServeDir::new(dist).fallback(missing))
        .layer(middleware::from_fn_with_state(
            precompressed,
            precompressed::serve,
        ))
        .layer(middleware::from_fn(cache_control))
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
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
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
