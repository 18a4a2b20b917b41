//! Room encryption against the real y-webrtc: fixtures it made (`fixtures/y-webrtc-crypto.json`,
//! from `fixtures/make_crypto_fixtures.mjs`), and, where node and node_modules are present,
//! y-webrtc decrypting what we encrypt.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use commonplace_protocol::crypto::{decode_any, RoomKey};
use commonplace_protocol::signaling::RoomSignal;
use serde_json::{json, Value};

fn fixture() -> Value {
    let text = include_str!("fixtures/y-webrtc-crypto.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn bytes(value: &Value) -> Vec<u8> {
    BASE64
        .decode(value.as_str().expect("base64 string"))
        .expect("base64")
}

fn str(value: &Value) -> &str {
    value.as_str().expect("string")
}

#[test]
fn we_derive_y_webrtc_keys_and_read_its_messages() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let key = RoomKey::derive(str(&case["secret"]), str(&case["room"]));
        assert_eq!(key.to_bytes().as_slice(), bytes(&case["key"]), "{case}");
        for publish in case["publishes"].as_array().unwrap() {
            let value = key.decrypt_signal(str(&publish["data"])).unwrap();
            assert_eq!(value, publish["json"]);
            // ... and it is a signal the room understands.
            serde_json::from_value::<RoomSignal>(value).unwrap();
        }
        for frame in case["frames"].as_array().unwrap() {
            let plain = key.decrypt(&bytes(&frame["envelope"])).unwrap();
            assert_eq!(plain, bytes(&frame["bytes"]));
        }
        // Another key reads none of it.
        let other = RoomKey::from_bytes([0; 32]);
        assert!(other
            .decrypt_signal(str(&case["publishes"][0]["data"]))
            .is_err());
    }
    let any = &fixture["any"];
    assert_eq!(decode_any(&bytes(&any["bytes"])).unwrap(), any["json"]);
}

#[test]
fn y_webrtc_reads_our_messages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_crypto_fixtures.mjs");
    if !root.join("node_modules/y-webrtc/src/crypto.js").exists() {
        eprintln!("skipped: no node_modules/y-webrtc (npm install at the workspace root)");
        return;
    }
    let fixture = fixture();
    let signal = json!({"type": "signal", "from": "a", "to": "b", "token": 1718000000000.1234,
        "signal": {"type": "candidate", "candidate": {"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host", "sdpMLineIndex": 0, "sdpMid": "0"}}});
    let frame = [0u8, 0, 1, 0];
    let cases: Vec<Value> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let key = RoomKey::from_bytes(bytes(&case["key"]).try_into().unwrap());
            json!({
                "secret": case["secret"],
                "room": case["room"],
                "signal": key.encrypt_signal(&signal, [i as u8; 12]),
                "frame": BASE64.encode(key.encrypt(&frame, [0x80 | i as u8; 12])),
            })
        })
        .collect();
    let input =
        std::env::temp_dir().join(format!("commonplace-crypto-{}.json", std::process::id()));
    std::fs::write(&input, json!({ "cases": cases }).to_string()).unwrap();
    let output = Command::new("node")
        .arg(&script)
        .arg("--decrypt")
        .arg(&input)
        .output();
    let _ = std::fs::remove_file(&input);
    let output = match output {
        Ok(output) => output,
        Err(error) => return eprintln!("skipped: cannot run node: {error}"),
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    for result in results {
        assert_eq!(result["signal"], signal);
        assert_eq!(bytes(&result["frame"]), frame);
    }
}

/// What joining a keyed room costs here; `cargo test --release -- --nocapture` for the figure.
#[test]
fn key_derivation_cost() {
    let start = Instant::now();
    RoomKey::derive("correct horse battery staple", "notebook");
    println!(
        "one key derivation (PBKDF2-SHA256, 100,000 iterations): {:?}",
        start.elapsed()
    );
}
