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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Commonplace's addition: a data-channel frame from `from` to `to` (base64), carried by
    /// the server because no direct path joins the two. Every subscriber of the topic receives
    /// it (the server cannot read, let alone address, a keyed room's publishes); only `to`
    /// reads it. y-webrtc peers ignore this type.
    Relay {
        from: String,
        to: String,
        frame: String,
    },
}

/// simple-peer's signal objects, as y-webrtc peers exchange them.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
        let value: Value = serde_json::from_str(text).ok()?;
        ServerMessage::from_value(value).ok()
    }

    fn from_value(mut value: Value) -> Result<ServerMessage, String> {
        match tag(&value)? {
            "publish" => Ok(ServerMessage::Publish {
                topic: string(&mut value, "topic")?,
                data: value
                    .get_mut("data")
                    .map(Value::take)
                    .ok_or("publish without data")?,
                clients: optional(&value, "clients", Value::as_u64)?,
            }),
            "pong" => Ok(ServerMessage::Pong),
            other => Err(format!("unknown message type {other:?}")),
        }
    }
}

// Reading by hand from a `serde_json::Value`, as serde's derive would (unknown fields ignored,
// `null` for an absent option), at a fraction of the code the derive generates for internally
// tagged enums: this runs in the browser app, where every kilobyte is downloaded.

impl RoomSignal {
    pub fn from_value(mut value: Value) -> Result<RoomSignal, String> {
        match tag(&value)? {
            "announce" => Ok(RoomSignal::Announce {
                from: string(&mut value, "from")?,
            }),
            "signal" => Ok(RoomSignal::Signal {
                from: string(&mut value, "from")?,
                to: string(&mut value, "to")?,
                token: optional(&value, "token", Value::as_f64)?,
                signal: SignalData::from_value(
                    value
                        .get_mut("signal")
                        .map(Value::take)
                        .ok_or("missing signal")?,
                )?,
                chunks: optional(&value, "chunks", Value::as_u64)?,
            }),
            "relay" => Ok(RoomSignal::Relay {
                from: string(&mut value, "from")?,
                to: string(&mut value, "to")?,
                frame: string(&mut value, "frame")?,
            }),
            other => Err(format!("unknown room signal type {other:?}")),
        }
    }
}

impl SignalData {
    pub fn from_value(mut value: Value) -> Result<SignalData, String> {
        match tag(&value)? {
            "offer" => Ok(SignalData::Offer {
                sdp: string(&mut value, "sdp")?,
            }),
            "answer" => Ok(SignalData::Answer {
                sdp: string(&mut value, "sdp")?,
            }),
            "candidate" => {
                let mut candidate = value
                    .get_mut("candidate")
                    .map(Value::take)
                    .ok_or("missing candidate")?;
                if !candidate.is_object() {
                    return Err("candidate is not an object".into());
                }
                let sdp_m_line_index = optional(&candidate, "sdpMLineIndex", Value::as_u64)?
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|_| "sdpMLineIndex out of range")?;
                Ok(SignalData::Candidate {
                    candidate: IceCandidate {
                        sdp_mid: optional(&candidate, "sdpMid", |v| v.as_str().map(str::to_owned))?,
                        sdp_m_line_index,
                        candidate: string(&mut candidate, "candidate")?,
                    },
                })
            }
            // simple-peer's renegotiation and transceiver requests, and anything newer.
            _ => Ok(SignalData::Unsupported),
        }
    }
}

/// Serde's own entry points read through [`RoomSignal::from_value`] and friends.
macro_rules! deserialize_via_value {
    ($($ty:ty),*) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                <$ty>::from_value(value).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
deserialize_via_value!(ServerMessage, RoomSignal, SignalData);

/// The `type` field of an object.
fn tag(value: &Value) -> Result<&str, String> {
    value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "not an object with a string type".into())
}

/// A required string field, taken out of the object.
fn string(value: &mut Value, field: &str) -> Result<String, String> {
    match value.get_mut(field).map(Value::take) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!("{field} must be a string")),
    }
}

/// An optional field: absent or `null` is `None`, anything `read` cannot take is an error.
fn optional<T>(
    value: &Value,
    field: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, String> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .ok_or_else(|| format!("{field} has the wrong type")),
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
    fn read_as_serde_would() {
        let read = |json: &str| RoomSignal::from_value(serde_json::from_str(json).unwrap());
        // Unknown fields are ignored, null options are absent.
        assert_eq!(
            read(r#"{"type":"announce","from":"a","extra":[1]}"#),
            Ok(RoomSignal::Announce { from: "a".into() })
        );
        let signal = read(
            r#"{"type":"signal","from":"a","to":"b","token":null,"chunks":7,"signal":{"type":"offer","sdp":"v=0"}}"#,
        );
        assert_eq!(
            signal,
            Ok(RoomSignal::Signal {
                from: "a".into(),
                to: "b".into(),
                token: None,
                signal: SignalData::Offer { sdp: "v=0".into() },
                chunks: Some(7)
            })
        );
        for bad in [
            r#"{"type":"announce"}"#,
            r#"{"type":"announce","from":5}"#,
            r#"{"type":"signal","from":"a","to":"b","token":"x","signal":{"type":"offer","sdp":""}}"#,
            r#"{"type":"signal","from":"a","to":"b","chunks":-1,"signal":{"type":"offer","sdp":""}}"#,
            r#"{"type":"signal","from":"a","to":"b"}"#,
            r#"{"type":"signal","from":"a","to":"b","signal":{"type":"candidate","candidate":{"sdpMLineIndex":70000,"candidate":"c"}}}"#,
            r#"{"type":"signal","from":"a","to":"b","signal":{"type":"candidate","candidate":"c"}}"#,
            r#"{"type":"hello"}"#,
            r#"["announce"]"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        // Through serde's own entry point too.
        let via_serde: SignalData = serde_json::from_str(r#"{"type":"answer","sdp":"x"}"#).unwrap();
        assert_eq!(via_serde, SignalData::Answer { sdp: "x".into() });
    }

    #[test]
    fn junk_is_not_a_message() {
        assert_eq!(ServerMessage::parse("{"), None);
        assert_eq!(ServerMessage::parse(r#"{"type":"nope"}"#), None);
        assert_eq!(ServerMessage::parse("[]"), None);
    }
}
