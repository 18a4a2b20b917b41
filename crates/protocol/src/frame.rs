//! y-webrtc's data-channel frames (peer ↔ peer): a varUint message type, then y-protocols'
//! payload, carried here as the encoded bytes it is.
//!
//! Type 0 is sync (sub-type 0 step 1, 1 step 2, 2 update), 1 is awareness, 3 queries awareness:
//! y-protocols' messages, so what the payloads mean (state vectors, updates, awareness states)
//! is yrs's business, not this crate's. Type 4 travels only on the BroadcastChannel: a tab
//! announcing or withdrawing its peer id. Chunk frames (type 101) are [`crate::chunk`]'s.
//!
//! Decoding is the same as yrs's `sync::Message` decoding (which Commonplace used before), so
//! frames it took are taken and frames it refused are refused, with one exception no encoder
//! produces: a type or length past 32 bits, which yrs wraps around into a u32, is an error
//! here (as in lib0, which reads it as the large number it is).

use std::fmt;

use crate::lib0::{self, Decoder};

/// y-protocols' sync message.
pub const MSG_SYNC: u8 = 0;
pub const MSG_AWARENESS: u8 = 1;
/// y-protocols' auth message, which y-webrtc never sends.
pub const MSG_AUTH: u8 = 2;
pub const MSG_QUERY_AWARENESS: u8 = 3;
/// y-webrtc's `messageBcPeerId`.
pub const MSG_BC_PEER_ID: u8 = 4;

/// Sync sub-types, after [`MSG_SYNC`].
pub const SYNC_STEP1: u8 = 0;
pub const SYNC_STEP2: u8 = 1;
pub const SYNC_UPDATE: u8 = 2;

