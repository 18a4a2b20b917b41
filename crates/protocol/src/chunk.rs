//! Messages larger than a data channel carries, split into chunks and put back together.
//!
//! Browsers cap one data-channel message (Chromium: 256 KiB), but a late joiner's sync step 2
//! can be the whole notebook. Between Commonplace peers (who say so while negotiating, see
//! `RoomSignal::Signal::chunks`), such a frame travels as chunk frames:
//! `varUint 101, varUint id, varUint offset, varUint total, varUint8Array bytes`. The type is
//! one y-webrtc does not use; y-webrtc peers are never sent chunks.
//!
//! A data channel is ordered and reliable, and a sender writes a message's chunks one after
//! another, so a receiver keeps one partial message per peer and expects each chunk to continue
//! it exactly. Anything else is a broken or hostile stream: dropped, bounded in memory.

use crate::lib0::{self, Decoder};

pub const MSG_CHUNK: u8 = 101;
/// Payload per chunk: well under every browser's message limit.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// The largest message this peer puts back together (announced to peers while negotiating).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Splits `frame` into chunk frames of at most `chunk_size` payload bytes each.
pub fn split(id: u64, frame: &[u8], chunk_size: usize) -> Vec<Vec<u8>> {
    let chunk_size = chunk_size.max(1);
    let pieces: Vec<&[u8]> = match frame.is_empty() {
        true => vec![frame],
        false => frame.chunks(chunk_size).collect(),
    };
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let mut chunk = vec![MSG_CHUNK];
            lib0::write_var_uint(&mut chunk, id);
            lib0::write_var_uint(&mut chunk, (i * chunk_size) as u64);
            lib0::write_var_uint(&mut chunk, frame.len() as u64);
            lib0::write_var_uint8_array(&mut chunk, bytes);
            chunk
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembled {
    /// More chunks to come; `received` of `total` bytes so far.
    Partial {
        received: usize,
        total: usize,
    },
    Complete(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    Malformed,
    TooLarge {
        total: u64,
    },
    /// A chunk that does not continue the message in progress (which is dropped).
    OutOfSequence,
}

/// Puts one peer's chunked messages back together.
#[derive(Debug)]
pub struct Reassembler {
    max_message: usize,
    partial: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    id: u64,
    total: usize,
    bytes: Vec<u8>,
}

impl Reassembler {
    pub fn new(max_message: usize) -> Reassembler {
        Reassembler {
            max_message,
            partial: None,
        }
    }

    /// Takes one chunk frame (starting with [`MSG_CHUNK`]).
    pub fn push(&mut self, frame: &[u8]) -> Result<Reassembled, ChunkError> {
        let (id, offset, total, bytes) = parse(frame).ok_or(ChunkError::Malformed)?;
        if total > self.max_message as u64 || offset.saturating_add(bytes.len() as u64) > total {
            self.partial = None;
            return Err(ChunkError::TooLarge { total });
        }
        let total = total as usize;
        if offset == 0 {
            // A new message; one still in progress was abandoned by its sender.
            self.partial = Some(Partial {
                id,
                total,
                // Grows as chunks arrive: a declared total is a claim, not an allocation.
                bytes: Vec::with_capacity(bytes.len()),
            });
        }
        let partial = match &mut self.partial {
            Some(p) if p.id == id && p.total == total && p.bytes.len() as u64 == offset => p,
            _ => {
                self.partial = None;
                return Err(ChunkError::OutOfSequence);
            }
        };
        partial.bytes.extend_from_slice(bytes);
        if partial.bytes.len() < total {
            return Ok(Reassembled::Partial {
                received: partial.bytes.len(),
                total,
            });
        }
        let complete = self.partial.take().map(|p| p.bytes).unwrap_or_default();
        Ok(Reassembled::Complete(complete))
    }
}

fn parse(frame: &[u8]) -> Option<(u64, u64, u64, &[u8])> {
    let mut decoder = Decoder::new(frame);
    if decoder.read_u8().ok()? != MSG_CHUNK {
        return None;
    }
    let id = decoder.read_var_uint().ok()?;
    let offset = decoder.read_var_uint().ok()?;
    let total = decoder.read_var_uint().ok()?;
    let bytes = decoder.read_var_uint8_array().ok()?;
    Some((id, offset, total, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn split_then_reassemble_round_trips() {
        for len in [0, 1, 99, 100, 101, 1000] {
            let frame = message(len);
            let mut reassembler = Reassembler::new(MAX_MESSAGE);
            let chunks = split(7, &frame, 100);
            assert_eq!(chunks.len(), len.div_ceil(100).max(1));
            let mut result = None;
            for (i, chunk) in chunks.iter().enumerate() {
                match reassembler.push(chunk).unwrap() {
                    Reassembled::Partial { received, total } => {
                        assert!(i + 1 < chunks.len());
                        assert_eq!((received, total), ((i + 1) * 100, len));
                    }
                    Reassembled::Complete(bytes) => result = Some(bytes),
                }
            }
            assert_eq!(result, Some(frame), "len {len}");
        }
    }

    #[test]
    fn broken_streams_are_dropped_and_the_next_message_still_arrives() {
        let mut reassembler = Reassembler::new(1000);
        let chunks = split(1, &message(300), 100);
        reassembler.push(&chunks[0]).unwrap();
        // A gap, a repeat and a foreign id each drop the message in progress.
        assert_eq!(reassembler.push(&chunks[2]), Err(ChunkError::OutOfSequence));
        assert_eq!(reassembler.push(&chunks[1]), Err(ChunkError::OutOfSequence));
        reassembler.push(&chunks[0]).unwrap();
        assert_eq!(
            reassembler.push(&split(2, &message(300), 100)[1]),
            Err(ChunkError::OutOfSequence)
        );
        // Claims beyond the bound allocate nothing and are refused.
        let huge = split(3, &message(10), 10)[0].clone();
        let mut lying = vec![MSG_CHUNK, 3, 0];
        lib0::write_var_uint(&mut lying, u64::MAX);
        lib0::write_var_uint8_array(&mut lying, &[1, 2, 3]);
        assert_eq!(
            reassembler.push(&lying),
            Err(ChunkError::TooLarge { total: u64::MAX })
        );
        assert!(matches!(
            Reassembler::new(5).push(&huge),
            Err(ChunkError::TooLarge { .. })
        ));
        for junk in [
            &[][..],
            &[MSG_CHUNK],
            &[MSG_CHUNK, 1, 0, 5, 9, 1],
            &[0, 0, 1, 0],
        ] {
            assert_eq!(reassembler.push(junk), Err(ChunkError::Malformed));
        }
        let mut complete = None;
        for chunk in split(4, &message(250), 100) {
            if let Reassembled::Complete(bytes) = reassembler.push(&chunk).unwrap() {
                complete = Some(bytes);
            }
        }
        assert_eq!(complete, Some(message(250)));
    }
}
