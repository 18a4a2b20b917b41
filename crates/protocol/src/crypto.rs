//! y-webrtc's room encryption (its `crypto.js`), so keyed rooms interoperate with stock peers.
//!
//! The key is PBKDF2-SHA256 (100,000 iterations) of the room's secret, salted with the room
//! name, used as an AES-256-GCM key. An encrypted message is a lib0 envelope:
//! `varString "AES-GCM"`, `varUint8Array iv` (12 bytes), `varUint8Array ciphertext‖tag`.
//! Signaling publishes carry JSON values as lib0 `Any`, encrypted, in standard base64;
//! BroadcastChannel frames are encrypted as they are. Data channels are not (DTLS covers them).
//!
//! This module never draws randomness: callers pass every IV, from a CSPRNG they seed.

use std::fmt;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map, Number, Value};
use sha2::Sha256;

use crate::lib0::{self, Decoder};

/// y-webrtc's PBKDF2 iteration count: changing it would lock out stock peers.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
pub const ALGORITHM: &str = "AES-GCM";
/// Nesting deeper than any signal, so a hostile value cannot exhaust the stack.
const MAX_ANY_DEPTH: usize = 64;

/// A room's AES-256-GCM key.
#[derive(Clone)]
pub struct RoomKey([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// Not an envelope, not base64, or not a lib0 `Any` that is JSON.
    Malformed(String),
    UnknownAlgorithm(String),
    /// Authentication failed: another key, or the message was altered.
    Rejected,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Malformed(why) => write!(f, "malformed encrypted message: {why}"),
            CryptoError::UnknownAlgorithm(name) => {
                write!(f, "unknown encryption algorithm {name:?}")
            }
            CryptoError::Rejected => f.write_str("cannot decrypt: wrong key or altered message"),
        }
    }
}

impl std::error::Error for CryptoError {}

fn malformed(error: impl fmt::Display) -> CryptoError {
    CryptoError::Malformed(error.to_string())
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomKey(..)") // never log key material
    }
}

impl RoomKey {
    /// y-webrtc's `deriveKey(secret, roomName)`. Deliberately slow (see [`PBKDF2_ITERATIONS`]).
    pub fn derive(secret: &str, room: &str) -> RoomKey {
        let mut key = [0; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(
            secret.as_bytes(),
            room.as_bytes(),
            PBKDF2_ITERATIONS,
            &mut key,
        );
        RoomKey(key)
    }

    /// A key derived elsewhere (e.g. by WebCrypto), as its raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> RoomKey {
        RoomKey(bytes)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// A short public tag of this key (SHA-256 of it, 16 bytes in hex): lets a browser tell
    /// that a stored notebook was written under another key, without storing the key.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(
            b"commonplace key fingerprint\0"
                .iter()
                .chain(&self.0)
                .copied()
                .collect::<Vec<u8>>(),
        );
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// y-webrtc's `encrypt`: the envelope of `plaintext` under this key. `iv` must never repeat
    /// for one key (GCM leaks the key stream otherwise): draw it from a CSPRNG.
    pub fn encrypt(&self, plaintext: &[u8], iv: [u8; 12]) -> Vec<u8> {
        let ciphertext = Aes256Gcm::new(&self.0.into())
            .encrypt(Nonce::from_slice(&iv), plaintext)
            .expect("AES-GCM encrypts any message a browser can send");
        let mut envelope = Vec::with_capacity(ciphertext.len() + 24);
        lib0::write_var_string(&mut envelope, ALGORITHM);
        lib0::write_var_uint8_array(&mut envelope, &iv);
        lib0::write_var_uint8_array(&mut envelope, &ciphertext);
        envelope
    }

    /// y-webrtc's `decrypt`.
    pub fn decrypt(&self, envelope: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut decoder = Decoder::new(envelope);
        let algorithm = decoder.read_var_string().map_err(malformed)?;
        if algorithm != ALGORITHM {
            return Err(CryptoError::UnknownAlgorithm(algorithm.to_owned()));
        }
        let iv: [u8; 12] = (decoder.read_var_uint8_array().map_err(malformed)?)
            .try_into()
            .map_err(|_| malformed("the IV is not 12 bytes"))?;
        let ciphertext = decoder.read_var_uint8_array().map_err(malformed)?;
        Aes256Gcm::new(&self.0.into())
            .decrypt(Nonce::from_slice(&iv), ciphertext)
            .map_err(|_| CryptoError::Rejected)
    }

