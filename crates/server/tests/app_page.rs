//! The app's page carries this server's `/config` answer, made for each request (a TURN
//! credential per request), so the app knows how to reach peers the moment it starts.

mod common;

use common::http::Http;
use common::*;
use commonplace_protocol::config::ServedConfig;
use commonplace_server::ice::{IceConfig, TurnAuth};
use commonplace_server::Options;
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// As Trunk's minifier writes index.html: the element empty, attributes unquoted.
const PAGE: &str = "<!doctype html><html><head><script id=commonplace-config type=application/json></script><script>start()</script></head><body></body></html>";

fn with_turn(dist: &std::path::Path) -> Options {
    let mut options = Options::new(dist);
    options.ice = IceConfig {
        stun: vec!["stun:198.18.0.1:3478".into()],
        turn: vec!["turn:198.18.0.1:3478?transport=udp".into()],
        auth: TurnAuth::Secret {
            secret: "north".into(),
            ttl: Duration::from_secs(3600),
        },
    };
    options
}

/// The config written into a page's body.
fn served(html: &str) -> ServedConfig {
    let start = html.find("type=application/json>").expect("the element") + 22;
    let end = start + html[start..].find("</script>").unwrap();
    ServedConfig::parse(&html[start..end]).unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn the_page_carries_a_config_made_for_each_request() {
    let dist = temp_dir("app-page");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), PAGE).unwrap();
    let server = start(with_turn(&dist)).await;

    let before = now_ms();
    let first = Http::once(server.addr, "GET", "/", &[], b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(
        first.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(first.body.clone()).unwrap();
    assert!(html.ends_with("</script><script>start()</script></head><body></body></html>"));
    let one = served(&html);
    assert!((before..=now_ms()).contains(&one.served_at));
    assert!(!one.config.store, "started without a store");
    assert_eq!(one.config.ice_servers.len(), 2);
    let turn = &one.config.ice_servers[1];
    assert!(turn.credential.is_some());

    // /index.html is the same page, gzipped when asked, with a credential of its own.
    let zipped = Http::once(
        server.addr,
        "GET",
        "/index.html",
        &[("Accept-Encoding", "gzip, br")],
        b"",
    )
    .await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let mut html = String::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_string(&mut html)
        .unwrap();
    let two = served(&html);
    assert_ne!(
        two.config.ice_servers[1].username, turn.username,
        "a TURN username per request"
    );
    assert_eq!(
        two.config.expires_at.is_some(),
        one.config.expires_at.is_some()
    );

    let head = Http::once(server.addr, "HEAD", "/", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // `/config` answers as it always did.
    let config = Http::once(server.addr, "GET", "/config", &[], b"").await;
    assert_eq!(config.json()["iceServers"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_page_without_the_element_is_served_as_it_is() {
    let dist = temp_dir("app-page-plain");
    std::fs::create_dir_all(&dist).unwrap();
    let plain = "<!doctype html><title>Commonplace</title>";
    std::fs::write(dist.join("index.html"), plain).unwrap();
    let server = start(with_turn(&dist)).await;
    let reply = Http::once(server.addr, "GET", "/", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, plain.as_bytes());
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
}
