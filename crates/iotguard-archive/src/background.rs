//! [`BackgroundArchive`]: an [`ArchiveWriter`] on a thread of its own, so encoding and
//! compressing Parquet does not slow the detection thread. Flows are handed over in batches
//! through a bounded channel: when the writer falls behind, the caller waits (backpressure),
//! nothing is dropped. Failures come back on a later call, each counted as they are in the
//! writer; a writer thread that dies has every flow it did not account for counted as failed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use iotguard_flow::FlowRecord;

use crate::writer::{ArchiveConfig, ArchiveCounts, ArchiveRow, ArchiveWriter};
use crate::{Error, Result};

/// Flows per hand-over.
const BATCH: usize = 1024;
/// Batches in flight before the caller waits.
const IN_FLIGHT: usize = 8;

/// One flow's detection results, owned.
struct OwnedRow {
    score: f32,
    threshold: f32,
    is_alert: bool,
    alert_id: Option<String>,
    model_id: Arc<str>,
    model_version: Arc<str>,
    shadow_score: Option<f32>,
}

enum Msg {
    Rows(Vec<(FlowRecord, OwnedRow)>),
    Roll,
}

#[derive(Default)]
struct Shared {
    counts: ArchiveCounts,
    failure: Option<String>,
    /// The first failure not yet returned to the caller.
    pending: Option<Error>,
}

/// The archive written from a thread of its own; the same calls as [`ArchiveWriter`].
pub struct BackgroundArchive {
    tx: Option<SyncSender<Msg>>,
    buf: Vec<(FlowRecord, OwnedRow)>,
    shared: Arc<Mutex<Shared>>,
    handle: Option<JoinHandle<()>>,
    root: PathBuf,
    /// Flows handed to the thread.
    sent: u64,
    model: Option<(Arc<str>, Arc<str>)>,
    stale_temp_removed: u64,
}

impl BackgroundArchive {
    /// Opens the archive (on the calling thread, so an archive that cannot be opened fails
    /// here) and starts its writer thread.
    pub fn open(config: ArchiveConfig) -> Result<BackgroundArchive> {
        let root = config.root.clone();
        let mut writer = ArchiveWriter::open(config)?;
        let stale_temp_removed = writer.counts().stale_temp_removed;
        let shared = Arc::new(Mutex::new(Shared {
            counts: writer.counts(),
            ..Shared::default()
        }));
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("iotguard-archive".into())
            .spawn(move || {
                let publish = |writer: &ArchiveWriter, error: Option<Error>| {
                    let mut s = thread_shared.lock().unwrap_or_else(|e| e.into_inner());
                    s.counts = writer.counts();
                    s.failure = writer.failure();
                    if s.pending.is_none() {
                        s.pending = error;
                    }
                };
                for msg in rx {
                    let mut first = None;
                    match msg {
                        Msg::Rows(rows) => {
                            for (rec, r) in &rows {
                                let row = ArchiveRow {
                                    score: r.score,
                                    threshold: r.threshold,
                                    is_alert: r.is_alert,
                                    alert_id: r.alert_id.as_deref(),
                                    model_id: &r.model_id,
                                    model_version: &r.model_version,
                                    shadow_score: r.shadow_score,
                                };
                                if let Err(e) = writer.append(rec, &row) {
                                    first.get_or_insert(e);
                                }
                            }
                        }
                        Msg::Roll => {
                            if let Err(e) = writer.roll_if_due() {
                                first = Some(e);
                            }
                        }
                    }
                    publish(&writer, first);
                }
                // The final error supersedes a pending upload failure: it says what is still
                // in the spool, which the earlier failure does not.
                let result = writer.finish().err();
                let mut s = thread_shared.lock().unwrap_or_else(|e| e.into_inner());
                s.counts = writer.counts();
                s.failure = writer.failure();
                if let (None | Some(Error::S3 { .. }), Some(e)) = (&s.pending, result) {
                    s.pending = Some(e);
                }
            })
            .map_err(|e| Error::io(&root, e))?;
        Ok(BackgroundArchive {
            tx: Some(tx),
            buf: Vec::with_capacity(BATCH),
            shared,
            handle: Some(handle),
            root,
            sent: 0,
            model: None,
            stale_temp_removed,
        })
    }

    /// Returns the archive's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Temporary files of an interrupted writer removed when the archive was opened.
    pub fn stale_temp_removed(&self) -> u64 {
        self.stale_temp_removed
    }

    /// Hands one scored flow to the writer thread. Returns a failure the thread met since the
    /// last call that returned one (its flows are counted in [`ArchiveCounts::flows_failed`]).
    pub fn append(&mut self, rec: &FlowRecord, row: &ArchiveRow<'_>) -> Result<()> {
        let model = match &self.model {
            Some((id, version)) if **id == *row.model_id && **version == *row.model_version => {
                (id.clone(), version.clone())
            }
            _ => {
                let m: (Arc<str>, Arc<str>) = (row.model_id.into(), row.model_version.into());
                self.model = Some(m.clone());
                m
            }
        };
        self.buf.push((
            rec.clone(),
            OwnedRow {
                score: row.score,
                threshold: row.threshold,
                is_alert: row.is_alert,
                alert_id: row.alert_id.map(str::to_owned),
                model_id: model.0,
                model_version: model.1,
                shadow_score: row.shadow_score,
            },
        ));
        if self.buf.len() >= BATCH {
            self.send_buf();
            return self.take_pending();
        }
        Ok(())
    }

    /// Hands over what is buffered and asks the thread to finish files open too long.
    pub fn roll_if_due(&mut self) -> Result<()> {
        self.send_buf();
        self.send(Msg::Roll);
        self.take_pending()
    }

    /// Hands over the rest, waits for the thread to finish every file, and returns the final
    /// counters (or the first failure not yet returned).
    pub fn finish(&mut self) -> Result<ArchiveCounts> {
        self.send_buf();
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
                s.failure = Some("the archive writer thread failed".into());
                s.pending.get_or_insert(Error::io(
                    &self.root,
                    std::io::Error::other("the archive writer thread failed"),
                ));
            }
        }
        // Flows the thread never accounted for (it died) are failed, never silently gone.
        {
            let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            let accounted = s.counts.flows_archived + s.counts.flows_failed;
            if accounted < self.sent {
                s.counts.flows_failed += self.sent - accounted;
                s.counts.errors += 1;
            }
        }
        self.take_pending()?;
        Ok(self.counts())
    }

    /// Returns the counters as the thread last published them.
    pub fn counts(&self) -> ArchiveCounts {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).counts
    }

    /// Returns the latest failure, until a file is finished after it.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failure
            .clone()
    }

    fn send_buf(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let rows = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        self.sent += rows.len() as u64;
        self.send(Msg::Rows(rows));
    }

    fn send(&mut self, msg: Msg) {
        // A closed channel means the thread died: `finish` counts what it did not account for.
        if let Some(tx) = &self.tx {
            if tx.send(msg).is_err() {
                self.tx = None;
            }
        }
    }

    fn take_pending(&mut self) -> Result<()> {
        match self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundArchive {
    /// Finishes the open files, as [`ArchiveWriter`]'s drop does.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl std::fmt::Debug for BackgroundArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundArchive")
            .field("root", &self.root)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}
