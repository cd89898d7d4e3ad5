//! [`DeadLetterFile`]: alert (and drift event) documents a sink could not deliver, kept as JSON
//! lines (the same shape as [`JsonlSink`](super::JsonlSink)'s, so they can be sent again) with a
//! count.
//!
//! Every write is synced before it returns: a dead letter is the last place an alert is kept,
//! so it must be as durable as a delivery. A dead letter that cannot be written is the one
//! failure that loses alerts, and the sink reports it as [`SinkError::Lost`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SinkError;

/// An append-only JSON-lines file of undeliverable alerts; see the module docs.
pub struct DeadLetterFile {
    path: PathBuf,
    file: Option<File>,
    line: Vec<u8>,
    written: u64,
}

impl DeadLetterFile {
    /// A dead-letter file at `path`, created (or appended to) on the first write.
    pub fn new(path: impl Into<PathBuf>) -> DeadLetterFile {
        DeadLetterFile {
            path: path.into(),
            file: None,
            line: Vec::with_capacity(4096),
            written: 0,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Documents written since this value was created.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `docs`, one JSON document per line, and syncs the file.
    pub fn write<T: Serialize>(&mut self, docs: &[T]) -> Result<(), SinkError> {
        let lost = |e: std::io::Error| {
            SinkError::Lost(format!(
                "dead-letter file {}: {e}; {} documents not kept",
                self.path.display(),
                docs.len()
            ))
        };
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(lost)?;
            self.file = Some(file);
        }
        self.line.clear();
        for d in docs {
            serde_json::to_writer(&mut self.line, d)
                .map_err(|e| SinkError::Lost(format!("encoding a document: {e}")))?;
            self.line.push(b'\n');
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&self.line)
                .and_then(|()| file.sync_data())
                .map_err(lost)?;
        }
        self.written += docs.len() as u64;
        Ok(())
    }
}
