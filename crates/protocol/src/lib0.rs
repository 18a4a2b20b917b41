//! lib0's binary encoding, the few pieces y-webrtc's frames and envelopes are made of, byte for
//! byte as lib0 (and yrs) write them.
//!
//! Writers append to a `Vec<u8>`. A [`Decoder`] reads a slice front to back; where lib0 would
//! throw, it returns an [`Error`], and it never panics nor allocates on a length it was told:
//! every frame it reads comes from a stranger.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ends inside a value (lib0's `errorUnexpectedEndOfArray`).
    UnexpectedEnd,
    /// A variable-length integer past 64 bits (lib0's `errorIntegerOutOfRange`, which it
    /// throws past 2^53; yrs wraps around instead).
    IntegerOutOfRange,
    /// A varString whose bytes are not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::UnexpectedEnd => "unexpected end of input",
            Error::IntegerOutOfRange => "integer out of range",
            Error::InvalidUtf8 => "string is not UTF-8",
        })
    }
}

impl std::error::Error for Error {}

/// lib0's `writeVarUint`: 7 bits a byte, least significant first, the high bit set on every
/// byte but the last.
pub fn write_var_uint(out: &mut Vec<u8>, mut num: u64) {
    while num > 0x7f {
        out.push(0x80 | (num & 0x7f) as u8);
        num >>= 7;
    }
    out.push(num as u8);
}

/// lib0's `writeVarInt`: like [`write_var_uint`] of the magnitude, but the first byte holds
/// only 6 bits and a sign bit (0x40); lib0 keeps that option open for BigInt, not zig-zag.
pub fn write_var_int(out: &mut Vec<u8>, num: i64) {
    let negative = num < 0;
    let mut magnitude = num.unsigned_abs();
    let more = if magnitude > 0x3f { 0x80 } else { 0 };
    let sign = if negative { 0x40 } else { 0 };
    out.push(more | sign | (magnitude & 0x3f) as u8);
    magnitude >>= 6;
    if magnitude > 0 {
        write_var_uint(out, magnitude);
    }
}

