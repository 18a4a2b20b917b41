//! What the app asks its server before it connects (`commonplace_protocol::config`): answered
//! at `GET /config`, and written into the app's page (`app_page`), fresh each time (a TURN
//! credential is made per request).

use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::Json;
use commonplace_protocol::config::{ClientConfig, ServedConfig};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ice::IceConfig;

pub struct ConfigSource {
    pub ice: IceConfig,
    /// This server keeps encrypted copies of notebooks (not started with `--no-store`).
    pub keeps_store: bool,
}

impl ConfigSource {
    /// A config made now, with its time (ms since the Unix epoch).
    fn make(&self) -> (ClientConfig, u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut id = [0u8; 9];
        let _ = getrandom::fill(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let mut config = self.ice.client_config(now, &id);
        config.store = self.keeps_store;
        (config, now)
    }

    /// The page's copy, as the text of a `<script type="application/json">`.
    pub fn page_json(&self) -> String {
        let (config, served_at) = self.make();
        ServedConfig { served_at, config }.to_script_text()
    }
}

/// `GET /config`: never cached.
pub async fn answer(source: Arc<ConfigSource>) -> impl IntoResponse {
    ([(CACHE_CONTROL, "no-store")], Json(source.make().0))
}
