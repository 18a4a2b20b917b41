//! What the instances say to each other through Redis: the names of its keys and channels, and
//! the messages on a topic's channel. Everything begins with `cp:signal:` (the store's keys
//! with `cp:store:`), so that one Redis carries both.

use sha2::{Digest, Sha256};
use std::fmt;

/// A set: the ids of the instances that share signaling through this Redis (key).
pub const INSTANCES: &str = "cp:signal:instances";
/// Per instance, a hash: each topic with subscribers there (its [`TopicName::field`]) → how
/// many (key, followed by the instance's id).
pub const COUNTS: &str = "cp:signal:counts:";
/// Per instance, a channel it subscribes to while its link to Redis is up and nobody publishes
/// to: `PUBSUB NUMSUB` of it says whether the instance is there (followed by the id).
pub const BEACON: &str = "cp:signal:instance:";
/// Per topic, the channel its publishes and count changes go through (followed by its field).
pub const TOPIC: &str = "cp:signal:topic:";

/// One run of one server: 16 hex digits (64 random bits), new each time the server starts, so a
/// server started again is not taken for the one before it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn random() -> InstanceId {
        let mut bytes = [0u8; 8];
        // Without an entropy source, the time and process id still tell instances apart.
        if getrandom::fill(&mut bytes).is_err() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = (now ^ (u64::from(std::process::id()) << 40)).to_be_bytes();
        }
        InstanceId(hex(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn counts_key(&self) -> String {
        format!("{COUNTS}{}", self.0)
    }

    pub fn beacon(&self) -> String {
        format!("{BEACON}{}", self.0)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A topic as Redis knows it: the SHA-256 of its name, in hex. Any name the hub takes (up to
/// 512 bytes of anything) makes a field and channel name of one length with nothing to escape,
/// and Redis's list of channels does not show room names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicName {
    /// 64 hex digits: the topic's field in each instance's counts.
    pub field: String,
    /// [`TOPIC`] and the field.
    pub channel: String,
}

impl TopicName {
    pub fn of(topic: &str) -> TopicName {
        let field = hex(&Sha256::digest(topic.as_bytes()));
        TopicName {
            channel: format!("{TOPIC}{field}"),
            field,
        }
    }
}

/// A message on a topic's channel, after the sender's id.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A publish, as the sender's hub forwarded it (`Forward::frame`).
    Publish(&'a str),
    /// The sender's count of the topic's subscribers changed: read the counts again.
    Count,
}

/// `ID p FRAME`
pub fn publish(from: &InstanceId, frame: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(from.0.len() + 3 + frame.len());
    payload.extend_from_slice(from.0.as_bytes());
    payload.extend_from_slice(b" p ");
    payload.extend_from_slice(frame.as_bytes());
    payload
}

/// `ID c`
pub fn count(from: &InstanceId) -> Vec<u8> {
    format!("{} c", from.0).into_bytes()
}

/// The sender's id and its message; `None` for anything else.
pub fn parse(payload: &[u8]) -> Option<(&str, Message<'_>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (from, rest) = text.split_once(' ')?;
    let message = match rest.split_once(' ') {
        Some(("p", frame)) => Message::Publish(frame),
        None if rest == "c" => Message::Count,
        _ => return None,
    };
    Some((from, message))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_none() {
        let me = InstanceId::random();
        assert_eq!(me.as_str().len(), 16);
        assert_ne!(me, InstanceId::random());
        let frame = r#"{"type":"publish","topic":"a b","data":"x y"}"#;
        assert_eq!(
            parse(&publish(&me, frame)),
            Some((me.as_str(), Message::Publish(frame)))
        );
        assert_eq!(parse(&count(&me)), Some((me.as_str(), Message::Count)));
        for junk in [
            &b""[..],
            b"id",
            b"id x",
            b"id c extra",
            b"id p",
            b"\xff p {}",
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn topic_names_are_fixed_length_hex() {
        let name = TopicName::of("room");
        // `printf room | sha256sum`
        assert_eq!(
            name.field,
            "1f1c5b2fad778434024f1537986346927917f4755a6e7d3fd91f22653b7c3132"
        );
        assert_eq!(name.field.len(), 64);
        assert!(name.field.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(name.channel, format!("cp:signal:topic:{}", name.field));
        let odd = TopicName::of(&"\u{0} *?[]\r\n:{}".repeat(40));
        assert_eq!(odd.field.len(), 64);
        assert_ne!(odd, name);
    }
}
