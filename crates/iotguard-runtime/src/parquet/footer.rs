//! Checks a file's footer before the Parquet library decodes it: every Thrift list, set, map and
//! binary in the footer must fit in the bytes left after its header.
//!
//! The `parquet` crate 57.3 reserved a list's declared element count before reading any element
//! (`read_thrift_vec`): a footer whose `schema` list declared billions of elements asked for tens
//! of gigabytes, and a failed allocation aborts the process, which no `catch_unwind` can catch.
//! The fuzz target found one (57.8 GB). From 60.1 (apache/arrow-rs#10979) the library bounds
//! each list by the bytes left and checks its element type; this walk is kept as a cheap first
//! pass (one read of the footer, nothing decoded) because its error names the byte where the
//! footer goes wrong, which the library's does not. The walk alone was not enough: it trusts the
//! types the footer declares, and a field of the wrong type that 57.3 decoded as a list header
//! anyway asked for 37.3 GB (`testdata/parquet/footer_type_bomb.parquet`); only the library
//! knows each field's expected type. Written by hand (no crate walks compact Thrift without
//! decoding): about a hundred lines, the encoding rules of the compact protocol only.

use ::parquet::file::reader::ChunkReader;

use super::{Error, Result};

/// Deeper nesting than any Parquet footer has (a schema is a flat list): refused, so that the
/// walk (and the library after it) cannot be driven into a stack overflow.
const MAX_DEPTH: u32 = 64;

/// Refuses a file whose footer declares a list, set, map or binary longer than the bytes that
/// follow it. A file too short to have a footer, or an encrypted one (`PARE`), is left to the
/// library, which refuses it with its own error.
pub(super) fn check_footer<R: ChunkReader>(reader: &R) -> Result<()> {
    let len = reader.len();
    if len < 12 {
        return Ok(());
    }
    let tail = reader.get_bytes(len - 8, 8)?;
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if meta_len + 8 > len {
        return Ok(());
    }
    let bytes = reader.get_bytes(len - 8 - meta_len, meta_len as usize)?;
    let mut walk = Walk {
        bytes: &bytes,
        at: 0,
    };
    walk.value(STRUCT, 0)
        .map_err(|reason| Error::CorruptFooter {
            offset: walk.at,
            reason,
        })
}

const STRUCT: u8 = 12;

/// A cursor over the footer's bytes.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| "the footer ends inside a value".to_owned())?;
        self.at += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.remaining() {
            return Err(format!(
                "a value of {n} bytes where {} are left",
                self.remaining()
            ));
        }
        self.at += n;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".to_owned())
    }

    /// Checks that `count` elements of at least `min_bytes` each fit in what is left.
    fn fits(&self, count: u64, min_bytes: u64, what: &str) -> Result<(), String> {
        let left = self.remaining() as u64;
        if count.saturating_mul(min_bytes) > left {
            return Err(format!(
                "a {what} declares {count} elements in {left} bytes"
            ));
        }
        Ok(())
    }

    /// Walks one value of compact type `kind`.
    fn value(&mut self, kind: u8, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("values nested deeper than {MAX_DEPTH}"));
        }
        match kind {
            // Booleans in a field header carry their value; in a list they take one byte.
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.fits(n, 1, "binary")?;
                self.skip(n as usize)
            }
            9 | 10 => {
                let header = self.byte()?;
                let element = header & 0x0f;
                let count = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.fits(count, 1, if kind == 9 { "list" } else { "set" })?;
                for _ in 0..count {
                    match element {
                        1 | 2 => self.skip(1)?,
                        _ => self.value(element, depth + 1)?,
                    }
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                self.fits(count, 2, "map")?;
                for _ in 0..count {
                    self.value(types >> 4, depth + 1)?;
                    self.value(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => loop {
                let header = self.byte()?;
                if header == 0 {
                    return Ok(());
                }
                if header >> 4 == 0 {
                    // A field id that does not fit the delta: a zigzag i16 varint.
                    self.varint()?;
                }
                self.value(header & 0x0f, depth + 1)?;
            },
            other => Err(format!("unknown Thrift compact type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `PAR1`, the footer `meta`, its length and `PAR1`.
    fn file(meta: &[u8]) -> bytes::Bytes {
        let mut f = b"PAR1".to_vec();
        f.extend_from_slice(meta);
        f.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        f.extend_from_slice(b"PAR1");
        f.into()
    }

    fn walk(meta: &[u8]) -> Result<(), String> {
        Walk { bytes: meta, at: 0 }.value(STRUCT, 0)
    }

    #[test]
    fn a_list_declaring_more_elements_than_bytes_is_refused() {
        // FileMetaData { 1: version = 1, 2: schema = list<struct> of 109,002,364 elements }
        // followed by two bytes: the upstream issue's case.
        let meta = [0x15, 0x02, 0x19, 0xfc, 0xfc, 0xfc, 0xfc, 0x33, 0x00, 0x00];
        assert_eq!(
            walk(&meta),
            Err("a list declares 109002364 elements in 2 bytes".to_owned())
        );
        match check_footer(&file(&meta)) {
            Err(Error::CorruptFooter { offset: 8, reason }) => {
                assert_eq!(reason, "a list declares 109002364 elements in 2 bytes")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn well_formed_values_walk_to_their_end() {
        // { 1: i32 7, 2: list<i32> [1, 2, 3], 3: binary "ab", 4: map<i32,i32> {1: 2},
        //   5: struct { 1: true }, 6: double, 20 (long id): byte }
        let meta = [
            0x15, 0x0e, 0x19, 0x35, 0x02, 0x04, 0x06, 0x18, 0x02, b'a', b'b', 0x1b, 0x01, 0x55,
            0x02, 0x04, 0x1c, 0x11, 0x00, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x28, 0x09, 0x00,
        ];
        let mut w = Walk {
            bytes: &meta,
            at: 0,
        };
        assert_eq!(w.value(STRUCT, 0), Ok(()));
        assert_eq!(w.at, meta.len());
        assert!(check_footer(&file(&meta)).is_ok());
    }

    #[test]
    fn oversized_binaries_maps_truncation_and_nesting_are_refused() {
        assert_eq!(
            walk(&[0x18, 0x90, 0x4e]),
            Err("a binary declares 10000 elements in 0 bytes".to_owned())
        );
        assert_eq!(
            walk(&[0x1b, 0x10, 0x55, 0x00]),
            Err("a map declares 16 elements in 1 bytes".to_owned())
        );
        assert_eq!(
            walk(&[0x15]),
            Err("the footer ends inside a value".to_owned())
        );
        let deep: Vec<u8> = std::iter::repeat_n(0x1c, 100).collect();
        assert_eq!(
            walk(&deep),
            Err(format!("values nested deeper than {MAX_DEPTH}"))
        );
        // Not a Parquet footer at all: left to the library.
        assert!(check_footer(&bytes::Bytes::from_static(b"no footer here")).is_ok());
    }
}
