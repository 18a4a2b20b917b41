//! The ICE servers the app gets from `GET /config`: STUN and TURN URLs from the command line,
//! with TURN credentials either static or, with a shared secret, short-lived ones made per
//! request as coturn's `use-auth-secret` (TURN REST API) expects: username
//! `<expiry in Unix seconds>:<random id>`, credential base64(HMAC-SHA1(secret, username)).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use commonplace_protocol::config::{is_ice_url, ClientConfig, IceServer};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// How TURN servers are authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnAuth {
    None,
    /// coturn's `static-auth-secret`: credentials made per request, valid for `ttl`.
    Secret {
        secret: String,
        ttl: Duration,
    },
    Static {
        user: String,
        pass: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceConfig {
    pub stun: Vec<String>,
    pub turn: Vec<String>,
    pub auth: TurnAuth,
}

impl IceConfig {
    /// No ICE servers: peers reach each other on loopback and the LAN only.
    pub fn none() -> IceConfig {
        IceConfig {
            stun: Vec::new(),
            turn: Vec::new(),
            auth: TurnAuth::None,
        }
    }

    /// Checks the URLs and that TURN has credentials.
    pub fn validate(&self) -> Result<(), String> {
        for url in self.stun.iter().chain(&self.turn) {
            if !is_ice_url(url) {
                return Err(format!("not a STUN or TURN URL: {url}"));
            }
        }
        if let Some(url) = self.stun.iter().find(|u| u.starts_with("turn")) {
            return Err(format!("--stun takes stun: URLs, not {url}"));
        }
        if let Some(url) = self.turn.iter().find(|u| u.starts_with("stun")) {
            return Err(format!("--turn takes turn: or turns: URLs, not {url}"));
        }
        if !self.turn.is_empty() && self.auth == TurnAuth::None {
            return Err("--turn needs --turn-secret, or --turn-user and --turn-pass".into());
        }
        Ok(())
    }

    /// The config for one request at `now_ms` (ms since the Unix epoch); `id` makes the
    /// username of a TURN REST credential unique.
    pub fn client_config(&self, now_ms: u64, id: &str) -> ClientConfig {
        let mut config = ClientConfig::default();
        if !self.stun.is_empty() {
            config.ice_servers.push(IceServer {
                urls: self.stun.clone(),
                username: None,
                credential: None,
            });
        }
        if self.turn.is_empty() {
            return config;
        }
        let (username, credential) = match &self.auth {
            TurnAuth::None => return config,
            TurnAuth::Static { user, pass } => (user.clone(), pass.clone()),
            TurnAuth::Secret { secret, ttl } => {
                let expires = now_ms / 1000 + ttl.as_secs();
                config.expires_at = Some(expires * 1000);
                let username = format!("{expires}:{id}");
                let credential = turn_rest_credential(secret, &username);
                (username, credential)
            }
        };
        config.ice_servers.push(IceServer {
            urls: self.turn.clone(),
            username: Some(username),
            credential: Some(credential),
        });
        config
    }
}

/// base64(HMAC-SHA1(secret, username)), as coturn checks it.
pub fn turn_rest_credential(secret: &str, username: &str) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_rest_credentials_match_coturns_scheme() {
        // Computed independently with Python's hmac: base64(hmac.new(b"north",
        // b"1331533591:mbzrxpgjys", sha1).digest()). The NAT lab checks it against coturn.
        assert_eq!(
            turn_rest_credential("north", "1331533591:mbzrxpgjys"),
            "1BaYL1yfHdyjFYgkRK9mF2O4hhE="
        );
    }

    #[test]
    fn a_config_per_request() {
        let ice = IceConfig {
            stun: vec!["stun:198.18.0.1:3478".into()],
            turn: vec!["turn:198.18.0.1:3478?transport=udp".into()],
            auth: TurnAuth::Secret {
                secret: "north".into(),
                ttl: Duration::from_secs(12 * 3600),
            },
        };
        ice.validate().unwrap();
        let config = ice.client_config(1_000_000_500, "abc");
        assert_eq!(config.ice_servers.len(), 2);
        let turn = &config.ice_servers[1];
        let username = turn.username.clone().unwrap();
        assert_eq!(username, format!("{}:abc", 1_000_000 + 12 * 3600));
        assert_eq!(
            turn.credential.as_deref(),
            Some(turn_rest_credential("north", &username).as_str())
        );
        assert_eq!(config.expires_at, Some((1_000_000 + 12 * 3600) * 1000));
        assert_eq!(
            IceConfig::none().client_config(0, "x"),
            ClientConfig::default()
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        let with = |stun: &[&str], turn: &[&str], auth| IceConfig {
            stun: stun.iter().map(|s| s.to_string()).collect(),
            turn: turn.iter().map(|s| s.to_string()).collect(),
            auth,
        };
        assert!(with(&["http://x"], &[], TurnAuth::None).validate().is_err());
        assert!(with(&["turn:x"], &[], TurnAuth::None).validate().is_err());
        assert!(with(&[], &["turn:x"], TurnAuth::None).validate().is_err());
        assert!(with(&[], &["stun:x"], TurnAuth::None).validate().is_err());
        let user = TurnAuth::Static {
            user: "u".into(),
            pass: "p".into(),
        };
        assert!(with(&["stun:x"], &["turns:x:5349?transport=tcp"], user)
            .validate()
            .is_ok());
    }
}