/// One data-channel frame, its payload still encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// "This is what I have": the sender's encoded state vector.
    SyncStep1(&'a [u8]),
    /// The answer to a step 1: an encoded update with what the asker lacks.
    SyncStep2(&'a [u8]),
    /// An encoded update, as changes happen.
    Update(&'a [u8]),
    /// An encoded awareness update (who is here, where their carets are).
    Awareness(&'a [u8]),
    /// "Send me every awareness state you know."
    QueryAwareness,
    /// y-protocols' auth: a denial's reason, or `None` for granted. Decoded only because yrs
    /// decodes it, so that it stays an ignored message rather than a malformed one.
    Auth(Option<&'a str>),
    /// Any other type up to 255, with the varUint8Array that follows it (as yrs reads one).
    Other { tag: u8, payload: &'a [u8] },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    Empty,
    /// A message type past 255.
    UnknownType(u64),
    /// A sync message whose sub-type is not step 1, step 2 or update.
    UnknownSyncType(u64),
    /// A bc peer id decoder given another type of frame.
    NotBcPeerId,
    Lib0(lib0::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Empty => f.write_str("empty frame"),
            FrameError::UnknownType(tag) => write!(f, "unknown message type {tag}"),
            FrameError::UnknownSyncType(tag) => write!(f, "unknown sync message type {tag}"),
            FrameError::NotBcPeerId => f.write_str("not a peer id message"),
            FrameError::Lib0(error) => write!(f, "malformed frame: {error}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<lib0::Error> for FrameError {
    fn from(error: lib0::Error) -> Self {
        FrameError::Lib0(error)
    }
}

impl<'a> Frame<'a> {
    /// Decodes one frame; bytes after the message are ignored, as y-webrtc and yrs do.
    pub fn decode(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if bytes.is_empty() {
            return Err(FrameError::Empty);
        }
        let mut decoder = Decoder::new(bytes);
        let tag = decoder.read_var_uint()?;
        let tag = u8::try_from(tag).map_err(|_| FrameError::UnknownType(tag))?;
        Ok(match tag {
            MSG_SYNC => {
                let sync_type = decoder.read_var_uint()?;
                let frame: fn(&'a [u8]) -> Frame<'a> = match u8::try_from(sync_type) {
                    Ok(SYNC_STEP1) => Frame::SyncStep1,
                    Ok(SYNC_STEP2) => Frame::SyncStep2,
                    Ok(SYNC_UPDATE) => Frame::Update,
                    _ => return Err(FrameError::UnknownSyncType(sync_type)),
                };
                frame(decoder.read_var_uint8_array()?)
            }
            MSG_AWARENESS => Frame::Awareness(decoder.read_var_uint8_array()?),
            MSG_AUTH => match decoder.read_var_uint()? {
                0 => Frame::Auth(Some(decoder.read_var_string()?)),
                1..=255 => Frame::Auth(None),
                // yrs reads the permission as a u8.
                _ => return Err(FrameError::Lib0(lib0::Error::IntegerOutOfRange)),
            },
            MSG_QUERY_AWARENESS => Frame::QueryAwareness,
            tag => Frame::Other {
                tag,
                payload: decoder.read_var_uint8_array()?,
            },
        })
    }

    /// The frame's bytes, as y-protocols writes them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match *self {
            Frame::SyncStep1(payload) => sync(&mut out, SYNC_STEP1, payload),
            Frame::SyncStep2(payload) => sync(&mut out, SYNC_STEP2, payload),
            Frame::Update(payload) => sync(&mut out, SYNC_UPDATE, payload),
            Frame::Awareness(payload) => {
                out.reserve(payload.len() + 6);
                lib0::write_var_uint(&mut out, MSG_AWARENESS.into());
                lib0::write_var_uint8_array(&mut out, payload);
            }
            Frame::QueryAwareness => lib0::write_var_uint(&mut out, MSG_QUERY_AWARENESS.into()),
            Frame::Auth(denied) => {
                lib0::write_var_uint(&mut out, MSG_AUTH.into());
                match denied {
                    Some(reason) => {
                        lib0::write_var_uint(&mut out, 0);
                        lib0::write_var_string(&mut out, reason);
                    }
                    None => lib0::write_var_uint(&mut out, 1),
                }
            }
            Frame::Other { tag, payload } => {
                // As a varUint, as y-protocols reads it (yrs writes one raw byte: the same
                // below 128).
                lib0::write_var_uint(&mut out, tag.into());
                lib0::write_var_uint8_array(&mut out, payload);
            }
        }
        out
    }
}

fn sync(out: &mut Vec<u8>, sync_type: u8, payload: &[u8]) {
    // Step 2 can be the whole notebook: one allocation, not a doubling series.
    out.reserve(payload.len() + 12);
    lib0::write_var_uint(out, MSG_SYNC.into());
    lib0::write_var_uint(out, sync_type.into());
    lib0::write_var_uint8_array(out, payload);
}

/// `[4, add as u8, varString peer]`: a tab in this browser joined (`add`) or left the room.
pub fn encode_bc_peer_id(add: bool, peer: &str) -> Vec<u8> {
    let mut bytes = vec![MSG_BC_PEER_ID, add as u8];
    lib0::write_var_string(&mut bytes, peer);
    bytes
}

pub fn decode_bc_peer_id(bytes: &[u8]) -> Result<(bool, String), FrameError> {
    let mut decoder = Decoder::new(bytes);
    if decoder.read_u8()? != MSG_BC_PEER_ID {
        return Err(FrameError::NotBcPeerId);
    }
    let add = decoder.read_u8()? == 1;
    let peer = decoder.read_var_string()?.to_owned();
    Ok((add, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_match_y_protocols_bytes() {
        // y-protocols: writeVarUint(0 sync) writeVarUint(0 step1) writeVarUint8Array(sv); an
        // empty state vector encodes as [0], so the frame is 00 00 01 00.
        let cases: [(Frame, &[u8]); 8] = [
            (Frame::SyncStep1(&[0]), &[0, 0, 1, 0]),
            (Frame::SyncStep2(&[0, 0]), &[0, 1, 2, 0, 0]),
            (Frame::Update(&[7]), &[0, 2, 1, 7]),
            (Frame::Awareness(&[1, 2]), &[1, 2, 1, 2]),
            (Frame::QueryAwareness, &[3]),
            (Frame::Auth(Some("no")), &[2, 0, 2, b'n', b'o']),
            (Frame::Auth(None), &[2, 1]),
            (
                Frame::Other {
                    tag: 200,
                    payload: &[5],
                },
                &[0xc8, 0x01, 1, 5],
            ),
        ];
        for (frame, bytes) in cases {
            assert_eq!(frame.encode(), bytes, "{frame:?}");
            assert_eq!(Frame::decode(bytes), Ok(frame));
        }
        // What follows a message is ignored; a bc peer id, read as a frame, is just another type.
        assert_eq!(Frame::decode(&[3, 9, 9]), Ok(Frame::QueryAwareness));
        assert_eq!(Frame::decode(&[2, 7]), Ok(Frame::Auth(None)));
        assert_eq!(
            Frame::decode(&encode_bc_peer_id(true, "ab")),
            Ok(Frame::Other {
                tag: 4,
                payload: &[2]
            })
        );
        let big = vec![0x5a; 300];
        assert_eq!(
            Frame::decode(&Frame::Update(&big).encode()),
            Ok(Frame::Update(&big))
        );
    }

    #[test]
    fn bc_peer_ids_match_y_webrtc_bytes() {
        // lib0: writeVarUint(4) writeUint8(1) writeVarString("ab")
        let bytes = encode_bc_peer_id(true, "ab");
        assert_eq!(bytes, [4, 1, 2, b'a', b'b']);
        assert_eq!(decode_bc_peer_id(&bytes), Ok((true, "ab".to_owned())));
        assert_eq!(decode_bc_peer_id(&[4, 0, 0]), Ok((false, String::new())));
        assert_eq!(decode_bc_peer_id(&[3, 1, 0]), Err(FrameError::NotBcPeerId));
        assert!(decode_bc_peer_id(&[4, 0, 9, b'a']).is_err());
        assert!(decode_bc_peer_id(&[4]).is_err());
        assert!(decode_bc_peer_id(&[]).is_err());
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(Frame::decode(&[]), Err(FrameError::Empty));
        assert_eq!(
            Frame::decode(&[0x80, 0x02, 0]),
            Err(FrameError::UnknownType(256))
        );
        assert_eq!(
            Frame::decode(&[0, 9, 1, 0]),
            Err(FrameError::UnknownSyncType(9))
        );
        assert_eq!(
            Frame::decode(&[2, 0x80, 0x02]),
            Err(FrameError::Lib0(lib0::Error::IntegerOutOfRange))
        );
        for junk in [
            &[0][..],
            &[0, 0],
            &[0, 0, 200],
            &[1, 5, 1],
            &[2],
            &[2, 0, 2, 0xff, 0xfe],
            &[9],
            &[0x80],
            &[0xff; 12],
        ] {
            assert!(
                matches!(Frame::decode(junk), Err(FrameError::Lib0(_))),
                "{junk:?}"
            );
        }
    }
}
