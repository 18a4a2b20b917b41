//! The app's own server says how to reach peers across networks (`GET /config`: ICE servers,
//! short-lived TURN credentials), and writes the same answer into the page it serves. The last
//! answer is kept in this browser, so an offline start still knows the way once the network is
//! back.

use commonplace_protocol::config::{ClientConfig, ServedConfig};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::head_start;

const KEY: &str = "commonplace.config";

/// The config and when it was fetched (ms since the Unix epoch).
pub type Fetched = (ClientConfig, u64);

/// The last config this browser fetched, if any (and readable).
pub fn cached() -> Option<Fetched> {
    let storage = gloo::utils::window().local_storage().ok().flatten()?;
    let text = storage.get_item(KEY).ok().flatten()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let fetched_at = value.get("fetchedAt")?.as_u64()?;
    let config = ClientConfig::parse(&value.get("config")?.to_string()).ok()?;
    Some((config, fetched_at))
}

fn remember((config, fetched_at): &Fetched) {
    let Some(storage) = gloo::utils::window().local_storage().ok().flatten() else {
        return;
    };
    let value = json!({ "fetchedAt": fetched_at, "config": config });
    let _ = storage.set_item(KEY, &value.to_string());
}

/// The config the server wrote into the page (`None`: another server, or none written), and
/// whether it is fresh: a page from the service worker's cache carries an old one.
pub fn served(now: u64) -> Option<(Fetched, bool)> {
    let element = gloo::utils::document().get_element_by_id("commonplace-config")?;
    let text = element.text_content().filter(|text| !text.is_empty())?;
    let served = match ServedConfig::parse(&text) {
        Ok(served) => served,
        Err(why) => {
            gloo::console::warn!("the page's ICE configuration is unreadable:", why);
            return None;
        }
    };
    let fresh = served.fresh_at(now);
    let fetched = (served.config, served.served_at);
    if fresh {
        remember(&fetched);
    }
    Some((fetched, fresh))
}

/// The head start's answer, if it has arrived already (and parses); kept as `fetch` keeps it.
pub fn answered(now: u64) -> Option<Fetched> {
    let fetched = (
        ClientConfig::parse(&head_start::config_answered()?).ok()?,
        now,
    );
    remember(&fetched);
    Some(fetched)
}

/// Asks the server the app came from, and keeps the answer.
pub async fn fetch(now: u64) -> Result<Fetched, String> {
    let text = match head_start::config() {
        Some(begun) => JsFuture::from(begun).await.map_err(describe)?,
        None => fetch_text().await?,
    };
    let fetched = (
        ClientConfig::parse(&text.as_string().unwrap_or_default())?,
        now,
    );
    remember(&fetched);
    Ok(fetched)
}

async fn fetch_text() -> Result<JsValue, String> {
    let promise = gloo::utils::window().fetch_with_str("/config");
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(describe)?;
    if !response.ok() {
        return Err(format!("GET /config: {}", response.status()));
    }
    JsFuture::from(response.text().map_err(describe)?)
        .await
        .map_err(describe)
}

/// `RTCConfiguration.iceServers` for this config.
pub fn ice_servers(config: &ClientConfig) -> JsValue {
    let json = serde_json::to_string(&config.ice_servers).unwrap_or_else(|_| "[]".into());
    js_sys::JSON::parse(&json).unwrap_or_else(|_| js_sys::Array::new().into())
}

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            js_sys::JSON::stringify(&error)
                .ok()
                .and_then(|s| s.as_string())
        })
        .unwrap_or_else(|| "fetch failed".into())
}