    /// y-webrtc's `encryptJson`: `value` as lib0 `Any`, encrypted.
    pub fn encrypt_json(&self, value: &Value, iv: [u8; 12]) -> Vec<u8> {
        self.encrypt(&encode_any(value), iv)
    }

    /// y-webrtc's `decryptJson`.
    pub fn decrypt_json(&self, envelope: &[u8]) -> Result<Value, CryptoError> {
        decode_any(&self.decrypt(envelope)?)
    }

    /// The `data` of a signaling publish from a keyed room: `base64(encryptJson(value))`.
    pub fn encrypt_signal(&self, value: &Value, iv: [u8; 12]) -> String {
        BASE64.encode(self.encrypt_json(value, iv))
    }

    /// Reads the string `data` of a publish to a keyed room.
    pub fn decrypt_signal(&self, data: &str) -> Result<Value, CryptoError> {
        self.decrypt_json(&BASE64.decode(data).map_err(malformed)?)
    }
}

/// lib0's `writeAny` of a JSON value, numbers encoded as JavaScript would encode them.
pub fn encode_any(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_any(&mut bytes, value);
    bytes
}

fn write_any(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(126),
        Value::Bool(b) => out.push(if *b { 120 } else { 121 }),
        Value::Number(n) => {
            // Every JavaScript number is an f64; lib0 picks the shortest exact encoding.
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= 0x7FFF_FFFF as f64 {
                out.push(125);
                lib0::write_var_int(out, f as i64);
            } else if (f as f32) as f64 == f {
                out.push(124);
                lib0::write_float32(out, f as f32);
            } else {
                out.push(123);
                lib0::write_float64(out, f);
            }
        }
        Value::String(s) => {
            out.push(119);
            lib0::write_var_string(out, s);
        }
        Value::Array(items) => {
            out.push(117);
            lib0::write_var_uint(out, items.len() as u64);
            items.iter().for_each(|item| write_any(out, item));
        }
        Value::Object(map) => {
            out.push(118);
            lib0::write_var_uint(out, map.len() as u64);
            for (key, item) in map {
                lib0::write_var_string(out, key);
                write_any(out, item);
            }
        }
    }
}

/// lib0's `readAny`, as JSON: `undefined` becomes `null`, binary data is an error.
pub fn decode_any(bytes: &[u8]) -> Result<Value, CryptoError> {
    read_any(&mut Decoder::new(bytes), 0)
}

fn read_any(decoder: &mut Decoder<'_>, depth: usize) -> Result<Value, CryptoError> {
    if depth > MAX_ANY_DEPTH {
        return Err(malformed("nested too deeply"));
    }
    Ok(match decoder.read_u8().map_err(malformed)? {
        127 | 126 => Value::Null,
        // A JavaScript number, as lib0 reads it: past 2^53 it is rounded, as every other
        // number here (an exact i64 would not survive being written and read again).
        125 => number(decoder.read_var_int().map_err(malformed)? as f64),
        124 => number(decoder.read_float32().map_err(malformed)? as f64),
        123 => number(decoder.read_float64().map_err(malformed)?),
        122 => number(decoder.read_big_int64().map_err(malformed)? as f64),
        121 => Value::Bool(false),
        120 => Value::Bool(true),
        119 => Value::from(decoder.read_var_string().map_err(malformed)?),
        118 => {
            let len = decoder.read_var_uint().map_err(malformed)?;
            let mut map = Map::new();
            // No reservation: `len` is untrusted, and each entry needs input bytes anyway.
            for _ in 0..len {
                let key = decoder.read_var_string().map_err(malformed)?.to_owned();
                map.insert(key, read_any(decoder, depth + 1)?);
            }
            Value::Object(map)
        }
        117 => {
            let len = decoder.read_var_uint().map_err(malformed)?;
            let mut items = Vec::new();
            for _ in 0..len {
                items.push(read_any(decoder, depth + 1)?);
            }
            Value::Array(items)
        }
        116 => return Err(malformed("binary data in a JSON value")),
        tag => return Err(malformed(format!("unknown Any type {tag}"))),
    })
}

