//! Transparent gzip and zstd: inputs are recognised by their magic bytes, not their names.

use std::io::{self, BufRead, BufReader, Read};

const BUF: usize = 256 * 1024;

/// The compression an input uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (several members allowed, as `cat a.gz b.gz` gives).
    Gzip,
    /// Zstandard (several frames allowed).
    Zstd,
}

/// Returns the compression the first bytes of a stream announce.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps a stream so that reading it gives the decompressed bytes.
pub fn decompress(reader: impl Read + Send + 'static) -> io::Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(BUF, reader);
    let kind = loop {
        match buffered.fill_buf() {
            Ok(head) => break sniff(head),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    Ok(match kind {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUF,
            zstd::stream::read::Decoder::with_buffer(buffered)?,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(bytes: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(io::Cursor::new(bytes))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn gzip_zstd_and_plain_read_the_same() {
        let text = b"hello\nworld\n".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&text[..], 1).unwrap();
        assert_eq!(read_all(text.clone()), text);
        assert_eq!(read_all(gz.clone()), text);
        assert_eq!(read_all(zst), text);
        // Two gzip members back to back, as `cat a.gz b.gz` makes.
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        assert_eq!(read_all(two), [text.clone(), text].concat());
        assert!(read_all(Vec::new()).is_empty());
    }
}
