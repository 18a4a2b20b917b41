//! y-webrtc's signaling protocol: JSON text frames over one WebSocket.
//!
//! Requests go from a peer to the server ([`ClientMessage`]), events come from the server to a
//! peer ([`ServerMessage`]). The server relays a `publish` to every subscriber of its topic,
//! sender included, adding `clients`. What a room publishes ([`RoomSignal`]) is opaque to the
//! server: it is either this JSON object or, in rooms with a key, a base64 string.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Peer → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    Subscribe {
        #[serde(default)]
        topics: Vec<String>,
    },
    Unsubscribe {
        #[serde(default)]
        topics: Vec<String>,
    },
    Publish {
        topic: String,
        data: Value,
    },
    Ping,
}

/// Server → peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    Publish {
        topic: String,
        data: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clients: Option<u64>,
    },
    Pong,
}

/// What peers of one room publish to each other through the server (the `data` of a publish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RoomSignal {
    /// "I am here": peers that see it start a connection to `from`.
    Announce { from: String },
    /// WebRTC negotiation for the connection between `from` and `to`.
    Signal {
        from: String,
        to: String,
        /// y-webrtc's glare token: the time (ms, plus a random fraction) of the sender's first signal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<f64>,
        signal: SignalData,
        /// Commonplace's addition: the largest message the sender reassembles from chunks
        /// (see `chunk`). y-webrtc peers neither send nor read it, so they are never sent chunks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks: Option<u64>,
    },
}

/// simple-peer's signal objects, as y-webrtc peers exchange them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SignalData {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: IceCandidate,
    },
    /// simple-peer's renegotiation and transceiver requests: data-only peers never need them.
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    pub sdp_mid: Option<String>,
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("signaling messages always serialize")
    }
}

impl ServerMessage {
    /// Parses a frame from the server; `None` for anything that is not a known message.
    pub fn parse(text: &str) -> Option<ServerMessage> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_match_y_webrtc() {
        let sub = ClientMessage::Subscribe {
            topics: vec!["r".into()],
        };
        assert_eq!(sub.to_json(), r#"{"type":"subscribe","topics":["r"]}"#);
        assert_eq!(ClientMessage::Ping.to_json(), r#"{"type":"ping"}"#);
        let announce = serde_json::to_value(RoomSignal::Announce { from: "p1".into() }).unwrap();
        let publish = ClientMessage::Publish {
            topic: "r".into(),
            data: announce,
        };
        let expected = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"p1"}}"#;
        let parsed: serde_json::Value = serde_json::from_str(&publish.to_json()).unwrap();
        assert_eq!(
            parsed,
            serde_json::from_str::<serde_json::Value>(expected).unwrap()
        );
    }

    #[test]
    fn parses_simple_peer_signals() {
        let text = r#"{"type":"publish","topic":"r","clients":2,"data":{"to":"b","from":"a","type":"signal","token":1700000000000.25,
            "signal":{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMLineIndex":0,"sdpMid":"0"}}}}"#;
        let Some(ServerMessage::Publish { data, clients, .. }) = ServerMessage::parse(text) else {
            panic!("not a publish")
        };
        assert_eq!(clients, Some(2));
        let signal: RoomSignal = serde_json::from_value(data).unwrap();
        let RoomSignal::Signal {
            token,
            signal: SignalData::Candidate { candidate },
            ..
        } = signal
        else {
            panic!("not a candidate: {signal:?}")
        };
        assert_eq!(token, Some(1700000000000.25));
        assert_eq!(candidate.sdp_m_line_index, Some(0));
        let renegotiate: SignalData =
            serde_json::from_str(r#"{"type":"renegotiate","renegotiate":true}"#).unwrap();
        assert_eq!(renegotiate, SignalData::Unsupported);
    }

    #[test]
    fn junk_is_not_a_message() {
        assert_eq!(ServerMessage::parse("{"), None);
        assert_eq!(ServerMessage::parse(r#"{"type":"nope"}"#), None);
        assert_eq!(ServerMessage::parse("[]"), None);
    }
}
