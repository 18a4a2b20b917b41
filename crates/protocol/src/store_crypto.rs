//! The encrypted store's keys and sealed records: what a browser sends the server's store, which
//! keeps it without being able to read, alter or invent any of it.
//!
//! From the room key (itself PBKDF2 of the link's secret, salted with the room name) HKDF-SHA256
//! derives, with separate labels, three unrelated values:
//! - the **store id** the server files the notebook under (so the room name never reaches it,
//!   and two rooms never share a store);
//! - the **store key**, AES-256-GCM, distinct from the signaling key (a record can never be
//!   replayed as a signaling message or the other way round);
//! - the **write token**, whose hash the server keeps from the first write and requires for
//!   every later append, snapshot and delete.
//!
//! A sealed record is `version (1) · kind (1) · nonce (12) · ciphertext and tag`, authenticated
//! with the store id and its kind as associated data: the server cannot alter a record, make
//! one up, move one into another store, or pass an update off as a snapshot. Inside, every
//! update names its writer (a random id per browser session) and that writer's counter, and a
//! snapshot names the sequence it covers and each writer's last counter in it: a reader sees
//! when the server withholds a record from the middle of a writer's run, or serves a snapshot
//! under another sequence than the one sealed in it.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::crypto::RoomKey;

const VERSION: u8 = 1;
const SALT: &[u8] = b"commonplace store v1";
/// The version history's store (`docs/history.md`): another id, key and token from the same
/// room key, so it is a store of its own, unrelated to the notebook's on the server.
const HISTORY_SALT: &[u8] = b"commonplace history v1";
const KIND_SNAPSHOT: u8 = 1;
const KIND_UPDATE: u8 = 2;
/// Version, kind, nonce.
const HEADER: usize = 14;
const TAG: usize = 16;

/// A browser session's name in the store: which records it wrote, in which order.
pub type WriterId = [u8; 16];

/// One update record, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub writer: WriterId,
    /// This writer's records count 0, 1, 2, … with no gaps.
    pub counter: u64,
    /// A Yjs update.
    pub update: Vec<u8>,
}

/// A snapshot, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last sequence number whose record it includes.
    pub covers: u64,
    /// Each writer's last counter it includes.
    pub writers: BTreeMap<WriterId, u64>,
    /// The whole document as one Yjs update.
    pub state: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreCryptoError {
    /// Too short, another version, or another kind than expected.
    Malformed(&'static str),
    /// The key does not open it: altered, invented, or from another store.
    Rejected,
    /// A snapshot served as covering another sequence than the one sealed in it.
    WrongCovers { served: u64, sealed: u64 },
}

impl fmt::Display for StoreCryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreCryptoError::Malformed(why) => write!(f, "not a sealed store record: {why}"),
            StoreCryptoError::Rejected => {
                f.write_str("the store key does not open it (altered, invented, or not ours)")
            }
            StoreCryptoError::WrongCovers { served, sealed } => write!(
                f,
                "a snapshot served as covering {served} was sealed as covering {sealed}"
            ),
        }
    }
}

impl std::error::Error for StoreCryptoError {}

/// The store id, key and write token of one room.
#[derive(Clone)]
pub struct StoreKeys {
    id: [u8; 16],
    key: [u8; 32],
    token: [u8; 32],
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log key material; the id is what the server sees anyway.
        write!(f, "StoreKeys({})", self.id())
    }
}

impl StoreKeys {
    pub fn derive(room: &RoomKey) -> StoreKeys {
        Self::derive_salted(room, SALT)
    }

    /// The keys of the room's version history store.
    pub fn derive_history(room: &RoomKey) -> StoreKeys {
        Self::derive_salted(room, HISTORY_SALT)
    }

    fn derive_salted(room: &RoomKey, salt: &[u8]) -> StoreKeys {
        let hkdf = Hkdf::<Sha256>::new(Some(salt), &room.to_bytes());
        let mut id = [0; 16];
        let mut key = [0; 32];
        let mut token = [0; 32];
        // Outputs of at most 255 × 32 bytes cannot fail.
        let expand = |label: &[u8], out: &mut [u8]| hkdf.expand(label, out).is_ok();
        let ok = expand(b"store id", &mut id)
            && expand(b"store key", &mut key)
            && expand(b"write token", &mut token);
        debug_assert!(ok);
        StoreKeys { id, key, token }
    }

    /// The store id, to address requests with.
    pub fn store_id(&self) -> crate::store::StoreId {
        crate::store::StoreId::from_bytes(self.id)
    }

