//! The followed log's checkpoint ([`FilePosition`]) and the fingerprint that tells whether a
//! file still holds what was read from it ([`Fingerprint`]), plus the follower's own counters
//! ([`FollowMetrics`]).
//!
//! A file's device and inode numbers name it, but not its content: an inode freed by a rotated
//! file that was compressed away is reused by the next `conn.log`, and a log truncated in place
//! (copytruncate) keeps its inode. So a position also records how far into the file it is (the
//! byte offset after the last line processed) and a hash of the file's first bytes (up to
//! [`HEAD_BYTES`]); a file shorter than the offset, or whose first bytes differ, is not the
//! file the position was taken in, and is read again from its start.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How many of a file's first bytes its fingerprint covers. Zeek's header (with its `#open`
/// time) and the first records fit, so two logs almost never share them.
pub const HEAD_BYTES: usize = 4096;

/// The length and hash of a file's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// How many first bytes are hashed (at most [`HEAD_BYTES`]).
    pub len: u64,
    /// Their FNV-1a 64-bit hash.
    pub fnv1a: u64,
}

impl Fingerprint {
    /// The fingerprint of these bytes (the file's first ones).
    pub fn of(head: &[u8]) -> Fingerprint {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in head {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: head.len() as u64,
            fnv1a: hash,
        }
    }

    /// Whether the file at `path` starts with the bytes this fingerprint was taken of.
    pub fn matches_file(&self, path: &Path) -> io::Result<bool> {
        let mut head = Vec::with_capacity(self.len as usize);
        File::open(path)?.take(self.len).read_to_end(&mut head)?;
        Ok(head.len() as u64 == self.len && Fingerprint::of(&head) == *self)
    }
}

/// A position in a followed log: the file's identity, the last line processed, and what tells
/// whether the file still holds those lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// Device number of the file.
    pub dev: u64,
    /// Inode number of the file.
    pub ino: u64,
    /// Its path when read (informative: rotation renames it).
    pub path: String,
    /// The last line processed (1-based; 0: none).
    pub line: u64,
    /// The byte offset just after that line (absent in checkpoints written before it was kept).
    #[serde(default)]
    pub offset: Option<u64>,
    /// The file's first bytes when the position was taken (absent in older checkpoints).
    #[serde(default)]
    pub head: Option<Fingerprint>,
}

/// Why a file no longer holds the lines a position counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The file is shorter than the position's offset (truncated).
    Shorter {
        /// The file's length now.
        len: u64,
        /// The offset the position names.
        offset: u64,
    },
    /// The file's first bytes changed (another file on the same inode, or rewritten).
    OtherContent,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Shorter { len, offset } => write!(
                f,
                "it is {len} bytes long, shorter than the {offset} bytes already read (truncated, or a new file on the same inode)"
            ),
            Mismatch::OtherContent => write!(
                f,
                "its first bytes are not those read before (a new file on the same inode, or \
                 rewritten)"
            ),
        }
    }
}

impl FilePosition {
    /// Reads a checkpoint file; `None` if it does not exist.
    pub fn load(path: &Path) -> Result<Option<FilePosition>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Config(format!("{}: not a checkpoint: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path.display(), e)),
        }
    }

    /// Writes a checkpoint file atomically (a temporary file, synced, renamed over it).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let err = |e| Error::io(path.display(), e);
        let body = serde_json::to_vec(self).map_err(|e| Error::Config(e.to_string()))?;
        {
            use std::io::Write;
            let mut f = File::create(&tmp).map_err(err)?;
            f.write_all(&body).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// Checks that the file at `path` (found by this position's identity) still holds the
    /// lines it counts: at least `offset` bytes long, starting with the fingerprinted bytes.
    /// A checkpoint without offset and fingerprint (an older one) is taken as it is.
    pub fn check(&self, path: &Path) -> io::Result<std::result::Result<(), Mismatch>> {
        let len = std::fs::metadata(path)?.len();
        if let Some(offset) = self.offset {
            if len < offset {
                return Ok(Err(Mismatch::Shorter { len, offset }));
            }
        }
        if let Some(head) = &self.head {
            if !head.matches_file(path)? {
                return Ok(Err(Mismatch::OtherContent));
            }
        }
        Ok(Ok(()))
    }
}

/// The follower's counters, shown with the pipeline's (`source` in the stats, and Prometheus).
#[derive(Debug, Default)]
pub struct FollowMetrics {
    /// Files read again from their start because they no longer held what was read (truncated,
    /// rewritten, or a new file on the checkpointed inode).
    pub reread_from_start: AtomicU64,
    /// Checkpoint writes that failed (the follower goes on; the position is saved again at
    /// the next flush).
    pub checkpoint_failures: AtomicU64,
}

impl FollowMetrics {
    fn counters(&self) -> [(&'static str, &'static str, u64); 2] {
        [
            (
                "reread_from_start",
                "Followed files read again from their start: truncated, rewritten, or a new file on the checkpointed inode.",
                self.reread_from_start.load(Ordering::Relaxed),
            ),
            (
                "checkpoint_failures",
                "Checkpoint writes that failed.",
                self.checkpoint_failures.load(Ordering::Relaxed),
            ),
        ]
    }
}

impl crate::stats::SourceMetrics for FollowMetrics {
    fn snapshot_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (name, _, value) in self.counters() {
            map.insert(name.to_string(), value.into());
        }
        serde_json::Value::Object(map)
    }

    fn prometheus_text(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in self.counters() {
            out.push_str(&format!(
                "# HELP iotguard_follow_{name}_total {help}\n# TYPE iotguard_follow_{name}_total counter\niotguard_follow_{name}_total {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(Fingerprint::of(b"").fnv1a, 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fingerprint::of(b"a").fnv1a, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fingerprint::of(b"foobar").fnv1a, 0x8594_4171_f739_67e8);
    }

    #[test]
    fn check_tells_truncated_and_rewritten_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conn.log");
        std::fs::write(&path, b"#open 1\nline one\nline two\n").unwrap();
        let pos = FilePosition {
            dev: 0,
            ino: 0,
            path: String::new(),
            line: 2,
            offset: Some(17),
            head: Some(Fingerprint::of(b"#open 1\nline one\n")),
        };
        assert_eq!(pos.check(&path).unwrap(), Ok(()));
        std::fs::write(&path, b"#open 1\n").unwrap();
        assert_eq!(
            pos.check(&path).unwrap(),
            Err(Mismatch::Shorter { len: 8, offset: 17 })
        );
        std::fs::write(&path, b"#open 2\nline one\nline two\nline three\n").unwrap();
        assert_eq!(pos.check(&path).unwrap(), Err(Mismatch::OtherContent));
        // An older checkpoint (no offset, no fingerprint) is taken as it is.
        let old: FilePosition =
            serde_json::from_str(r#"{"dev":1,"ino":2,"path":"p","line":3}"#).unwrap();
        assert_eq!(old.offset, None);
        assert_eq!(old.check(&path).unwrap(), Ok(()));
    }
}
