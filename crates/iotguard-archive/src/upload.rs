//! The uploader: finished archive files from the local spool folder into the bucket, on a
//! thread of its own, each deleted locally only once its object is complete in the bucket.
//!
//! A failed upload is counted, its error kept for the writer to return (so detection reports
//! it), and retried with a doubling wait ([`UploadConfig::retry_first`] up to
//! [`UploadConfig::retry_max`]); the file stays in the spool meanwhile, so no flow is lost while
//! the bucket is unreachable or refuses writes. Files a stopped run left in the spool are
//! queued when the writer opens. Retention deletes the bucket's expired date partitions here
//! too.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::s3::{Bucket, S3Config};
use crate::{Error, Result};

/// Where finished files go and how failures are retried.
#[derive(Clone, Debug)]
pub struct UploadConfig {
    /// The bucket and prefix.
    pub s3: S3Config,
    /// The first wait before retrying after a failure. Default 1 s.
    pub retry_first: Duration,
    /// The longest wait between retries. Default 30 s.
    pub retry_max: Duration,
    /// How long [`crate::ArchiveWriter::finish`] waits for the queue to empty. Default 60 s.
    pub finish_wait: Duration,
    /// Files larger than this go up as multipart uploads. Default [`crate::MULTIPART_BYTES`].
    pub multipart_bytes: u64,
}

impl UploadConfig {
    /// The defaults for a bucket and prefix.
    pub fn new(s3: S3Config) -> UploadConfig {
        UploadConfig {
            s3,
            retry_first: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            finish_wait: Duration::from_secs(60),
            multipart_bytes: crate::MULTIPART_BYTES,
        }
    }
}

/// The uploader's counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct UploadState {
    pub(crate) files: u64,
    pub(crate) flows: u64,
    pub(crate) bytes: u64,
    pub(crate) failures: u64,
    pub(crate) pending_files: u64,
    pub(crate) pending_flows: u64,
    pub(crate) partitions_removed: u64,
    /// The latest failure, until an upload succeeds after it.
    pub(crate) failure: Option<String>,
    /// The first failure not yet returned to the writer's caller.
    pub(crate) unreported: Option<String>,
}

struct Pending {
    path: PathBuf,
    key: String,
    rows: u64,
}

enum Job {
    File(Pending),
    Retain(i64),
    /// Upload what is queued, waiting at most this long, then answer.
    Drain(Duration, Sender<()>),
}

/// The uploading thread and its shared counters.
pub(crate) struct Uploader {
    tx: Option<Sender<Job>>,
    state: Arc<Mutex<UploadState>>,
    handle: Option<JoinHandle<()>>,
    config: UploadConfig,
    root: PathBuf,
}

impl Uploader {
    /// Connects (no request yet) and starts the thread; queues the finished files already in
    /// the spool under `root` (an earlier run's that were not uploaded).
    pub(crate) fn start(config: UploadConfig, root: &Path) -> Result<Uploader> {
        let bucket = Bucket::connect(&config.s3)?;
        let state = Arc::new(Mutex::new(UploadState::default()));
        let (tx, rx) = channel();
        let thread_state = state.clone();
        let retry = (config.retry_first, config.retry_max, config.multipart_bytes);
        let handle = std::thread::Builder::new()
            .name("iotguard-archive-upload".into())
            .spawn(move || run(&bucket, &rx, &thread_state, retry))
            .map_err(|e| Error::io(root, e))?;
        let mut up = Uploader {
            tx: Some(tx),
            state,
            handle: Some(handle),
            config,
            root: root.to_path_buf(),
        };
        let mut left = Vec::new();
        finished_files(root, &mut left)?;
        left.sort();
        for path in left {
            let rows = parquet_rows(&path);
            up.submit(path, rows);
        }
        Ok(up)
    }

    /// Queues a finished file (under the root) holding `rows` flows.
    pub(crate) fn submit(&mut self, path: PathBuf, rows: u64) {
        let rel = path.strip_prefix(&self.root).unwrap_or(&path).to_path_buf();
        let key = self.config.s3.key(&rel);
        {
            let mut s = lock(&self.state);
            s.pending_files += 1;
            s.pending_flows += rows;
        }
        self.send(Job::File(Pending { path, key, rows }));
    }

    /// Asks for the bucket's date partitions before `oldest_kept` to be deleted.
    pub(crate) fn retain(&mut self, oldest_kept: i64) {
        self.send(Job::Retain(oldest_kept));
    }

    /// Waits until the queue is empty or `finish_wait` passed; `Err` names what is left.
    pub(crate) fn drain(&mut self) -> Result<()> {
        let (tx, rx) = channel();
        self.send(Job::Drain(self.config.finish_wait, tx));
        let _ = rx.recv();
        let s = lock(&self.state);
        if s.pending_files == 0 {
            return Ok(());
        }
        Err(Error::S3 {
            url: self.config.s3.url(),
            message: format!(
                "{} file(s) holding {} flows not uploaded yet ({}); they are kept in {} and uploaded by the next run with this archive",
                s.pending_files,
                s.pending_flows,
                s.failure.as_deref().unwrap_or("no answer in time"),
                self.root.display()
            ),
        })
    }

