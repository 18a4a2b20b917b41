//! y-webrtc's data-channel frames as yrs's `sync::Message`: the framing is
//! `commonplace_protocol::frame`'s, this module only turns payloads into yrs types and back.
//!
//! A sync step 1 carries a state vector and an awareness frame an awareness update: both are
//! decoded here (after `commonplace_protocol::yjs_update` has checked every count they claim is
//! there), so a frame that is not what its type says is an error, never a panic. Updates
//! stay bytes; the room decodes them when it applies them, with [`decode_update`], and
//! [`drop_unreadable_pending`] after: the two guards yrs 0.28 needs against hostile updates
//! (found by fuzzing, `docs/fuzzing.md`).

use commonplace_protocol::frame::{Frame, FrameError};
use commonplace_protocol::yjs_update::{
    check_awareness_v1, check_state_vector_v1, check_v1, UpdateCheckError,
};
use yrs::sync::{AwarenessUpdate, Message};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, StateVector, TransactionMut, Update, WriteTxn};

pub use yrs::sync::{Message as PeerMessage, SyncMessage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Frame(FrameError),
    /// A state vector or awareness update yrs cannot read.
    Payload(String),
}

/// Decodes one message from a data-channel frame.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let payload = |e: yrs::encoding::read::Error| DecodeError::Payload(e.to_string());
    let checked = |e: UpdateCheckError| DecodeError::Payload(e.to_string());
    Ok(match Frame::decode(bytes).map_err(DecodeError::Frame)? {
        Frame::SyncStep1(sv) => Message::Sync(SyncMessage::SyncStep1(
            decode_state_vector(sv).map_err(DecodeError::Payload)?,
        )),
        Frame::SyncStep2(update) => Message::Sync(SyncMessage::SyncStep2(update.to_vec())),
        Frame::Update(update) => Message::Sync(SyncMessage::Update(update.to_vec())),
        Frame::Awareness(update) => {
            check_awareness_v1(update).map_err(checked)?;
            Message::Awareness(AwarenessUpdate::decode_v1(update).map_err(payload)?)
        }
        Frame::QueryAwareness => Message::AwarenessQuery,
        Frame::Auth(denied) => Message::Auth(denied.map(str::to_owned)),
        Frame::Other { tag, payload } => Message::Custom(tag, payload.to_vec()),
    })
}

/// `Update::decode_v1`, for updates from outside (peers, the stores, files), after
/// [`check_v1`]: yrs reserves room for every count an update claims (clients, blocks, values)
/// before reading what it counts, so an update whose counts its bytes cannot hold is refused
/// first (found by the fuzz targets peer_message, relay and room: 20 bytes had yrs reserve
/// 350 GB; in a browser tab, memory grown for good or the tab killed).
pub fn decode_update(bytes: &[u8]) -> Result<Update, String> {
    check_v1(bytes).map_err(|e| e.to_string())?;
    Update::decode_v1(bytes).map_err(|e| e.to_string())
}

/// `StateVector::decode_v1`, for state vectors from outside (a version's, which any room
/// member can write), after [`check_state_vector_v1`].
pub fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, String> {
    check_state_vector_v1(bytes).map_err(|e| e.to_string())?;
    StateVector::decode_v1(bytes).map_err(|e| e.to_string())
}

/// yrs keeps the part of an update it cannot integrate yet (waiting for what it builds on) and
/// merges it into every state it encodes afterwards, unwrapping that merge: a waiting part that
/// yrs writes in a form it cannot read back made encoding the document panic (found by the
/// fuzz target relay). Such a part is dropped; true if one was.
pub fn drop_unreadable_pending(txn: &mut TransactionMut) -> bool {
    let store = txn.store();
    let update = store
        .pending_update()
        .is_some_and(|pending| Update::decode_v1(&pending.update.encode_v1()).is_err());
    let deletions = store.pending_ds().is_some_and(|ds| {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&ds.encode_v1());
        Update::decode_v1(&bytes).is_err()
    });
    if update || deletions {
        txn.prune_pending();
    }
    update || deletions
}

