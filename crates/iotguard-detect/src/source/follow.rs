//! [`FollowSource`]: a live Zeek log folder, followed as Zeek writes and rotates it.
//!
//! Zeek appends to `conn.log`, and at each rotation renames it (`conn.2026-11-21-10-00-00.log`)
//! and starts a new `conn.log`. The source keeps the open file and reads what is appended;
//! when the name `conn.log` points to another file (its device and inode changed), it reads the
//! old file to its end, then opens the new one from its start. A file that shrinks (rotation by
//! copy and truncate) is read again from its start.
//!
//! **Checkpoint.** After every sink has flushed, [`Source::commit`] saves (atomically: a
//! temporary file renamed over the old one) the file's identity and the number of the last line
//! processed. On restart, the file with that identity is found in the folder (under its name
//! or a rotated one): its lines up to the saved one are read again for the header but not
//! passed on, the rest of it is, then any files rotated after it (oldest first), then
//! `conn.log`. No flow is lost or passed on twice across a clean stop and restart; after a
//! crash, flows processed after the last commit are passed on again (at least once). If the
//! checkpointed file is gone, a notice says so and `conn.log` is read from its start.
//!
//! **Same inode, other content.** The checkpoint also keeps the byte offset after the last
//! line processed and a fingerprint of the file's first bytes ([`super::checkpoint`]). A file
//! found by its identity that is shorter than that offset (truncated while the detector was
//! down) or starts with other bytes (a new `conn.log` on the inode of a rotated file that was
//! compressed away, or a log rewritten in place) is read from its start, with a notice and the
//! `reread_from_start` counter. While the live log is followed, the same checks run at every
//! poll, so a truncation followed by growth past the old offset is not mistaken for appended
//! lines. A checkpoint that cannot be written is reported and counted; the follower goes on.
//!
//! The format is Zeek TSV or Zeek JSON, told by the file's first byte unless given. Linux and
//! other Unix systems only (file identity is the device and inode numbers).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotguard_flow::{FlowReader, Format, ReadOptions};

use super::checkpoint::HEAD_BYTES;
pub use super::checkpoint::{FilePosition, Fingerprint, FollowMetrics, Mismatch};
use super::{Feeder, Source, SourceEvent, Threaded};
use crate::error::{Error, Result};

/// What to follow and where to keep the position.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// The folder Zeek writes to.
    pub dir: PathBuf,
    /// The live log's name. Default `conn.log`.
    pub file_name: String,
    /// Where the position is saved after every flush (none: start at the live log's start).
    pub checkpoint: Option<PathBuf>,
    /// How often to look for new lines and rotations. Default 200 ms.
    pub poll: Duration,
    /// Reader options (`format` unset: Zeek TSV or JSON by the first byte).
    pub options: ReadOptions,
}

impl FollowConfig {
    /// Follows `dir/conn.log` with no checkpoint.
    pub fn new(dir: impl Into<PathBuf>) -> FollowConfig {
        FollowConfig {
            dir: dir.into(),
            file_name: "conn.log".to_string(),
            checkpoint: None,
            poll: Duration::from_millis(200),
            options: ReadOptions::default(),
        }
    }
}

/// Follows a live Zeek log folder; see the module docs.
pub struct FollowSource {
    name: String,
    inner: Threaded<FilePosition>,
    checkpoint: Option<PathBuf>,
    saved: Option<FilePosition>,
    stop: Arc<AtomicBool>,
    metrics: Arc<FollowMetrics>,
    /// Told before the next event (a checkpoint write that failed, or works again).
    notices: VecDeque<String>,
    /// Whether the last checkpoint write failed.
    failing: bool,
}