/// lib0's `writeVarUint8Array`: the length as a varUint, then the bytes.
pub fn write_var_uint8_array(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// lib0's `writeVarString`: the UTF-8 bytes as a varUint8Array.
pub fn write_var_string(out: &mut Vec<u8>, text: &str) {
    write_var_uint8_array(out, text.as_bytes());
}

/// lib0's `writeFloat32`: big-endian.
pub fn write_float32(out: &mut Vec<u8>, num: f32) {
    out.extend_from_slice(&num.to_be_bytes());
}

/// lib0's `writeFloat64`: big-endian.
pub fn write_float64(out: &mut Vec<u8>, num: f64) {
    out.extend_from_slice(&num.to_be_bytes());
}

/// Reads lib0-encoded values from the front of a slice.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Decoder<'a> {
        Decoder { bytes, pos: 0 }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// lib0's `readUint8`: one byte as it is.
    pub fn read_u8(&mut self) -> Result<u8, Error> {
        Ok(self.read_exact(1)?[0])
    }

    /// The next `len` bytes, without copying them.
    pub fn read_exact(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let rest = self.rest();
        if len > rest.len() {
            return Err(Error::UnexpectedEnd);
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    /// lib0's `readVarUint`. Non-minimal encodings (`80 00` for 0) are read as lib0 reads them.
    pub fn read_var_uint(&mut self) -> Result<u64, Error> {
        self.read_var_bits(0, 0)
    }

    /// lib0's `readVarInt` (see [`write_var_int`]); `-0` reads as 0.
    pub fn read_var_int(&mut self) -> Result<i64, Error> {
        let first = self.read_u8()?;
        let mut magnitude = u64::from(first & 0x3f);
        if first & 0x80 != 0 {
            magnitude = self.read_var_bits(magnitude, 6)?;
        }
        let magnitude = i64::try_from(magnitude).map_err(|_| Error::IntegerOutOfRange)?;
        Ok(if first & 0x40 != 0 {
            -magnitude
        } else {
            magnitude
        })
    }

    /// lib0's `readVarUint8Array`, without copying. A length past the input is an error before
    /// anything is reserved for it.
    pub fn read_var_uint8_array(&mut self) -> Result<&'a [u8], Error> {
        let len = self.read_var_uint()?;
        let len = usize::try_from(len).map_err(|_| Error::UnexpectedEnd)?;
        self.read_exact(len)
    }

    /// lib0's `readVarString`. lib0 decodes bad UTF-8 leniently; here it is an error, as in yrs.
    pub fn read_var_string(&mut self) -> Result<&'a str, Error> {
        std::str::from_utf8(self.read_var_uint8_array()?).map_err(|_| Error::InvalidUtf8)
    }

    /// lib0's `readFloat32`: big-endian.
    pub fn read_float32(&mut self) -> Result<f32, Error> {
        Ok(f32::from_be_bytes(self.read_array()?))
    }

    /// lib0's `readFloat64`: big-endian.
    pub fn read_float64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_be_bytes(self.read_array()?))
    }

    /// lib0's `readBigInt64`: big-endian.
    pub fn read_big_int64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_be_bytes(self.read_array()?))
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut array = [0; N];
        array.copy_from_slice(self.read_exact(N)?);
        Ok(array)
    }

    /// Continues a variable-length integer whose bits below `shift` are `num`: 7 bits a byte
    /// while the high bit is set. Bits that would not fit in 64 are an error, not lost.
    fn read_var_bits(&mut self, mut num: u64, mut shift: u32) -> Result<u64, Error> {
        loop {
            let byte = self.read_u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift >= 64 || bits > u64::MAX >> shift {
                return Err(Error::IntegerOutOfRange);
            }
            num |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(num);
            }
            shift += 7;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var_uint(num: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_var_uint(&mut out, num);
        out
    }

    fn var_int(num: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_var_int(&mut out, num);
        out
    }

    #[test]
    fn var_uints_match_lib0() {
        // lib0: writeVarUint(0), (127), (128), (300), (2 ** 32).
        assert_eq!(var_uint(0), [0]);
        assert_eq!(var_uint(127), [0x7f]);
        assert_eq!(var_uint(128), [0x80, 0x01]);
        assert_eq!(var_uint(300), [0xac, 0x02]);
        assert_eq!(var_uint(1 << 32), [0x80, 0x80, 0x80, 0x80, 0x10]);
        for num in [0, 1, 127, 128, 300, 1 << 32, (1 << 53) - 1, u64::MAX] {
            let bytes = var_uint(num);
            let mut decoder = Decoder::new(&bytes);
            assert_eq!(decoder.read_var_uint(), Ok(num));
            assert!(decoder.rest().is_empty());
        }
        assert_eq!(var_uint(u64::MAX).len(), 10);
    }

    #[test]
    fn var_ints_match_lib0() {
        // lib0: writeVarInt(0), (-1), (63), (64), (-65), (2 ** 31 - 1).
        assert_eq!(var_int(0), [0]);
        assert_eq!(var_int(-1), [0x41]);
        assert_eq!(var_int(63), [0x3f]);
        assert_eq!(var_int(64), [0x80, 0x01]);
        assert_eq!(var_int(-65), [0xc1, 0x01]);
        assert_eq!(var_int(0x7fff_ffff), [0xbf, 0xff, 0xff, 0xff, 0x0f]);
        for num in [
            0,
            1,
            -1,
            63,
            -64,
            64,
            1 << 40,
            -(1 << 53),
            i64::MAX,
            i64::MIN + 1,
        ] {
            assert_eq!(Decoder::new(&var_int(num)).read_var_int(), Ok(num));
        }
        // -0, which lib0 writes for a negative zero.
        assert_eq!(Decoder::new(&[0x40]).read_var_int(), Ok(0));
    }

    #[test]
    fn strings_and_arrays_match_lib0() {
        let mut out = Vec::new();
        write_var_string(&mut out, "ü");
        write_var_uint8_array(&mut out, &[9; 3]);
        write_float32(&mut out, 0.5);
        write_float64(&mut out, -2.0);
        assert_eq!(
            out,
            [2, 0xc3, 0xbc, 3, 9, 9, 9, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut decoder = Decoder::new(&out);
        assert_eq!(decoder.read_var_string(), Ok("ü"));
        assert_eq!(decoder.read_var_uint8_array(), Ok(&[9u8; 3][..]));
        assert_eq!(decoder.read_float32(), Ok(0.5));
        assert_eq!(decoder.read_float64(), Ok(-2.0));
        assert_eq!(decoder.read_u8(), Err(Error::UnexpectedEnd));
        let big = (-5i64).to_be_bytes();
        assert_eq!(Decoder::new(&big).read_big_int64(), Ok(-5));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let too_long = [0xff; 10]
            .iter()
            .chain(&[0x01])
            .copied()
            .collect::<Vec<u8>>();
        for (bytes, error) in [
            (&[][..], Error::UnexpectedEnd),
            (&[0x80], Error::UnexpectedEnd),
            (&[0xff; 9][..], Error::UnexpectedEnd),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                Error::IntegerOutOfRange,
            ),
            (&too_long, Error::IntegerOutOfRange),
        ] {
            assert_eq!(Decoder::new(bytes).read_var_uint(), Err(error), "{bytes:?}");
        }
        // A magnitude past i64::MAX.
        let mut huge = vec![0xbf];
        write_var_uint(&mut huge, u64::MAX >> 6);
        assert_eq!(
            Decoder::new(&huge).read_var_int(),
            Err(Error::IntegerOutOfRange)
        );
        // Lengths beyond the input, however large, and bad UTF-8.
        for bytes in [
            &[5, 1, 2][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert_eq!(
                Decoder::new(bytes).read_var_uint8_array(),
                Err(Error::UnexpectedEnd)
            );
        }
        assert_eq!(
            Decoder::new(&[2, 0xff, 0xfe]).read_var_string(),
            Err(Error::InvalidUtf8)
        );
        assert_eq!(
            Decoder::new(&[0, 0, 0]).read_float64(),
            Err(Error::UnexpectedEnd)
        );
        // A failed read may leave the decoder anywhere, but reading on stays safe.
        let mut decoder = Decoder::new(&[0x80]);
        assert!(decoder.read_var_uint().is_err());
        assert!(decoder.read_u8().is_err());
    }
}