/// A JavaScript number as JSON: integral values are integers (JS does not tell 1 from 1.0,
/// but serde does), NaN and infinities are `null` as in `JSON.stringify`.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_keys_apart_without_showing_them() {
        let key = RoomKey::from_bytes([7; 32]);
        assert_eq!(
            key.fingerprint(),
            RoomKey::from_bytes([7; 32]).fingerprint()
        );
        assert_ne!(
            key.fingerprint(),
            RoomKey::from_bytes([8; 32]).fingerprint()
        );
        assert_eq!(key.fingerprint().len(), 32);
        assert!(!key.fingerprint().contains("0707"));
    }
    use serde_json::json;

    fn key() -> RoomKey {
        RoomKey::from_bytes([7; 32])
    }

    #[test]
    fn envelopes_round_trip() {
        let envelope = key().encrypt(b"frame", [1; 12]);
        // varString "AES-GCM", varUint8Array iv, varUint8Array (5 bytes + 16-byte tag).
        assert_eq!(&envelope[..8], b"\x07AES-GCM");
        assert_eq!(envelope[8], 12);
        assert_eq!(&envelope[9..21], &[1; 12]);
        assert_eq!(envelope[21], 21);
        assert_eq!(envelope.len(), 22 + 21);
        assert_eq!(key().decrypt(&envelope).unwrap(), b"frame");
        let value =
            json!({"type": "signal", "token": 1.7e12 + 0.25, "n": [0, -5, 1e300, "ü"], "x": null});
        let sealed = key().encrypt_signal(&value, [2; 12]);
        assert_eq!(key().decrypt_signal(&sealed).unwrap(), value);
    }

    #[test]
    fn bad_envelopes_are_errors() {
        let envelope = key().encrypt(b"frame", [1; 12]);
        for len in 0..envelope.len() {
            assert!(
                key().decrypt(&envelope[..len]).is_err(),
                "truncated to {len}"
            );
        }
        let mut tampered = envelope.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key().decrypt(&tampered), Err(CryptoError::Rejected));
        let other = RoomKey::from_bytes([8; 32]);
        assert_eq!(other.decrypt(&envelope), Err(CryptoError::Rejected));
        let mut renamed = envelope.clone();
        renamed[1] = b'B';
        assert_eq!(
            key().decrypt(&renamed),
            Err(CryptoError::UnknownAlgorithm("BES-GCM".into()))
        );
        assert!(key().decrypt_signal("not base64!").is_err());
        assert!(key()
            .decrypt_json(&key().encrypt(&[116, 1, 0], [0; 12]))
            .is_err());
    }

    #[test]
    fn any_matches_lib0_and_rejects_junk() {
        // lib0: writeAny({a: [1, -1, 0.5, true]}) and writeAny(2 ** 40) (not int32, not float32).
        let bytes = encode_any(&json!({"a": [1, -1, 0.5, true]}));
        assert_eq!(
            bytes,
            [118, 1, 1, b'a', 117, 4, 125, 1, 125, 0x41, 124, 0x3f, 0, 0, 0, 120]
        );
        assert_eq!(encode_any(&json!(1u64 << 40))[0], 124);
        assert_eq!(encode_any(&json!(1.7e12 + 0.25))[0], 123);
        assert_eq!(
            decode_any(&[123, 0x40, 0x14, 0, 0, 0, 0, 0, 0]),
            Ok(json!(5))
        );
        assert_eq!(decode_any(&[127]), Ok(Value::Null));
        for junk in [
            &[][..],
            &[118, 5],
            &[117, 200, 200, 200, 1],
            &[119, 2, 0xff, 0xfe],
            &[3],
        ] {
            assert!(decode_any(junk).is_err(), "{junk:?}");
        }
        let deep = [117, 1].repeat(100_000);
        assert!(decode_any(&deep).is_err());
    }

    /// Found by fuzz/fuzz_targets/lib0_any.rs: an integer past 2^53 read as an exact i64, where
    /// lib0 in JavaScript reads a rounded number; written again it was a float, and read back
    /// another value.
    #[test]
    fn integers_past_2_pow_53_read_as_javascript_numbers() {
        let bytes = [0x7d, 0xf7, 0xf7, 0xf7, 0xff, 0xff, 0xf7, 0xf7, 0x6b, 0x8b];
        let value = decode_any(&bytes).unwrap();
        assert_eq!(decode_any(&encode_any(&value)).unwrap(), value);
        assert_eq!(decode_any(&[125, 0x2a]).unwrap(), serde_json::json!(42));
    }
}
