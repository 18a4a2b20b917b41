//! The room link: `<origin>/#room=NAME`. The fragment never reaches a server.

use std::fmt;

/// Longest room name accepted from a link.
pub const MAX_ROOM_NAME: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLink {
    pub room: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    EmptyRoom,
    RoomTooLong,
    BadEncoding,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::EmptyRoom => "the link names no room (expected #room=NAME)",
            LinkError::RoomTooLong => "the room name in the link is too long",
            LinkError::BadEncoding => "the room name in the link is not valid text",
        })
    }
}

impl RoomLink {
    /// Reads a location fragment (with or without the leading `#`). `Ok(None)`: no room named,
    /// so the app creates one.
    pub fn parse(fragment: &str) -> Result<Option<RoomLink>, LinkError> {
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        let Some(value) = fragment
            .split('&')
            .find_map(|pair| pair.strip_prefix("room="))
        else {
            return Ok(None);
        };
        let room = percent_decode(value).ok_or(LinkError::BadEncoding)?;
        let room = room.trim();
        if room.is_empty() {
            return Err(LinkError::EmptyRoom);
        }
        if room.chars().count() > MAX_ROOM_NAME {
            return Err(LinkError::RoomTooLong);
        }
        Ok(Some(RoomLink {
            room: room.to_owned(),
        }))
    }

    /// A new room with a random name made from `random` (base64url, 16 characters).
    pub fn new_random(random: [u8; 12]) -> RoomLink {
        RoomLink {
            room: base64url(&random),
        }
    }

    /// The fragment for this link, `#room=…`.
    pub fn fragment(&self) -> String {
        format!("#room={}", percent_encode(&self.room))
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

    #[test]
    fn parses_room_links() {
        assert_eq!(RoomLink::parse(""), Ok(None));
        assert_eq!(RoomLink::parse("#"), Ok(None));
        assert_eq!(RoomLink::parse("#room=abc").unwrap().unwrap().room, "abc");
        assert_eq!(
            RoomLink::parse("#key=k&room=a%20b").unwrap().unwrap().room,
            "a b"
        );
        assert_eq!(
            RoomLink::parse("#room=caf%C3%A9").unwrap().unwrap().room,
            "café"
        );
        assert_eq!(RoomLink::parse("#room="), Err(LinkError::EmptyRoom));
        assert_eq!(RoomLink::parse("#room=%E2%82"), Err(LinkError::BadEncoding));
        assert_eq!(RoomLink::parse("#room=%zz"), Err(LinkError::BadEncoding));
        assert_eq!(RoomLink::parse("#room=%"), Err(LinkError::BadEncoding));
        let long = format!("#room={}", "x".repeat(MAX_ROOM_NAME + 1));
        assert_eq!(RoomLink::parse(&long), Err(LinkError::RoomTooLong));
    }

    #[test]
    fn fragments_round_trip() {
        for room in ["abc", "a b&c=d", "日本語 🎉", "100%"] {
            let link = RoomLink { room: room.into() };
            assert_eq!(RoomLink::parse(&link.fragment()), Ok(Some(link)));
        }
    }

    #[test]
    fn random_names_are_url_safe() {
        let link = RoomLink::new_random([0xff; 12]);
        assert_eq!(link.room, "________________");
        assert_eq!(RoomLink::new_random([0; 12]).room.len(), 16);
        assert_eq!(link.fragment(), "#room=________________");
    }
}
