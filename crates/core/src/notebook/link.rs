//! The room link: `<origin>/#room=NAME&key=SECRET`. The fragment never reaches a server, so the
//! secret stays with the people who were given the link.

use std::fmt;

/// Longest room name accepted from a link.
pub const MAX_ROOM_NAME: usize = 128;
/// Longest secret accepted from a link.
pub const MAX_KEY: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLink {
    pub room: String,
    /// The room's secret: what peers say through the server or between tabs is encrypted with
    /// a key derived from it (y-webrtc's `password`).
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    EmptyRoom,
    RoomTooLong,
    EmptyKey,
    KeyTooLong,
    BadEncoding,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::EmptyRoom => "the link names no room (expected #room=NAME)",
            LinkError::RoomTooLong => "the room name in the link is too long",
            LinkError::EmptyKey => "the link's key is empty",
            LinkError::KeyTooLong => "the link's key is too long",
            LinkError::BadEncoding => "the link is not valid text",
        })
    }
}

impl RoomLink {
    /// Reads a location fragment (with or without the leading `#`). `Ok(None)`: no room named,
    /// so the app creates one.
    pub fn parse(fragment: &str) -> Result<Option<RoomLink>, LinkError> {
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        let param = |name: &str| {
            fragment
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .map(|value| percent_decode(value).ok_or(LinkError::BadEncoding))
                .transpose()
        };
        let Some(room) = param("room")? else {
            return Ok(None);
        };
        let room = room.trim();
        if room.is_empty() {
            return Err(LinkError::EmptyRoom);
        }
        if room.chars().count() > MAX_ROOM_NAME {
            return Err(LinkError::RoomTooLong);
        }
        let key = param("key")?;
        match &key {
            Some(key) if key.is_empty() => return Err(LinkError::EmptyKey),
            Some(key) if key.chars().count() > MAX_KEY => return Err(LinkError::KeyTooLong),
            _ => {}
        }
        Ok(Some(RoomLink {
            room: room.to_owned(),
            key,
        }))
    }

    /// A new room: a random name (12 bytes) and a random secret (16 bytes, 128 bits), both
    /// base64url.
    pub fn new_random(name: [u8; 12], secret: [u8; 16]) -> RoomLink {
        RoomLink {
            room: base64url(&name),
            key: Some(base64url(&secret)),
        }
    }

    /// The fragment for this link, `#room=…&key=…`.
    pub fn fragment(&self) -> String {
        let mut fragment = format!("#room={}", percent_encode(&self.room));
        if let Some(key) = &self.key {
            fragment.push_str(&format!("&key={}", percent_encode(key)));
        }
        fragment
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(fragment: &str) -> RoomLink {
        RoomLink::parse(fragment).unwrap().unwrap()
    }

    #[test]
    fn parses_room_links() {
        assert_eq!(RoomLink::parse(""), Ok(None));
        assert_eq!(RoomLink::parse("#"), Ok(None));
        assert_eq!(RoomLink::parse("#rooms=x"), Ok(None));
        assert_eq!(room("#room=abc").room, "abc");
        assert_eq!(room("#room=abc").key, None);
        assert_eq!(room("#key=k&room=a%20b").room, "a b");
        assert_eq!(room("#room=caf%C3%A9").room, "café");
        assert_eq!(
            room("#room=abc&key=s3cr%2Ft").key.as_deref(),
            Some("s3cr/t")
        );
        assert_eq!(RoomLink::parse("#room="), Err(LinkError::EmptyRoom));
        assert_eq!(RoomLink::parse("#room=a&key="), Err(LinkError::EmptyKey));
        assert_eq!(RoomLink::parse("#room=%E2%82"), Err(LinkError::BadEncoding));
        assert_eq!(RoomLink::parse("#room=%zz"), Err(LinkError::BadEncoding));
        assert_eq!(RoomLink::parse("#room=%"), Err(LinkError::BadEncoding));
        assert_eq!(
            RoomLink::parse("#room=a&key=%"),
            Err(LinkError::BadEncoding)
        );
        let long = format!("#room={}", "x".repeat(MAX_ROOM_NAME + 1));
        assert_eq!(RoomLink::parse(&long), Err(LinkError::RoomTooLong));
        let long_key = format!("#room=a&key={}", "k".repeat(MAX_KEY + 1));
        assert_eq!(RoomLink::parse(&long_key), Err(LinkError::KeyTooLong));
    }

    #[test]
    fn fragments_round_trip() {
        for name in ["abc", "a b&c=d", "日本語 🎉", "100%"] {
            for key in [None, Some("k&y=1 ✓".to_owned())] {
                let link = RoomLink {
                    room: name.into(),
                    key,
                };
                assert_eq!(RoomLink::parse(&link.fragment()), Ok(Some(link)));
            }
        }
    }

    #[test]
    fn random_links_are_url_safe_with_a_128_bit_key() {
        let link = RoomLink::new_random([0xff; 12], [0xff; 16]);
        assert_eq!(link.room, "________________");
        assert_eq!(link.key.as_deref(), Some("_____________________w"));
        let fragment = link.fragment();
        assert_eq!(
            fragment,
            "#room=________________&key=_____________________w"
        );
        assert_eq!(RoomLink::new_random([0; 12], [0; 16]).room.len(), 16);
    }
}
