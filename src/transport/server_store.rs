//! The server's encrypted store over HTTP (`docs/store.md`): the core says what to send
//! ([`HttpRequest`]) and reads the answer; this only carries the bytes.

use commonplace_core::room::HttpRequest;
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCache, RequestInit, Response};

/// Sends `request` to the server the app came from: the status and body of its answer, or why
/// there was none (offline, the server unreachable).
pub async fn send(request: &HttpRequest) -> Result<(u16, Vec<u8>), String> {
    let init = RequestInit::new();
    init.set_method(request.method);
    // Another browser may have written since: never an answer from a cache.
    init.set_cache(RequestCache::NoStore);
    let headers = Headers::new().map_err(describe)?;
    if let Some(authorization) = &request.authorization {
        headers
            .set("Authorization", authorization)
            .map_err(describe)?;
    }
    if let Some(body) = &request.body {
        headers
            .set("Content-Type", "application/octet-stream")
            .map_err(describe)?;
        init.set_body(&Uint8Array::from(body.as_slice()).into());
    }
    init.set_headers(&headers);
    let fetch = Request::new_with_str_and_init(&request.path, &init).map_err(describe)?;
    let response: Response = JsFuture::from(gloo::utils::window().fetch_with_request(&fetch))
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(describe)?;
    let buffer = JsFuture::from(response.array_buffer().map_err(describe)?)
        .await
        .map_err(describe)?;
    Ok((response.status(), Uint8Array::new(&buffer).to_vec()))
}

fn describe(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the request failed".into())
}
