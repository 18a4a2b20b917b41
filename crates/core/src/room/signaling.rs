//! The room's side of the signaling server: y-webrtc's topic pub/sub, lib0's keep-alive, and in
//! a keyed room the encryption of everything published.
//!
//! It knows nothing of peers: what others publish comes out as [`Heard`] for the room to route,
//! and what the room publishes goes in as a [`RoomSignal`].

use rand_chacha::ChaCha20Rng;
use serde_json::Value;

use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::signaling::{ClientMessage, RoomSignal, ServerMessage};

use super::next_iv;
use super::output::{Effect, Outputs, Transmit};

/// lib0's WebSocket client timing: ping the signaling server after 15 s of silence, give the
/// connection up after 30 s (a half-open socket can look alive for minutes).
pub const SIGNALING_PING_MS: u64 = 15_000;
pub const SIGNALING_TIMEOUT_MS: u64 = 30_000;
/// A keyed room that hears from someone it cannot read, or who cannot read it, announces
/// itself again at most this often: a newcomer with another secret, or none, then sees that
/// the room is there but encrypted (`Status::undecryptable`) instead of an empty room.
pub const STRANGER_ANNOUNCE_MS: u64 = 10_000;

/// What a frame from the server said to this room.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// Nothing for the room: a pong, another topic, a frame not ours to read.
    Nothing,
    Signal(RoomSignal),
    /// Someone in the room uses another secret: its message cannot be read (the reason, for a
    /// log line). The room answers, see [`STRANGER_ANNOUNCE_MS`].
    Unreadable(String),
    /// Someone in this keyed room publishes in the clear (it has no secret): ignored, but
    /// answered like one who cannot read us.
    Stranger,
    /// Readable but malformed.
    Malformed(String),
}

pub struct SignalingClient {
    topic: String,
    key: Option<RoomKey>,
    /// Draws the IVs of encrypted publishes.
    rng: ChaCha20Rng,
    online: bool,
    /// When the server last sent a frame, and when we last pinged it.
    last_frame: u64,
    last_ping: u64,
    /// When this room last announced itself to someone it cannot read.
    last_stranger_announce: Option<u64>,
}

impl SignalingClient {
    pub fn new(topic: String, key: Option<RoomKey>, rng: ChaCha20Rng) -> SignalingClient {
        SignalingClient {
            topic,
            key,
            rng,
            online: false,
            last_frame: 0,
            last_ping: 0,
            last_stranger_announce: None,
        }
    }

    pub fn online(&self) -> bool {
        self.online
    }

    pub fn on_open(&mut self, now: u64) {
        self.online = true;
        self.last_frame = now;
        self.last_ping = now;
    }

    pub fn on_closed(&mut self) {
        self.online = false;
    }

    /// y-webrtc's `announceSignalingInfo`: (re)subscribe, and with `invite` announce this peer
    /// so that others connect to it.
    pub fn announce(&mut self, peer_id: &str, invite: bool, out: &mut Outputs) {
        if !self.online {
            return;
        }
        let topics = vec![self.topic.clone()];
        self.send(&ClientMessage::Subscribe { topics }, out);
        if invite {
            let from = peer_id.to_owned();
            self.publish(RoomSignal::Announce { from }, out);
        }
    }

    /// Someone in the room does not share our key: announce again, rate-limited, so that two
    /// rooms with different keys answer each other once, not forever. Whether to invite is the
    /// room's call, as for any announce.
    pub fn stranger_due(&mut self, now: u64) -> bool {
        let due = self
            .last_stranger_announce
            .is_none_or(|last| now.saturating_sub(last) >= STRANGER_ANNOUNCE_MS);
        if self.key.is_some() && due {
            self.last_stranger_announce = Some(now);
            return true;
        }
        false
    }

    /// Publishes to the room's topic, encrypted in a keyed room.
    pub fn publish(&mut self, signal: RoomSignal, out: &mut Outputs) {
        let mut data = serde_json::to_value(signal).expect("room signals always serialize");
        if let Some(key) = &self.key {
            data = Value::String(key.encrypt_signal(&data, next_iv(&mut self.rng)));
        }
        let topic = self.topic.clone();
        self.send(&ClientMessage::Publish { topic, data }, out);
    }

    pub fn leave(&mut self, out: &mut Outputs) {
        if self.online {
            let topics = vec![self.topic.clone()];
            self.send(&ClientMessage::Unsubscribe { topics }, out);
        }
    }

    fn send(&mut self, message: &ClientMessage, out: &mut Outputs) {
        out.transmit(Transmit::Server(message.to_json()));
    }