impl FollowSource {
    /// Starts following (resuming from the checkpoint, if one was saved).
    pub fn start(config: FollowConfig) -> Result<FollowSource> {
        if !config.dir.is_dir() {
            return Err(Error::Config(format!(
                "{}: not a folder to follow",
                config.dir.display()
            )));
        }
        let resume = match &config.checkpoint {
            Some(p) => FilePosition::load(p)?,
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(FollowMetrics::default());
        let name = config.dir.join(&config.file_name).display().to_string();
        let checkpoint = config.checkpoint.clone();
        let thread_stop = stop.clone();
        let thread_metrics = metrics.clone();
        let inner = Threaded::spawn("iotguard-follow", move |feed| {
            Follower {
                config,
                stop: thread_stop,
                metrics: thread_metrics,
            }
            .run(resume, feed);
        })?;
        Ok(FollowSource {
            name,
            inner,
            checkpoint,
            saved: None,
            stop,
            metrics,
            notices: VecDeque::new(),
            failing: false,
        })
    }

    /// Returns the position after the last event returned.
    pub fn position(&self) -> Option<&FilePosition> {
        self.inner.position.as_ref()
    }

    /// Returns the follower's counters (attach them to the pipeline's stats with
    /// [`crate::Stats::attach_source`]).
    pub fn metrics(&self) -> Arc<FollowMetrics> {
        self.metrics.clone()
    }
}

impl Source for FollowSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> Result<SourceEvent> {
        if let Some(text) = self.notices.pop_front() {
            return Ok(SourceEvent::Notice(text));
        }
        Ok(self.inner.next_event())
    }

