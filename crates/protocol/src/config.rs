//! What the app asks of its own server before it connects: `GET /config` (server → peer, JSON).
//!
//! Today that is how to reach other peers across networks: the ICE servers (STUN, TURN) to
//! hand to every `RTCPeerConnection`. A TURN credential in it is short-lived (coturn's TURN
//! REST scheme); `expires_at` says when to fetch a fresh one. And whether the server keeps
//! encrypted copies of notebooks (`store`, `docs/store.md`).

use serde::{Deserialize, Serialize};

/// The body of `GET /config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// As `RTCConfiguration.iceServers` takes them. Empty: loopback and LAN only.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// When the first credential in `ice_servers` stops working, in ms since the Unix epoch;
    /// `None`: nothing expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// This server keeps encrypted copies of notebooks (`/store/`, see `docs/store.md`): false
    /// when it was started with `--no-store`, and when the field is missing (an older server).
    #[serde(default)]
    pub store: bool,
}

/// One `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl ClientConfig {
    /// Parses a `/config` body; anything malformed is an error, not a half-read config.
    pub fn parse(json: &str) -> Result<ClientConfig, String> {
        let config: ClientConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.check_urls()?;
        Ok(config)
    }

    fn check_urls(&self) -> Result<(), String> {
        for server in &self.ice_servers {
            for url in &server.urls {
                if !is_ice_url(url) {
                    return Err(format!("not a STUN or TURN URL: {url}"));
                }
            }
        }
        Ok(())
    }

    /// When to fetch a fresh config, given when this one was fetched (ms since the Unix epoch):
    /// once three quarters of a credential's life is over, or an hour before it ends, but not
    /// within a minute of the last fetch. `None`: nothing expires.
    pub fn renew_at(&self, fetched_at: u64) -> Option<u64> {
        let expires = self.expires_at?;
        let life = expires.saturating_sub(fetched_at);
        let at = (fetched_at + life / 4 * 3).min(expires.saturating_sub(3_600_000));
        Some(at.max(fetched_at + 60_000))
    }
}

/// The config as the server writes it into the app's page (`<script type="application/json"
/// id="commonplace-config">`), so the app has it when it starts, without asking: with the time
/// it was made, since a page can come from the service worker's cache long after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServedConfig {
    /// When the server made it (ms since the Unix epoch, the server's clock).
    pub served_at: u64,
    pub config: ClientConfig,
}

/// A page's config older than this (the service worker's offline copy of the page) is used,
/// and a fresh one fetched as well.
pub const SERVED_FRESH_MS: u64 = 10 * 60 * 1000;

impl ServedConfig {
    /// JSON that is safe as the text of a `<script>` element: no `<` in it at all (so no
    /// `</script>` or `<!--`), written as `\u003c` inside strings, which JSON reads back as `<`.
    pub fn to_script_text(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_default()
            .replace('<', "\\u003c")
    }

    /// Reads a page's config; its ICE URLs are checked as `ClientConfig::parse` checks them.
    pub fn parse(json: &str) -> Result<ServedConfig, String> {
        let served: ServedConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        served.config.check_urls()?;
        Ok(served)
    }

    /// Whether it was made recently enough, at `now` (ms since the Unix epoch), that nothing
    /// needs fetching: a page served just now rather than a cached one (a clock behind the
    /// server's counts as now).
    pub fn fresh_at(&self, now: u64) -> bool {
        now.saturating_sub(self.served_at) < SERVED_FRESH_MS
    }
}

/// `stun:`, `stuns:`, `turn:` or `turns:` and something after it.
pub fn is_ice_url(url: &str) -> bool {
    ["stun:", "stuns:", "turn:", "turns:"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_server_writes_and_refuses_other_urls() {
        let config = ClientConfig {
            ice_servers: vec![IceServer {
                urls: vec!["turn:198.18.0.1:3478?transport=udp".into()],
                username: Some("1700000000:abc".into()),
                credential: Some("c2VjcmV0".into()),
            }],
            expires_at: Some(1_700_000_000_000),
            store: true,
        };
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains(r#""iceServers":[{"urls":["turn:"#), "{json}");
        assert!(json.ends_with(r#""store":true}"#), "{json}");
        assert_eq!(ClientConfig::parse(&json), Ok(config));
        assert_eq!(ClientConfig::parse("{}"), Ok(ClientConfig::default()));
        let bad = r#"{"iceServers":[{"urls":["http://example.invalid"]}]}"#;
        assert!(ClientConfig::parse(bad).is_err());
        assert!(ClientConfig::parse("[").is_err());
        assert!(is_ice_url("stun:x") && !is_ice_url("stun:") && !is_ice_url("turnx:y"));
    }

    #[test]
    fn store_says_whether_the_server_keeps_notebooks() {
        let without = ClientConfig::default();
        assert!(!without.store);
        let json = serde_json::to_string(&without).unwrap();
        assert_eq!(json, r#"{"iceServers":[],"store":false}"#);
        assert_eq!(ClientConfig::parse(&json), Ok(without));
        let with = ClientConfig::parse(r#"{"iceServers":[],"store":true}"#).unwrap();
        assert!(with.store);
        // An older server's config has no such field: it keeps no store.
        let older = ClientConfig::parse(r#"{"iceServers":[{"urls":["stun:x"]}]}"#).unwrap();
        assert!(!older.store);
        assert!(ClientConfig::parse(r#"{"store":"yes"}"#).is_err());
    }

    #[test]
    fn an_expiring_credential_is_renewed_before_it_runs_out() {
        let hours = |h: u64| h * 3_600_000;
        let config = ClientConfig {
            expires_at: Some(hours(12)),
            ..ClientConfig::default()
        };
        assert_eq!(config.renew_at(0), Some(hours(9)));
        let short = ClientConfig {
            expires_at: Some(hours(1)),
            ..ClientConfig::default()
        };
        assert_eq!(
            short.renew_at(0),
            Some(60_000),
            "an hour or less: soon, not at once"
        );
        assert_eq!(ClientConfig::default().renew_at(0), None);
    }

    #[test]
    fn a_pages_config_is_safe_script_text_and_reads_back() {
        let served = ServedConfig {
            served_at: 1_700_000_000_000,
            config: ClientConfig {
                ice_servers: vec![IceServer {
                    urls: vec!["turn:x</script><script>alert(1)<!--".into()],
                    username: Some("1700000000:ab".into()),
                    credential: Some("c2Vj</SCRIPT>".into()),
                }],
                expires_at: Some(1_700_043_200_000),
                store: true,
            },
        };
        let text = served.to_script_text();
        assert!(!text.contains('<'), "{text}");
        assert_eq!(ServedConfig::parse(&text), Ok(served.clone()));
        assert!(served.fresh_at(served.served_at + SERVED_FRESH_MS - 1));
        assert!(!served.fresh_at(served.served_at + SERVED_FRESH_MS));
        assert!(served.fresh_at(0), "a clock behind the server's");
        let bad = text.replace("turn:x", "http:x");
        assert!(ServedConfig::parse(&bad).is_err());
        assert!(ServedConfig::parse("").is_err());
        assert!(ServedConfig::parse(r#"{"config":{}}"#).is_err());
    }
}
