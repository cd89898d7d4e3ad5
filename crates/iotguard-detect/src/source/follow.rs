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
//! The format is Zeek TSV or Zeek JSON, told by the file's first byte unless given. Linux and
//! other Unix systems only (file identity is the device and inode numbers).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iotguard_flow::{FlowReader, Format, ReadOptions};
use serde::{Deserialize, Serialize};

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

/// A position in a followed log: the file's identity and the last line processed.
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
}

/// Follows a live Zeek log folder; see the module docs.
pub struct FollowSource {
    name: String,
    inner: Threaded<FilePosition>,
    checkpoint: Option<PathBuf>,
    saved: Option<FilePosition>,
    stop: Arc<AtomicBool>,
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
        let name = config.dir.join(&config.file_name).display().to_string();
        let checkpoint = config.checkpoint.clone();
        let thread_stop = stop.clone();
        let inner = Threaded::spawn("iotguard-follow", move |feed| {
            Follower {
                config,
                stop: thread_stop,
            }
            .run(resume, feed);
        })?;
        Ok(FollowSource {
            name,
            inner,
            checkpoint,
            saved: None,
            stop,
        })
    }

    /// Returns the position after the last event returned.
    pub fn position(&self) -> Option<&FilePosition> {
        self.inner.position.as_ref()
    }
}

impl Source for FollowSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> Result<SourceEvent> {
        Ok(self.inner.next_event())
    }

    fn commit(&mut self) -> Result<()> {
        if let (Some(path), Some(pos)) = (&self.checkpoint, &self.inner.position) {
            if self.saved.as_ref() != Some(pos) {
                pos.save(path)?;
                self.saved = Some(pos.clone());
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
            let pos = FilePosition {
                dev,
                ino,
                path: path_text.clone(),
                line,
            };
            if !feed.push(event, Some(pos)) {
                return false;
            }
        }
        if self.stopped() {
            return false;
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
            if !self.live || self.stop.load(Ordering::Relaxed) || self.rotated() {
                return None;
            }
            self.feed.flush();
            std::thread::sleep(self.poll);
        }
    }

    fn rotated(&self) -> bool {
        match std::fs::metadata(&self.live_path) {
            Ok(m) => identity(&m) != self.id || m.len() < self.pos,
            // Renamed away and no new file yet: wait for it.
            Err(_) => false,
        }
    }
}

impl Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done {
                return Ok(0);
            }
            let n = self.file.read(buf)?;
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            if !self.live {
                self.done = true;
                return Ok(0);
            }
            if self.stop.load(Ordering::Relaxed) {
                self.done = true;
                return Err(io::Error::other("stopped"));
            }
            if self.rotated() {
                // Read what was written before the rotation, then end this file.
                let n = self.file.read(buf)?;
                self.pos += n as u64;
                if n == 0 {
                    self.done = true;
                }
                return Ok(n);
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
