//! UTF-16 text kept in chunks of about [`CHUNK_UNITS`] units, with each chunk's length in running
//! totals ([`PrefixSums`]): a splice finds its chunk in O(log chunks) and shifts the units of that
//! chunk only, where one `Vec<u16>` would shift everything after the splice (a keystroke in the
//! middle of a 1M-unit page moved 1 MB).
//!
//! A chunk that grows to twice [`CHUNK_UNITS`] is split into chunks of that many; an emptied
//! chunk is dropped; both rebuild the totals (O(chunks)), which happens at most once per
//! chunk's worth of text added or removed. Chunks are never merged: deleting leaves them
//! smaller, which costs nothing but their number (bounded by the text ever added over
//! [`CHUNK_UNITS`]).

use std::ops::Range;

use super::prefix_sums::PrefixSums;

/// Units per chunk when chunks are made.
const CHUNK_UNITS: usize = 2048;

#[derive(Debug, Clone, Default)]
pub(crate) struct Utf16Chunks {
    /// None empty (an empty text has no chunk), each shorter than `2 * CHUNK_UNITS`.
    chunks: Vec<Vec<u16>>,
    /// Per chunk, its length.
    sums: PrefixSums,
}

impl Utf16Chunks {
    pub(crate) fn new(units: &[u16]) -> Self {
        let mut text = Utf16Chunks {
            chunks: units.chunks(CHUNK_UNITS).map(<[u16]>::to_vec).collect(),
            sums: PrefixSums::default(),
        };
        text.recount();
        text
    }

    pub(crate) fn len(&self) -> usize {
        self.sums.total()
    }

    pub(crate) fn get(&self, at: usize) -> Option<u16> {
        let (chunk, before) = self.sums.find(at)?;
        Some(self.chunks[chunk][at - before])
    }

    /// Units `range` (clamped to the text), copied. O(log chunks + the range).
    pub(crate) fn slice(&self, range: Range<usize>) -> Vec<u16> {
        let end = range.end.min(self.len());
        let mut at = range.start.min(end);
        let mut units = Vec::with_capacity(end - at);
        while at < end {
            let (chunk, before) = self.sums.find(at).expect("within the text");
            let chunk = &self.chunks[chunk];
            let piece = &chunk[at - before..chunk.len().min(end - before)];
            units.extend_from_slice(piece);
            at += piece.len();
        }
        units
    }

    pub(crate) fn to_vec(&self) -> Vec<u16> {
        self.chunks.concat()
    }

    /// Replaces units `range` (clamped to the text) with `insert`.
    pub(crate) fn splice(&mut self, range: Range<usize>, insert: &[u16]) {
        let len = self.len();
        let end = range.end.min(len);
        let start = range.start.min(end);
        if start == end && insert.is_empty() {
            return;
        }
        if self.chunks.is_empty() {
            *self = Utf16Chunks::new(insert);
            return;
        }
        // The chunk the splice starts in (the last one for an insertion at the end), and the
        // chunk of its last deleted unit.
        let (first, first_start) = self.sums.find(start).unwrap_or((
            self.chunks.len() - 1,
            len - self.chunks.last().map_or(0, Vec::len),
        ));
        let (last, last_start) = if end > start {
            self.sums.find(end - 1).expect("within the text")
        } else {
            (first, first_start)
        };
        let reshaped = if first == last {
            let chunk = &mut self.chunks[first];
            chunk.splice(
                start - first_start..end - first_start,
                insert.iter().copied(),
            );
            self.sums
                .add(first, insert.len() as isize - (end - start) as isize);
            chunk.is_empty() || chunk.len() >= 2 * CHUNK_UNITS
        } else {
            // The first chunk's end and the last chunk's start go, and every chunk between.
            let first_cut = self.chunks[first].len() - (start - first_start);
            self.chunks[first].truncate(start - first_start);
            self.chunks[first].extend_from_slice(insert);
            self.chunks[last].drain(..end - last_start);
            self.sums
                .add(first, insert.len() as isize - first_cut as isize);
            self.sums.add(last, -((end - last_start) as isize));
            self.chunks.drain(first + 1..last);
            last > first + 1
                || self.chunks[first].is_empty()
                || self.chunks[first].len() >= 2 * CHUNK_UNITS
                || self.chunks[first + 1].is_empty()
        };
        if reshaped {
            self.reshape(first);
        }
    }

    /// After a splice starting in chunk `first`: drops the chunks it emptied, splits the one it
    /// grew too big, and rebuilds the totals.
    fn reshape(&mut self, first: usize) {
        let end = (first + 2).min(self.chunks.len());
        let pieces: Vec<Vec<u16>> = self
            .chunks
            .drain(first..end)
            .flat_map(|chunk| {
                if chunk.len() >= 2 * CHUNK_UNITS {
                    chunk.chunks(CHUNK_UNITS).map(<[u16]>::to_vec).collect()
                } else {
                    vec![chunk]
                }
            })
            .filter(|chunk| !chunk.is_empty())
            .collect();
        self.chunks.splice(first..first, pieces);
        self.recount();
    }

    fn recount(&mut self) {
        self.sums = PrefixSums::new(self.chunks.iter().map(Vec::len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift, enough to pick splices.
    fn next(state: &mut u64) -> usize {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 16) as usize
    }

    #[test]
    fn splices_agree_with_a_vec() {
        let mut state = 0x2545_F491_4F6C_DD1D;
        for round in 0..40 {
            let initial: Vec<u16> = (0..next(&mut state) % (5 * CHUNK_UNITS))
                .map(|i| i as u16)
                .collect();
            let mut chunks = Utf16Chunks::new(&initial);
            let mut model = initial;
            for step in 0..300 {
                let len = model.len();
                let start = next(&mut state) % (len + 3);
                let delete = match next(&mut state) % 8 {
                    0 => next(&mut state) % (len + 1),
                    1 | 2 => next(&mut state) % (CHUNK_UNITS + 10),
                    3..=5 => 0,
                    _ => next(&mut state) % 3,
                };
                let inserted = match next(&mut state) % 10 {
                    0 => next(&mut state) % (3 * CHUNK_UNITS),
                    1..=4 => 0,
                    _ => next(&mut state) % 4,
                };
                let insert: Vec<u16> = (0..inserted).map(|i| (step * 7 + i) as u16).collect();
                chunks.splice(start..start + delete, &insert);
                let start = start.min(len);
                let end = (start + delete).min(len);
                model.splice(start..end, insert);

                assert_eq!(chunks.len(), model.len(), "round {round} step {step}");
                assert!(chunks
                    .chunks
                    .iter()
                    .all(|chunk| !chunk.is_empty() && chunk.len() < 2 * CHUNK_UNITS));
                for _ in 0..10 {
                    let at = next(&mut state) % (model.len() + 2);
                    assert_eq!(chunks.get(at), model.get(at).copied());
                    let to = at + next(&mut state) % (CHUNK_UNITS * 3);
                    let clamped = at.min(model.len())..to.min(model.len());
                    assert_eq!(chunks.slice(at..to), model[clamped]);
                }
            }
            assert_eq!(chunks.to_vec(), model);
        }
    }
}