    pub fn on_frame(&mut self, now: u64, text: &str) -> Heard {
        self.last_frame = now;
        let Some(ServerMessage::Publish { topic, data, .. }) = ServerMessage::parse(text) else {
            return Heard::Nothing;
        };
        if topic != self.topic {
            return Heard::Nothing;
        }
        // y-webrtc: a keyed room reads only encrypted (string) data, an open room only objects.
        let data = match data {
            Value::String(sealed) => {
                let opened = match &self.key {
                    Some(key) => key.decrypt_signal(&sealed).map_err(|e| e.to_string()),
                    None => Err("encrypted, and this room has no secret".to_owned()),
                };
                match opened {
                    Ok(data) => data,
                    Err(why) => return Heard::Unreadable(format!("room signal: {why}")),
                }
            }
            _ if self.key.is_some() => return Heard::Stranger,
            data => data,
        };
        match RoomSignal::from_value(data) {
            Ok(signal) => Heard::Signal(signal),
            Err(error) => Heard::Malformed(format!("room signal: {error}")),
        }
    }

    /// lib0's WebSocket keep-alive: ping after silence, give up after longer silence.
    pub fn on_timeout(&mut self, now: u64, out: &mut Outputs) {
        if !self.online {
            return;
        }
        let silent = now.saturating_sub(self.last_frame);
        if silent >= SIGNALING_TIMEOUT_MS {
            self.online = false;
            out.effect(Effect::ReconnectSignaling);
        } else if silent >= SIGNALING_PING_MS
            && now.saturating_sub(self.last_ping) >= SIGNALING_PING_MS
        {
            self.last_ping = now;
            self.send(&ClientMessage::Ping, out);
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.online {
            return None;
        }
        let ping = self.last_frame.max(self.last_ping) + SIGNALING_PING_MS;
        Some(ping.min(self.last_frame + SIGNALING_TIMEOUT_MS))
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::room::output::Output;

    fn client(key: Option<RoomKey>) -> SignalingClient {
        SignalingClient::new("r".into(), key, ChaCha20Rng::from_seed([7; 32]))
    }

    fn frames(out: &mut Outputs) -> Vec<String> {
        std::iter::from_fn(|| out.pop())
            .map(|o| match o {
                Output::Transmit(Transmit::Server(text)) => text,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_silent_server_is_pinged_then_given_up() {
        let mut client = client(None);
        let mut out = Outputs::default();
        client.on_open(0);
        assert_eq!(client.poll_timeout(), Some(SIGNALING_PING_MS));
        client.on_timeout(10_000, &mut out);
        assert!(out.pop().is_none());
        client.on_timeout(15_000, &mut out);
        assert_eq!(frames(&mut out), [r#"{"type":"ping"}"#]);
        assert_eq!(client.poll_timeout(), Some(SIGNALING_TIMEOUT_MS));
        client.on_timeout(16_000, &mut out);
        assert!(out.pop().is_none());
        client.on_frame(29_000, r#"{"type":"pong"}"#);
        client.on_timeout(45_000, &mut out);
        assert_eq!(frames(&mut out), [r#"{"type":"ping"}"#]);
        client.on_timeout(59_000, &mut out);
        assert_eq!(out.pop(), Some(Output::Effect(Effect::ReconnectSignaling)));
        assert!(!client.online());
        assert_eq!(client.poll_timeout(), None);
    }

    #[test]
    fn keyed_rooms_publish_and_read_only_ciphertext() {
        let key = RoomKey::from_bytes([1; 32]);
        let mut keyed = client(Some(key.clone()));
        let mut out = Outputs::default();
        keyed.on_open(0);
        keyed.announce("me", true, &mut out);
        let sent = frames(&mut out);
        assert_eq!(sent.len(), 2); // subscribe, announce
        let publish: Value = serde_json::from_str(&sent[1]).unwrap();
        let data = publish["data"].as_str().expect("a string");
        assert_eq!(
            key.decrypt_signal(data).unwrap(),
            serde_json::json!({"type": "announce", "from": "me"})
        );
        let clear = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
        assert_eq!(keyed.on_frame(1, clear), Heard::Stranger);
        let sealed = key.encrypt_signal(
            &serde_json::json!({"type": "announce", "from": "b"}),
            [9; 12],
        );
        let frame =
            serde_json::json!({"type": "publish", "topic": "r", "data": sealed}).to_string();
        assert_eq!(
            keyed.on_frame(2, &frame),
            Heard::Signal(RoomSignal::Announce { from: "b".into() })
        );
        let mut open = client(None);
        assert!(matches!(open.on_frame(3, &frame), Heard::Unreadable(_)));
        let other = serde_json::json!({"type": "publish", "topic": "elsewhere", "data": sealed})
            .to_string();
        assert_eq!(keyed.on_frame(4, &other), Heard::Nothing);
    }

    #[test]
    fn strangers_are_answered_at_most_every_ten_seconds_in_keyed_rooms() {
        let mut keyed = client(Some(RoomKey::from_bytes([1; 32])));
        assert!(keyed.stranger_due(0));
        assert!(!keyed.stranger_due(STRANGER_ANNOUNCE_MS - 1));
        assert!(keyed.stranger_due(STRANGER_ANNOUNCE_MS));
        assert!(
            !client(None).stranger_due(0),
            "an open room has no strangers to answer"
        );
    }
}