    pub(crate) fn state(&self) -> UploadState {
        lock(&self.state).clone()
    }

    /// The first upload failure not yet returned.
    pub(crate) fn take_unreported(&mut self) -> Option<Error> {
        let message = lock(&self.state).unreported.take()?;
        Some(Error::S3 {
            url: self.config.s3.url(),
            message: format!(
                "{message} (the file is kept in {} and the upload retried)",
                self.root.display()
            ),
        })
    }

    fn send(&mut self, job: Job) {
        if let Some(tx) = &self.tx {
            if tx.send(job).is_err() {
                self.tx = None;
            }
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn lock(state: &Mutex<UploadState>) -> std::sync::MutexGuard<'_, UploadState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The thread: uploads in order; after a failure waits (doubling) before trying again.
fn run(
    bucket: &Bucket,
    rx: &Receiver<Job>,
    state: &Mutex<UploadState>,
    (first, max, multipart_bytes): (Duration, Duration, u64),
) {
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut retain: Option<i64> = None;
    let mut wait = first;
    let mut next_try = Instant::now();
    let mut drains: Vec<(Instant, Sender<()>)> = Vec::new();
    loop {
        // Take every job waiting; block only when there is nothing to retry. A closed channel
        // (the writer is gone) ends the thread: what is left stays in the spool.
        let idle = queue.is_empty() && retain.is_none();
        let job = if idle && drains.is_empty() {
            match rx.recv() {
                Ok(j) => Some(j),
                Err(_) => return,
            }
        } else {
            let until = if idle {
                Instant::now()
            } else {
                next_try.max(Instant::now())
            };
            let until = drains.iter().map(|d| d.0).fold(until, Instant::min);
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        match job {
            Some(Job::File(p)) => {
                queue.push_back(p);
                continue;
            }
            Some(Job::Retain(day)) => {
                retain = Some(retain.map_or(day, |d: i64| d.max(day)));
                continue;
            }
            Some(Job::Drain(within, tx)) => {
                drains.push((Instant::now() + within, tx));
                // A drain tries at once, whatever the backoff.
                next_try = Instant::now();
                continue;
            }
            None => {}
        }
        if Instant::now() >= next_try {
            match work(bucket, &mut queue, &mut retain, state, multipart_bytes) {
                Ok(()) => wait = first,
                Err(()) => {
                    next_try = Instant::now() + wait;
                    wait = (wait * 2).min(max);
                }
            }
        }
        let done = queue.is_empty() && retain.is_none();
        let now = Instant::now();
        drains.retain(|(deadline, tx)| {
            if done || now >= *deadline {
                let _ = tx.send(());
                false
            } else {
                true
            }
        });
    }
}

/// Uploads the queue in order, then applies retention; stops at the first failure.
fn work(
    bucket: &Bucket,
    queue: &mut VecDeque<Pending>,
    retain: &mut Option<i64>,
    state: &Mutex<UploadState>,
    multipart_bytes: u64,
) -> std::result::Result<(), ()> {
    let fail = |e: Error| {
        let mut s = lock(state);
        s.failures += 1;
        s.failure = Some(e.to_string());
        let message = match e {
            Error::S3 { message, .. } => message,
            other => other.to_string(),
        };
        s.unreported.get_or_insert(message);
    };
    while let Some(p) = queue.front() {
        if !p.path.exists() {
            // Retention removed its (expired) date partition from the spool.
            let mut s = lock(state);
            s.pending_files = s.pending_files.saturating_sub(1);
            s.pending_flows = s.pending_flows.saturating_sub(p.rows);
            drop(s);
            queue.pop_front();
            continue;
        }
        match bucket.upload(&p.path, &p.key, multipart_bytes) {
            Ok(bytes) => {
                // The object is complete in the bucket: the local copy can go.
                let _ = std::fs::remove_file(&p.path);
                let mut s = lock(state);
                s.files += 1;
                s.flows += p.rows;
                s.bytes += bytes;
                s.pending_files = s.pending_files.saturating_sub(1);
                s.pending_flows = s.pending_flows.saturating_sub(p.rows);
                s.failure = None;
                drop(s);
                queue.pop_front();
            }
            Err(e) => {
                fail(e);
                return Err(());
            }
        }
    }
    if let Some(day) = *retain {
        match bucket.remove_days_before(day) {
            Ok(n) => {
                lock(state).partitions_removed += n;
                *retain = None;
            }
            Err(e) => {
                fail(e);
                return Err(());
            }
        }
    }
    Ok(())
}

/// Finished archive files (`….parquet`, not hidden) under `dir`.
fn finished_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            finished_files(&path, out)?;
        } else if name.ends_with(".parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// The row count in a Parquet file's footer (0 when it cannot be read: the upload says why).
fn parquet_rows(path: &Path) -> u64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    std::fs::File::open(path)
        .ok()
        .and_then(|f| SerializedFileReader::new(f).ok())
        .map_or(0, |r| {
            u64::try_from(r.metadata().file_metadata().num_rows()).unwrap_or(0)
        })
}