    /// Saves the position. A write that fails (a full disk) does not stop the follower: it
    /// is counted, told once until a write works again, and retried at the next flush; a
    /// restart before then resumes from the last position saved (flows after it are passed on
    /// again, never lost).
    fn commit(&mut self) -> Result<()> {
        if let (Some(path), Some(pos)) = (&self.checkpoint, &self.inner.position) {
            if self.saved.as_ref() != Some(pos) {
                match pos.save(path) {
                    Ok(()) => {
                        self.saved = Some(pos.clone());
                        if self.failing {
                            self.failing = false;
                            self.notices
                                .push_back(format!("checkpoint {} written again", path.display()));
                        }
                    }
                    Err(e) => {
                        self.metrics
                            .checkpoint_failures
                            .fetch_add(1, Ordering::Relaxed);
                        if !self.failing {
                            self.failing = true;
                            self.notices.push_back(format!(
                                "cannot write the checkpoint: {e}; following goes on, the \
                                 position is saved again at the next flush"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for FollowSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// The reader thread's state.
struct Follower {
    config: FollowConfig,
    stop: Arc<AtomicBool>,
    metrics: Arc<FollowMetrics>,
}

impl Follower {
    fn live_path(&self) -> PathBuf {
        self.config.dir.join(&self.config.file_name)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(&self, resume: Option<FilePosition>, feed: &Arc<Feeder<FilePosition>>) {
        if let Some(pos) = resume {
            if !self.resume(&pos, feed) {
                return;
            }
        }
        while !self.stopped() {
            // Wait for the live log to exist.
            let file = match File::open(self.live_path()) {
                Ok(f) => f,
                Err(_) => {
                    if !feed.flush() {
                        return;
                    }
                    std::thread::sleep(self.config.poll);
                    continue;
                }
            };
            if !self.read_file(&self.live_path(), file, true, 0, feed) {
                return;
            }
        }
    }

    /// Reads the checkpointed file past the saved line, then files rotated after it; returns
    /// false if the pipeline is gone.
    fn resume(&self, pos: &FilePosition, feed: &Arc<Feeder<FilePosition>>) -> bool {
        let live = self.live_path();
        let mut siblings: Vec<(std::time::SystemTime, PathBuf, (u64, u64))> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.config.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let stem = self
                    .config
                    .file_name
                    .strip_suffix(".log")
                    .unwrap_or(&self.config.file_name);
                if !name.starts_with(&format!("{stem}.")) || !name.ends_with(".log") {
                    continue;
                }
                if let Ok(meta) = entry.metadata() {
                    let mtime = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                    siblings.push((mtime, path, identity(&meta)));
                }
            }
        }
        siblings.sort();
        let Some(index) = siblings
            .iter()
            .position(|(_, _, id)| *id == (pos.dev, pos.ino))
        else {
            return feed.push(
                SourceEvent::Notice(format!(
                    "checkpointed file {} (inode {}) is gone; reading {} from its start \
                     (flows after line {} of the old file may be lost)",
                    pos.path,
                    pos.ino,
                    live.display(),
                    pos.line
                )),
                None,
            );
        };
        let (_, path, _) = &siblings[index];
        match pos.check(path) {
            Ok(Ok(())) => {}
            Ok(Err(mismatch)) => {
                // Not the file the position was taken in (or no longer its lines): nothing of
                // it was passed on, so all of it is read.
                self.metrics
                    .reread_from_start
                    .fetch_add(1, Ordering::Relaxed);
                let (what, from) = if *path == live {
                    (path.display().to_string(), "its start".to_string())
                } else {
                    (
                        path.display().to_string(),
                        format!("{}'s start", live.display()),
                    )
                };
                return feed.push(
                    SourceEvent::Notice(format!(
                        "checkpointed file {what} (inode {}) no longer holds the {} lines \
                         processed: {mismatch}; reading from {from}",
                        pos.ino, pos.line
                    )),
                    None,
                );
            }
            // Gone between listing and checking: like a missing file.
            Err(_) => {}
        }
        if *path == live {
            // Still the live log: follow it from the saved line.
            return match File::open(path) {
                Ok(f) => self.read_file(path, f, true, pos.line, feed),
                Err(_) => true,
            };
        }
        // A rotated file: finish it, then every file rotated after it.
        let mut skip = pos.line;
        for (_, path, _) in &siblings[index..] {
            if *path == live {
                continue;
            }
            if let Ok(f) = File::open(path) {
                if !self.read_file(path, f, false, skip, feed) {
                    return false;
                }
            }
            skip = 0;
        }
        true
    }

    /// Reads one file (following it while it is the live log), passing on events after line
    /// `skip`; returns false if the pipeline is gone.
    fn read_file(
        &self,
        path: &Path,
        file: File,
        live: bool,
        skip: u64,
        feed: &Arc<Feeder<FilePosition>>,
    ) -> bool {
        let Ok(meta) = file.metadata() else {
            return true;
        };
        let (dev, ino) = identity(&meta);
        let path_text = path.display().to_string();
        let shared = Arc::new(Mutex::new(TailShared::default()));
        let mut tail = Tail {
            file,
            live_path: self.live_path(),
            id: (dev, ino),
            pos: 0,
            live,
            stop: self.stop.clone(),
            poll: self.config.poll,
            done: false,
            feed: feed.clone(),
            shared: shared.clone(),
            rotated: false,
            scratch: Vec::new(),
        };
        let format = match self.config.options.format {
            Some(f) => f,
            None => match tail.first_byte() {
                Some(b'{') => Format::ZeekJson,
                Some(_) => Format::ZeekTsv,
                None => return !self.stopped(),
            },
        };
        let mut reader = FlowReader::with_format(
            path_text.as_str(),
            Box::new(BufReader::with_capacity(1 << 16, tail)),
            format,
            &self.config.options,
        );
        let mut head = Fingerprint::of(&[]);
        loop {
            let Some(item) = reader.next() else {
                break;
            };
            if self.stopped() {
                // A line cut short by the stop is not passed on: it is read again on restart.
                return false;
            }
            let line = reader.line_no();
            if line <= skip {
                continue;
            }
            let event = match item {
                Ok(rec) => SourceEvent::Record(Box::new(rec)),
                Err(e) => SourceEvent::Rejected(Box::new(e)),
            };
            let offset = reader.byte_offset();
            let head_len = offset.min(HEAD_BYTES as u64);
            if head.len != head_len {
                let shared = lock(&shared);
                head = Fingerprint::of(&shared.head[..(head_len as usize).min(shared.head.len())]);
            }
            let pos = FilePosition {
                dev,
                ino,
                path: path_text.clone(),
                line,
                offset: Some(offset),
                head: Some(head),
            };
            if !feed.push(event, Some(pos)) {
                return false;
            }
        }
        if self.stopped() {
            return false;
        }
        if let Some(mismatch) = lock(&shared).truncated.take() {
            self.metrics
                .reread_from_start
                .fetch_add(1, Ordering::Relaxed);
            let text = format!(
                "{path_text} changed in place after {} lines: {mismatch}; reading it again \
                 from its start (lines written and truncated away between two polls are lost)",
                reader.line_no()
            );
            return feed.push(SourceEvent::Notice(text), None) && feed.flush();
        }
        let done = if live {
            format!("{path_text} rotated; following the new file")
        } else {
            format!("{path_text}: read to its end")
        };
        feed.push(SourceEvent::Notice(done), None) && feed.flush()
    }
}

/// A file read as it grows: at its end it waits for more, until the live name points to
/// another file (rotation), the file shrinks (truncation) or the source stops.
struct Tail {
    file: File,
    live_path: PathBuf,
    id: (u64, u64),
    pos: u64,
    live: bool,
    stop: Arc<AtomicBool>,
    poll: Duration,
    done: bool,
    /// Sent what it holds before each wait, so flows are not held back while Zeek is quiet.
    feed: Arc<Feeder<FilePosition>>,
    /// What the reading side needs to know: the first bytes and why the file ended.
    shared: Arc<Mutex<TailShared>>,
    /// The live name was seen pointing to another file: read this one to its end.
    rotated: bool,
    /// The file's first bytes as they are now, compared with those read.
    scratch: Vec<u8>,
}

/// What [`Tail`] tells the thread reading through it.
#[derive(Default)]
struct TailShared {
    /// The file's first bytes read (up to [`HEAD_BYTES`]): its fingerprint, and what every
    /// poll compares the file's start with.
    head: Vec<u8>,
    /// Set when the live file was found truncated or rewritten in place: it ended there.
    truncated: Option<Mismatch>,
}

fn lock(shared: &Mutex<TailShared>) -> std::sync::MutexGuard<'_, TailShared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a poll found about the live log.
enum Change {
    /// The live name points to another file: rotation by rename.
    Rotated,
    /// The same file no longer holds what was read: truncated or rewritten in place.
    Truncated(Mismatch),
}

impl Tail {
    /// Waits for the file's first byte (without consuming it); `None` if stopped or rotated
    /// before any byte was written.
    fn first_byte(&mut self) -> Option<u8> {
        use std::io::{Seek, SeekFrom};
        let mut b = [0u8; 1];
        loop {
            match self.file.read(&mut b) {
                Ok(1) => {
                    self.file.seek(SeekFrom::Start(0)).ok()?;
                    return Some(b[0]);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            if !self.live || self.stop.load(Ordering::Relaxed) || self.change().is_some() {
                return None;
            }
            self.feed.flush();
            std::thread::sleep(self.poll);
        }
    }

    /// Looks at the live log: rotated away, truncated (shorter than what was read) or
    /// rewritten (its first bytes are not those read; this catches a truncation followed by
    /// growth past the old length between two polls).
    fn change(&mut self) -> Option<Change> {
        // Renamed away and no new file yet: wait for it.
        let meta = std::fs::metadata(&self.live_path).ok()?;
        if identity(&meta) != self.id {
            return Some(Change::Rotated);
        }
        if meta.len() < self.pos {
            return Some(Change::Truncated(Mismatch::Shorter {
                len: meta.len(),
                offset: self.pos,
            }));
        }
        let shared = lock(&self.shared);
        self.scratch.resize(shared.head.len(), 0);
        match self.file.read_exact_at(&mut self.scratch, 0) {
            Ok(()) if self.scratch == shared.head => None,
            _ => Some(Change::Truncated(Mismatch::OtherContent)),
        }
    }

    /// Counts bytes read and keeps the file's first ones.
    fn took(&mut self, bytes: &[u8]) {
        if self.pos < HEAD_BYTES as u64 {
            let want = (HEAD_BYTES - self.pos as usize).min(bytes.len());
            lock(&self.shared).head.extend_from_slice(&bytes[..want]);
        }
        self.pos += bytes.len() as u64;
    }
}

impl Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done {
                return Ok(0);
            }
            // Before every read of the live log (one per 64 KiB, or one per poll when idle):
            // a truncation followed by growth past the old end would otherwise be read on from
            // the old offset, in the middle of other content.
            if self.live && !self.rotated {
                match self.change() {
                    Some(Change::Truncated(mismatch)) => {
                        // Nothing past the old end belongs to what was read: end here, and let
                        // the file be read again from its start.
                        lock(&self.shared).truncated = Some(mismatch);
                        self.done = true;
                        return Ok(0);
                    }
                    // Read what was written before the rotation, then end this file.
                    Some(Change::Rotated) => self.rotated = true,
                    None => {}
                }
            }
            let n = self.file.read(buf)?;
            if n > 0 {
                self.took(&buf[..n]);
                return Ok(n);
            }
            if !self.live || self.rotated {
                self.done = true;
                return Ok(0);
            }
            if self.stop.load(Ordering::Relaxed) {
                self.done = true;
                return Err(io::Error::other("stopped"));
            }
            if !self.feed.flush() {
                // The pipeline is gone: end like a stop.
                self.done = true;
                return Err(io::Error::other("stopped"));
            }
            std::thread::sleep(self.poll);
        }
    }
}
