//! [`JsonlSink`]: alerts as JSON lines in a file, rotated by size.
//!
//! When the file would pass `max_bytes`, it is renamed `NAME.1` (older ones shift to `NAME.2`
//! and so on, the oldest beyond `keep` deleted) and a new file is started, so the newest
//! documents are always in `NAME`. Each revision of an incident is a new line; readers keep the
//! last line per `event.id`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{AlertSink, SinkError};
use crate::alert::Alert;
use crate::drift::EventDocument;

/// How the JSON-lines sink writes and rotates.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonlConfig {
    /// The file (appended to if it exists).
    pub path: PathBuf,
    /// Rotate before the file would pass this many bytes (0: never rotate).
    pub max_bytes: u64,
    /// Rotated files kept (`NAME.1` .. `NAME.keep`).
    pub keep: usize,
}

impl JsonlConfig {
    /// A file rotated at 100 MiB, keeping 5 old files.
    pub fn new(path: impl Into<PathBuf>) -> JsonlConfig {
        JsonlConfig {
            path: path.into(),
            max_bytes: 100 << 20,
            keep: 5,
        }
    }
}

/// Writes alerts as JSON lines; see the module docs.
pub struct JsonlSink {
    config: JsonlConfig,
    name: String,
    out: BufWriter<File>,
    size: u64,
    line: Vec<u8>,
}

impl JsonlSink {
    /// Opens (creating or appending to) the file.
    pub fn open(config: JsonlConfig) -> Result<JsonlSink, SinkError> {
        let file = open_append(&config.path)?;
        let size = file
            .metadata()
            .map_err(|e| SinkError::io(config.path.display(), e))?
            .len();
        Ok(JsonlSink {
            name: format!("jsonl:{}", config.path.display()),
            config,
            out: BufWriter::with_capacity(1 << 16, file),
            size,
            line: Vec::with_capacity(4096),
        })
    }

    fn rotate(&mut self) -> Result<(), SinkError> {
        let path = &self.config.path;
        let err = |e| SinkError::io(path.display(), e);
        self.out.flush().map_err(err)?;
        if self.config.keep == 0 {
            std::fs::remove_file(path).map_err(err)?;
        } else {
            let _ = std::fs::remove_file(numbered(path, self.config.keep));
            for i in (1..self.config.keep).rev() {
                let from = numbered(path, i);
                if from.exists() {
                    std::fs::rename(&from, numbered(path, i + 1)).map_err(err)?;
                }
            }
            std::fs::rename(path, numbered(path, 1)).map_err(err)?;
        }
        self.out = BufWriter::with_capacity(1 << 16, open_append(path)?);
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, i: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

fn open_append(path: &Path) -> Result<File, SinkError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SinkError::io(path.display(), e))
}

impl AlertSink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        self.write_docs(alerts)
    }

    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError> {
        self.write_docs(events)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let err = |e| SinkError::io(self.config.path.display(), e);
        self.out.flush().map_err(err)?;
        self.out.get_ref().sync_data().map_err(err)
    }
}

impl JsonlSink {
    /// Writes documents one per line, rotating by size.
    fn write_docs<T: serde::Serialize>(&mut self, docs: &[T]) -> Result<(), SinkError> {
        for doc in docs {
            self.line.clear();
            serde_json::to_writer(&mut self.line, doc)?;
            self.line.push(b'\n');
            let len = self.line.len() as u64;
            if self.config.max_bytes > 0 && self.size > 0 && self.size + len > self.config.max_bytes
            {
                self.rotate()?;
            }
            self.out
                .write_all(&self.line)
                .map_err(|e| SinkError::io(self.config.path.display(), e))?;
            self.size += len;
        }
        Ok(())
    }
}
