//! Saving bytes as a file the person downloads.

use wasm_bindgen::JsCast;

pub fn save(name: &str, bytes: &[u8], mime: &str) {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let document = gloo::utils::document();
    if let Some(a) = document
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    // The download has started from the URL; it is no longer needed once this task ends.
    let _ = gloo::timers::callback::Timeout::new(0, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}