/// The frame of `message`, byte for byte as yrs's `encode_v1` writes it (but for a `Custom`
/// type of 128 or more, which yrs writes as one raw byte and this as the varUint y-protocols
/// reads; the room never sends one).
pub fn encode(message: &Message) -> Vec<u8> {
    match message {
        Message::Sync(SyncMessage::SyncStep1(sv)) => Frame::SyncStep1(&sv.encode_v1()).encode(),
        Message::Sync(SyncMessage::SyncStep2(update)) => Frame::SyncStep2(update).encode(),
        Message::Sync(SyncMessage::Update(update)) => Frame::Update(update).encode(),
        Message::Awareness(update) => Frame::Awareness(&update.encode_v1()).encode(),
        Message::AwarenessQuery => Frame::QueryAwareness.encode(),
        Message::Auth(denied) => Frame::Auth(denied.as_deref()).encode(),
        Message::Custom(tag, payload) => Frame::Other { tag: *tag, payload }.encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_frames_are_errors() {
        assert_eq!(decode(&[]), Err(DecodeError::Frame(FrameError::Empty)));
        assert!(decode(&[0]).is_err());
        assert!(decode(&[0, 9, 1, 0]).is_err());
        assert!(decode(&[0, 0, 200]).is_err());
        assert!(decode(&[1, 5, 1]).is_err());
        // Well framed, but not a state vector / not an awareness update.
        assert!(matches!(
            decode(&[0, 0, 1, 5]),
            Err(DecodeError::Payload(_))
        ));
        assert!(matches!(
            decode(&[1, 2, 1, 9]),
            Err(DecodeError::Payload(_))
        ));
    }

    /// Found by the fuzz targets peer_message and awareness (fuzz/corpus/*/regression-*): a
    /// few bytes declaring hundreds of millions of entries, which yrs reserved room for before
    /// finding the bytes were not there. Refused before yrs reads them.
    #[test]
    fn counts_past_what_the_bytes_hold_are_refused_before_yrs_reserves_them() {
        let claims = |frame: &[u8]| match decode(frame) {
            Err(DecodeError::Payload(why)) => why.starts_with("the count of"),
            _ => false,
        };
        // A sync step 1 whose state vector claims ~2^31 entries in 4 bytes.
        assert!(claims(&[
            0x00, 0x00, 0x05, 0xd2, 0x94, 0xd2, 0xd2, 0x01, 0xd2, 0x40
        ]));
        // An awareness update claiming ~2^27 entries in 1 byte.
        assert!(claims(&[0x01, 0x05, 0xac, 0xac, 0xac, 0x65, 0x72]));
        // As many as the bytes can hold is for yrs to read.
        assert_eq!(
            decode(&[0, 0, 5, 2, 1, 1, 2, 2]),
            Ok(Message::Sync(SyncMessage::SyncStep1(
                StateVector::from_iter([
                    (yrs::block::ClientID::new(1), 1),
                    (yrs::block::ClientID::new(2), 2)
                ])
            )))
        );
    }

    /// Found by the fuzz targets peer_message, relay and room (fuzz/corpus/*/regression-*): an
    /// update whose client count (a varUint of 11 bytes) yrs read as billions, reserving a map
    /// for them before reading any.
    #[test]
    fn updates_claiming_more_clients_than_their_bytes_hold_are_refused() {
        let update = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xf1, 0xff, 0xff,
        ];
        assert!(decode_update(&update).is_err_and(|why| why.starts_with("the count of")));
        // 2^20 clients in 8 bytes.
        let update = [0x80, 0x80, 0x40, 0, 0, 0, 0, 0];
        assert!(decode_update(&update).is_err_and(|why| why.starts_with("the count of")));
        // A real update decodes as yrs decodes it.
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("page");
        let update = {
            use yrs::{Text, Transact};
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "hello");
            txn.encode_update_v1()
        };
        assert_eq!(
            decode_update(&update),
            Ok(Update::decode_v1(&update).unwrap())
        );
    }
}