    /// The write token, to authorize writes with.
    pub fn token(&self) -> crate::store::WriteToken {
        crate::store::WriteToken::from_bytes(self.token)
    }

    /// The store id as the server sees it: 32 lowercase hex characters.
    pub fn id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The write token as sent: base64url without padding (the `Bearer` credential).
    pub fn write_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.token)
    }

    /// An update record. `nonce` must never repeat for one store: draw it from a CSPRNG.
    pub fn seal_update(&self, update: &Update, nonce: [u8; 12]) -> Vec<u8> {
        let mut plain = Vec::with_capacity(24 + update.update.len());
        plain.extend_from_slice(&update.writer);
        plain.extend_from_slice(&update.counter.to_be_bytes());
        plain.extend_from_slice(&update.update);
        self.seal(KIND_UPDATE, &plain, nonce)
    }

    pub fn open_update(&self, sealed: &[u8]) -> Result<Update, StoreCryptoError> {
        let plain = self.open(KIND_UPDATE, sealed)?;
        let (writer, rest) = split::<16>(&plain)?;
        let (counter, update) = split::<8>(rest)?;
        Ok(Update {
            writer,
            counter: u64::from_be_bytes(counter),
            update: update.to_vec(),
        })
    }

    /// A snapshot. `nonce` as for [`StoreKeys::seal_update`].
    pub fn seal_snapshot(&self, snapshot: &Snapshot, nonce: [u8; 12]) -> Vec<u8> {
        let mut plain = Vec::with_capacity(12 + 24 * snapshot.writers.len() + snapshot.state.len());
        plain.extend_from_slice(&snapshot.covers.to_be_bytes());
        plain.extend_from_slice(&(snapshot.writers.len() as u32).to_be_bytes());
        for (writer, counter) in &snapshot.writers {
            plain.extend_from_slice(writer);
            plain.extend_from_slice(&counter.to_be_bytes());
        }
        plain.extend_from_slice(&snapshot.state);
        self.seal(KIND_SNAPSHOT, &plain, nonce)
    }

    /// A snapshot the server says covers `served`.
    pub fn open_snapshot(&self, sealed: &[u8], served: u64) -> Result<Snapshot, StoreCryptoError> {
        let plain = self.open(KIND_SNAPSHOT, sealed)?;
        let (covers, rest) = split::<8>(&plain)?;
        let covers = u64::from_be_bytes(covers);
        if covers != served {
            return Err(StoreCryptoError::WrongCovers {
                served,
                sealed: covers,
            });
        }
        let (count, mut rest) = split::<4>(rest)?;
        let count = u32::from_be_bytes(count) as usize;
        // Checked before allocating: the count is only as good as the bytes behind it.
        if rest.len() / 24 < count {
            return Err(StoreCryptoError::Malformed("fewer writers than it says"));
        }
        let mut writers = BTreeMap::new();
        for _ in 0..count {
            let (writer, after) = split::<16>(rest)?;
            let (counter, after) = split::<8>(after)?;
            writers.insert(writer, u64::from_be_bytes(counter));
            rest = after;
        }
        Ok(Snapshot {
            covers,
            writers,
            state: rest.to_vec(),
        })
    }

    /// Seals any plaintext as a snapshot (`snapshot`) or an update record, for the fuzz targets
    /// (`fuzz/`): what is inside a record is reached only through a seal that opens, and the
    /// record types above cannot hold a malformed plaintext.
    #[cfg(fuzzing)]
    pub fn seal_plaintext(&self, snapshot: bool, plain: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        let kind = if snapshot { KIND_SNAPSHOT } else { KIND_UPDATE };
        self.seal(kind, plain, nonce)
    }

    fn associated_data(&self, kind: u8) -> [u8; 18] {
        let mut aad = [0; 18];
        aad[0] = VERSION;
        aad[1] = kind;
        aad[2..].copy_from_slice(&self.id);
        aad
    }

    fn seal(&self, kind: u8, plain: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        let aad = self.associated_data(kind);
        let ciphertext = Aes256Gcm::new(&self.key.into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("AES-GCM seals any record a browser can hold");
        let mut sealed = Vec::with_capacity(HEADER + ciphertext.len());
        sealed.extend_from_slice(&[VERSION, kind]);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    fn open(&self, kind: u8, sealed: &[u8]) -> Result<Vec<u8>, StoreCryptoError> {
        if sealed.len() < HEADER + TAG {
            return Err(StoreCryptoError::Malformed("too short"));
        }
        if sealed[0] != VERSION {
            return Err(StoreCryptoError::Malformed("another version"));
        }
        if sealed[1] != kind {
            return Err(StoreCryptoError::Malformed("another kind of record"));
        }
        let aad = self.associated_data(kind);
        Aes256Gcm::new(&self.key.into())
            .decrypt(
                Nonce::from_slice(&sealed[2..HEADER]),
                Payload {
                    msg: &sealed[HEADER..],
                    aad: &aad,
                },
            )
            .map_err(|_| StoreCryptoError::Rejected)
    }
}

fn split<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), StoreCryptoError> {
    if bytes.len() < N {
        return Err(StoreCryptoError::Malformed("cut short"));
    }
    let (head, rest) = bytes.split_at(N);
    Ok((head.try_into().expect("split at N"), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: u8) -> StoreKeys {
        StoreKeys::derive(&RoomKey::from_bytes([secret; 32]))
    }

    fn update(counter: u64) -> Update {
        Update {
            writer: [7; 16],
            counter,
            update: b"a yjs update".to_vec(),
        }
    }

    #[test]
    fn the_derived_values_are_unrelated_and_stable() {
        let a = keys(1);
        assert_eq!(a.id().len(), 32);
        assert!(a
            .id()
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a.write_token().len(), 43);
        assert_ne!(a.id(), keys(2).id());
        assert_ne!(a.key, a.token);
        assert_ne!(
            a.key,
            RoomKey::from_bytes([1; 32]).to_bytes(),
            "not the signaling key"
        );
        // Fixed for a fixed room key: a browser finds its store again.
        assert_eq!(a.id(), keys(1).id());
        assert_eq!(format!("{a:?}"), format!("StoreKeys({})", a.id()));
        // The history's store is another store, sealed with another key.
        let history = StoreKeys::derive_history(&RoomKey::from_bytes([1; 32]));
        assert_ne!(history.id(), a.id());
        assert_ne!(history.key, a.key);
        assert_ne!(history.token, a.token);
        let sealed = history.seal_update(&update(0), [3; 12]);
        assert!(a.open_update(&sealed).is_err());
    }

    #[test]
    fn records_open_with_their_key_only() {
        let (a, b) = (keys(1), keys(2));
        let sealed = a.seal_update(&update(3), [9; 12]);
        assert_eq!(a.open_update(&sealed), Ok(update(3)));
        assert_eq!(b.open_update(&sealed), Err(StoreCryptoError::Rejected));
        let snapshot = Snapshot {
            covers: 41,
            writers: BTreeMap::from([([7; 16], 3), ([8; 16], 0)]),
            state: b"the whole notebook".to_vec(),
        };
        let sealed = a.seal_snapshot(&snapshot, [1; 12]);
        assert_eq!(a.open_snapshot(&sealed, 41), Ok(snapshot));
        assert_eq!(
            a.open_snapshot(&sealed, 50),
            Err(StoreCryptoError::WrongCovers {
                served: 50,
                sealed: 41
            })
        );
    }

    #[test]
    fn anything_altered_cut_or_made_up_is_rejected() {
        let a = keys(1);
        let sealed = a.seal_update(&update(0), [9; 12]);
        for at in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[at] ^= 0x01;
            assert!(a.open_update(&altered).is_err(), "byte {at} flipped");
        }
        for len in 0..sealed.len() {
            assert!(a.open_update(&sealed[..len]).is_err(), "cut to {len}");
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(a.open_update(&longer).is_err());
        // An update is not a snapshot, nor the other way round.
        assert_eq!(
            a.open_snapshot(&sealed, 0),
            Err(StoreCryptoError::Malformed("another kind of record"))
        );
        // Made up by someone without the key, in the right shape.
        let mut invented = vec![VERSION, KIND_UPDATE];
        invented.extend_from_slice(&[0; 12 + 24 + TAG]);
        assert_eq!(a.open_update(&invented), Err(StoreCryptoError::Rejected));
    }

    #[test]
    fn a_snapshot_claiming_more_writers_than_it_holds_is_malformed() {
        let a = keys(1);
        let mut plain = 5u64.to_be_bytes().to_vec();
        plain.extend_from_slice(&u32::MAX.to_be_bytes());
        let sealed = a.seal(KIND_SNAPSHOT, &plain, [2; 12]);
        assert_eq!(
            a.open_snapshot(&sealed, 5),
            Err(StoreCryptoError::Malformed("fewer writers than it says"))
        );
    }
}
