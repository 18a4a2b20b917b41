//! The room key from the link's secret, derived by the browser's WebCrypto: PBKDF2 runs off the
//! main thread there (~15 ms, async), where the same 100,000 rounds in wasm were a 160 ms task
//! that held up the page. Outside a secure context (plain http to a LAN address) `crypto.subtle`
//! does not exist; then the wasm derivation, which gives the same bytes, is the fallback.
//! Usually index.html's script began the derivation before the app ran (`head_start`).

use commonplace_protocol::crypto::{RoomKey, PBKDF2_ITERATIONS};
use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, Pbkdf2Params, SubtleCrypto};

use crate::head_start;

/// y-webrtc's `deriveKey(secret, roomName)`.
pub async fn derive(secret: &str, room: &str) -> RoomKey {
    match with_webcrypto(secret, room).await {
        Ok(key) => key,
        Err(why) => {
            gloo::console::warn!(
                "WebCrypto cannot derive the room key; deriving it in wasm:",
                why
            );
            RoomKey::derive(secret, room)
        }
    }
}

/// The key, if index.html's script derived it already (see `head_start::key_derived`).
pub fn derived(secret: &str, room: &str) -> Option<RoomKey> {
    from_bits(&head_start::key_derived(room, secret)?).ok()
}

async fn with_webcrypto(secret: &str, room: &str) -> Result<RoomKey, JsValue> {
    let bits = match head_start::key(room, secret) {
        Some(begun) => JsFuture::from(begun).await?,
        None => derive_bits(secret, room).await?,
    };
    from_bits(&bits)
}

/// The key from `deriveBits`' ArrayBuffer.
fn from_bits(bits: &JsValue) -> Result<RoomKey, JsValue> {
    let bytes: [u8; 32] = Uint8Array::new(bits)
        .to_vec()
        .try_into()
        .map_err(|_| JsValue::from_str("deriveBits returned other than 32 bytes"))?;
    Ok(RoomKey::from_bytes(bytes))
}

/// PBKDF2-SHA256 of `secret` salted with `room`: 256 bits (an `ArrayBuffer`).
async fn derive_bits(secret: &str, room: &str) -> Result<JsValue, JsValue> {
    let crypto = gloo::utils::window().crypto()?;
    let subtle = Reflect::get(&crypto, &"subtle".into())?;
    if subtle.is_undefined() {
        return Err("crypto.subtle is missing (not a secure context)".into());
    }
    let subtle: SubtleCrypto = subtle.unchecked_into();
    let usages = Array::of1(&"deriveBits".into());
    let secret = Uint8Array::from(secret.as_bytes());
    let base = subtle.import_key_with_str("raw", &secret, "PBKDF2", false, &usages)?;
    let base: CryptoKey = JsFuture::from(base).await?.unchecked_into();
    let salt = Uint8Array::from(room.as_bytes());
    let params = Pbkdf2Params::new_with_str("PBKDF2", "SHA-256", PBKDF2_ITERATIONS, &salt);
    JsFuture::from(subtle.derive_bits_with_object(&params, &base, 256)?).await
}
