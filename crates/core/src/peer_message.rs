//! y-webrtc's data-channel protocol: a varUint message type, then y-protocols' payload.
//!
//! Type 0 is sync (step 1 / step 2 / update), 1 is awareness, 3 queries awareness. These are
//! exactly yrs's `sync::Message` encodings, so that is the wire type; this module only adds a
//! decoder that turns every kind of bad input into an error instead of a panic. Type 4 travels
//! only on the BroadcastChannel: a tab announcing or withdrawing its peer id.

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::Message;
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;

pub use yrs::sync::{Message as PeerMessage, SyncMessage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    Malformed(String),
}

/// Decodes one message from a data-channel frame.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut decoder = DecoderV1::new(Cursor::new(bytes));
    Message::decode(&mut decoder).map_err(|e| DecodeError::Malformed(e.to_string()))
}

pub fn encode(message: &Message) -> Vec<u8> {
    message.encode_v1()
}

/// y-webrtc's `messageBcPeerId`.
pub const MSG_BC_PEER_ID: u8 = 4;

/// `[4, add as u8, varString peer]`: a tab in this browser joined (`add`) or left the room.
pub fn encode_bc_peer_id(add: bool, peer: &str) -> Vec<u8> {
    let mut bytes = vec![MSG_BC_PEER_ID, add as u8];
    bytes.write_string(peer);
    bytes
}

pub fn decode_bc_peer_id(bytes: &[u8]) -> Result<(bool, String), DecodeError> {
    let malformed = |e: yrs::encoding::read::Error| DecodeError::Malformed(e.to_string());
    let mut cursor = Cursor::new(bytes);
    if cursor.read_u8().map_err(malformed)? != MSG_BC_PEER_ID {
        return Err(DecodeError::Malformed("not a peer id message".into()));
    }
    let add = cursor.read_u8().map_err(malformed)? == 1;
    let peer = cursor.read_string().map_err(malformed)?.to_owned();
    Ok((add, peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::StateVector;

    #[test]
    fn sync_step1_matches_y_protocols_bytes() {
        // y-protocols: writeVarUint(0 sync) writeVarUint(0 step1) writeVarUint8Array(sv);
        // an empty state vector encodes as [0], so the frame is 00 00 01 00.
        let bytes = encode(&Message::Sync(SyncMessage::SyncStep1(
            StateVector::default(),
        )));
        assert_eq!(bytes, [0, 0, 1, 0]);
        assert_eq!(
            decode(&bytes),
            Ok(Message::Sync(
                SyncMessage::SyncStep1(StateVector::default())
            ))
        );
        assert_eq!(encode(&Message::AwarenessQuery), [3]);
    }

    #[test]
    fn bc_peer_ids_match_y_webrtc_bytes() {
        // lib0: writeVarUint(4) writeUint8(1) writeVarString("ab")
        let bytes = encode_bc_peer_id(true, "ab");
        assert_eq!(bytes, [4, 1, 2, b'a', b'b']);
        assert_eq!(decode_bc_peer_id(&bytes), Ok((true, "ab".to_owned())));
        assert!(decode_bc_peer_id(&[4, 0, 9, b'a']).is_err());
        assert!(decode_bc_peer_id(&[4]).is_err());
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert!(decode(&[0]).is_err());
        assert!(decode(&[0, 9, 1, 0]).is_err());
        assert!(decode(&[0, 0, 200]).is_err());
        assert!(decode(&[1, 5, 1]).is_err());
    }
}
