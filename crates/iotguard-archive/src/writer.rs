//! [`ArchiveWriter`]: scored flows into partitioned, rolled, atomically renamed Parquet files.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, StringBuilder, StringDictionaryBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use iotguard_flow::FlowRecord;
use iotguard_runtime::parquet::{writer_properties, FlowColumns, WriteOptions};
use parquet::arrow::ArrowWriter;

use crate::partition::{parse_date_dir, partition_of, Partition};
use crate::schema::archive_schema;
use crate::upload::{UploadConfig, Uploader};
use crate::{Error, Result};

/// Hour partitions with a file open at once.
const MAX_OPEN: usize = 4;

/// Where and how the archive is written.
#[derive(Clone, Debug)]
pub struct ArchiveConfig {
    /// The archive's root folder (created if missing).
    pub root: PathBuf,
    /// A file is finished once its encoded size reaches this (checked per record batch).
    /// Default 128 MiB.
    pub max_file_bytes: u64,
    /// A file is finished once it has been open this long (wall clock), checked on every write
    /// and [`ArchiveWriter::roll_if_due`]. Default 5 minutes.
    pub max_file_age: Duration,
    /// Date partitions older than the latest archived flow's date minus this many days are
    /// removed. `None` (the default): keep everything.
    pub retention_days: Option<u32>,
    /// Rows per record batch (at least 1). Default 8192.
    pub batch_rows: usize,
    /// Upload finished files to this bucket and prefix, `root` being the local spool (see the
    /// crate docs). `None` (the default): the archive is the local folder.
    pub upload: Option<UploadConfig>,
}

impl ArchiveConfig {
    /// The defaults for a root folder.
    pub fn new(root: impl Into<PathBuf>) -> ArchiveConfig {
        ArchiveConfig {
            root: root.into(),
            max_file_bytes: 128 << 20,
            max_file_age: Duration::from_secs(300),
            retention_days: None,
            batch_rows: 8192,
            upload: None,
        }
    }
}

/// What detection said of one flow.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveRow<'a> {
    /// The model's score.
    pub score: f32,
    /// The threshold it was compared with.
    pub threshold: f32,
    /// Whether the flow alerted.
    pub is_alert: bool,
    /// The alert (incident) the flow joined, if any.
    pub alert_id: Option<&'a str>,
    /// The model's id (content fingerprint).
    pub model_id: &'a str,
    /// The model's version.
    pub model_version: &'a str,
    /// The shadow model's score, when one ran beside the model.
    pub shadow_score: Option<f32>,
}

/// The writer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveCounts {
    /// Flows in finished (renamed) files.
    pub flows_archived: u64,
    /// Flows that could not be archived (their file failed); each failure was returned.
    pub flows_failed: u64,
    /// Files finished and renamed into place.
    pub files: u64,
    /// Write failures.
    pub errors: u64,
    /// Temporary files of an earlier, interrupted writer removed at open.
    pub stale_temp_removed: u64,
    /// Date partitions removed by retention (locally, and in the bucket when uploading).
    pub partitions_removed: u64,
    /// Files uploaded whole to the bucket (and removed from the spool).
    pub files_uploaded: u64,
    /// Flows in those files.
    pub flows_uploaded: u64,
    /// Bytes in those files.
    pub bytes_uploaded: u64,
    /// Failed upload attempts (each retried; no flow is lost by one).
    pub upload_failures: u64,
    /// Finished files waiting in the spool for their upload.
    pub files_pending_upload: u64,
    /// Flows in those files.
    pub flows_pending_upload: u64,
}

/// Writes scored flows into the archive; see the crate docs.
pub struct ArchiveWriter {
    config: ArchiveConfig,
    run: String,
    seq: u64,
    open: BTreeMap<Partition, OpenFile>,
    counts: ArchiveCounts,
    latest_day: Option<i64>,
    retained_through: Option<i64>,
    /// The latest failure, cleared when a file is finished after it.
    failure: Option<String>,
    uploader: Option<Uploader>,
}

struct OpenFile {
    tmp: PathBuf,
    dest: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    cols: Columns,
    rows: u64,
    opened: Instant,
}

struct Columns {
    flow: FlowColumns,
    score: Float32Builder,
    threshold: Float32Builder,
    is_alert: BooleanBuilder,
    alert_id: StringBuilder,
    model_id: StringDictionaryBuilder<Int32Type>,
    model_version: StringDictionaryBuilder<Int32Type>,
    shadow_score: Float32Builder,
}

impl ArchiveWriter {
    /// Opens (creating) the archive at `config.root` and removes temporary files an earlier
    /// writer left there when it was killed.
    pub fn open(config: ArchiveConfig) -> Result<ArchiveWriter> {
        fs::create_dir_all(&config.root).map_err(|e| Error::io(&config.root, e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut w = ArchiveWriter {
            run: format!("{nanos:x}-{}", std::process::id()),
            config,
            seq: 0,
            open: BTreeMap::new(),
            counts: ArchiveCounts::default(),
            latest_day: None,
            retained_through: None,
            failure: None,
            uploader: None,
        };
        w.counts.stale_temp_removed = remove_temp_files(&w.config.root)?;
        if let Some(upload) = w.config.upload.clone() {
            w.uploader = Some(Uploader::start(upload, &w.config.root)?);
        }
        Ok(w)
    }

    /// Returns the counters.
    pub fn counts(&self) -> ArchiveCounts {
        let mut c = self.counts;
        if let Some(up) = &self.uploader {
            let s = up.state();
            c.files_uploaded = s.files;
            c.flows_uploaded = s.flows;
            c.bytes_uploaded = s.bytes;
            c.upload_failures = s.failures;
            c.files_pending_upload = s.pending_files;
            c.flows_pending_upload = s.pending_flows;
            c.partitions_removed += s.partitions_removed;
        }
        c
    }

    /// Returns the latest failure, until a file is finished (or, uploading, a file uploaded)
    /// after it.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .clone()
            .or_else(|| self.uploader.as_ref().and_then(|u| u.state().failure))
    }

    /// Returns the archive's root folder.
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// Archives one scored flow. On an error the open file is abandoned (its temporary file
    /// removed) and its flows, this one included, are counted in
    /// [`ArchiveCounts::flows_failed`]; the next call starts a new file.
    ///
    /// An [`Error::S3`] is an upload that failed since the last call that returned one: its
    /// file is kept and the upload retried, nothing is lost.
    pub fn append(&mut self, rec: &FlowRecord, row: &ArchiveRow<'_>) -> Result<()> {
        let result = self.append_inner(rec, row);
        self.note(result)
    }

    fn note(&mut self, result: Result<()>) -> Result<()> {
        if let Err(e) = &result {
            self.failure = Some(e.to_string());
            return result;
        }
        match self.uploader.as_mut().and_then(Uploader::take_unreported) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn append_inner(&mut self, rec: &FlowRecord, row: &ArchiveRow<'_>) -> Result<()> {
        let partition = partition_of(rec.ts);
        let day = partition.day();
        if self.latest_day.is_none_or(|d| day > d) {
            self.latest_day = Some(day);
        }
        let aged = self
            .open
            .get(&partition)
            .is_some_and(|f| f.opened.elapsed() >= self.config.max_file_age);
        if aged {
            if let Err(e) = self.finish_open(partition) {
                self.fail(1);
                return Err(e);
            }
        }
        if !self.open.contains_key(&partition) {
            // Flows near an hour's end arrive late (Zeek writes a flow when it ends): a few
            // partitions stay open, the oldest is finished when one more is needed.
            if self.open.len() >= MAX_OPEN {
                let oldest = *self.open.keys().next().unwrap_or(&partition);
                if let Err(e) = self.finish_open(oldest) {
                    self.fail(1);
                    return Err(e);
                }
            }
            if let Err(e) = self.apply_retention() {
                self.fail(1);
                return Err(e);
            }
            match self.start(partition) {
                Ok(f) => {
                    self.open.insert(partition, f);
                }
                Err(e) => {
                    self.fail(1);
                    return Err(e);
                }
            }
        }
        let batch_rows = self.config.batch_rows.max(1);
        let max_bytes = self.config.max_file_bytes;
        let Some(f) = self.open.get_mut(&partition) else {
            return Ok(());
        };
        let result = (|| {
            f.cols
                .append(rec, row)
                .map_err(|e| Error::parquet(&f.tmp, e))?;
            f.rows += 1;
            if f.cols.flow.len() >= batch_rows {
                f.write_batch()?;
                Ok(
                    f.writer.bytes_written() as u64 + f.writer.in_progress_size() as u64
                        >= max_bytes,
                )
            } else {
                Ok(false)
            }
        })();
        match result {
            Ok(true) => self.finish_open(partition),
            Ok(false) => Ok(()),
            Err(e) => {
                self.abandon(partition);
                Err(e)
            }
        }
    }

    /// Finishes the open files that have been open longer than the configured age (call it
    /// when the stream is idle, so files do not stay open without new flows).
    pub fn roll_if_due(&mut self) -> Result<()> {
        let due: Vec<Partition> = self
            .open
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= self.config.max_file_age)
            .map(|(p, _)| *p)
            .collect();
        let result = self.finish_all(due);
        self.note(result)
    }

    /// Finishes every open file (footer, fsync, rename): everything appended so far is
    /// readable. On failures, every file is still tried; the first error is returned.
    /// Uploading, it then waits ([`UploadConfig::finish_wait`] at most) for every finished file
    /// to be in the bucket, and returns an [`Error::S3`] naming what is still in the spool.
    pub fn finish(&mut self) -> Result<ArchiveCounts> {
        let all: Vec<Partition> = self.open.keys().copied().collect();
        let result = self.finish_all(all);
        if let Err(e) = &result {
            self.failure = Some(e.to_string());
        }
        // The upload queue is drained even after a local failure (what was finished still goes
        // to the bucket), and an upload failure not yet returned is not returned here on its
        // own: the drain's error names it with what is still in the spool.
        let drained = match self.uploader.as_mut() {
            Some(up) => {
                let drained = up.drain();
                let _ = up.take_unreported();
                drained
            }
            None => Ok(()),
        };
        result?;
        drained?;
        Ok(self.counts())
    }

    fn finish_all(&mut self, partitions: Vec<Partition>) -> Result<()> {
        let mut first = Ok(());
        for p in partitions {
            if let Err(e) = self.finish_open(p) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    fn fail(&mut self, flows: u64) {
        self.counts.errors += 1;
        self.counts.flows_failed += flows;
    }

    /// Drops an open file after a failure, counting its flows as failed.
    fn abandon(&mut self, partition: Partition) {
        if let Some(f) = self.open.remove(&partition) {
            let _ = fs::remove_file(&f.tmp);
            self.fail(f.rows.max(1));
        }
    }

    fn finish_open(&mut self, partition: Partition) -> Result<()> {
        let Some(f) = self.open.remove(&partition) else {
            return Ok(());
        };
        let rows = f.rows;
        let tmp = f.tmp.clone();
        match f.complete() {
            Ok(dest) => {
                self.counts.flows_archived += rows;
                self.counts.files += 1;
                self.failure = None;
                if let Some(up) = self.uploader.as_mut() {
                    up.submit(dest, rows);
                }
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                self.counts.errors += 1;
                self.counts.flows_failed += rows;
                Err(e)
            }
        }
    }

    fn start(&mut self, partition: Partition) -> Result<OpenFile> {
        let dir = self.config.root.join(partition.rel_dir());
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        self.seq += 1;
        let name = format!("part-{}-{:06}.parquet", self.run, self.seq);
        let tmp = dir.join(format!(".{name}.tmp"));
        let dest = dir.join(name);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props =
            writer_properties(&WriteOptions::default()).map_err(|e| Error::parquet(&tmp, e))?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            archive_schema(),
            Some(props),
        )
        .map_err(|e| Error::parquet(&tmp, e))?;
        Ok(OpenFile {
            tmp,
            dest,
            writer,
            cols: Columns::new(self.config.batch_rows.clamp(1, 64 * 1024)),
            rows: 0,
            opened: Instant::now(),
        })
    }

    /// Removes date partitions older than the retention, once per new latest day.
    fn apply_retention(&mut self) -> Result<()> {
        let (Some(days), Some(latest)) = (self.config.retention_days, self.latest_day) else {
            return Ok(());
        };
        if self.retained_through == Some(latest) {
            return Ok(());
        }
        self.retained_through = Some(latest);
        let oldest_kept = latest - i64::from(days);
        // Files still open in expired days are finished first (their flows were archived, then
        // aged out), so no writer is left pointing into a removed folder.
        let expired: Vec<Partition> = self
            .open
            .keys()
            .filter(|p| p.day() < oldest_kept)
            .copied()
            .collect();
        self.finish_all(expired)?;
        if let Some(up) = self.uploader.as_mut() {
            up.retain(oldest_kept);
        }
        let root = &self.config.root;
        let entries = fs::read_dir(root).map_err(|e| Error::io(root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(root, e))?;
            let name = entry.file_name();
            let Some(day) = name.to_str().and_then(parse_date_dir) else {
                continue;
            };
            if day < oldest_kept {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
                self.counts.partitions_removed += 1;
            }
        }
        Ok(())
    }
}

impl Drop for ArchiveWriter {
    /// Finishes the open file, so a shutdown that did not call [`ArchiveWriter::finish`] still
    /// leaves only complete files.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl std::fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("root", &self.config.root)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl OpenFile {
    fn write_batch(&mut self) -> Result<()> {
        if self.cols.flow.is_empty() {
            return Ok(());
        }
        let batch = RecordBatch::try_new(archive_schema(), self.cols.finish())
            .map_err(|e| Error::parquet(&self.tmp, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| Error::parquet(&self.tmp, e))
    }

    /// Footer, flush, fsync, rename, fsync of the folder; returns the final path.
    fn complete(mut self) -> Result<PathBuf> {
        self.write_batch()?;
        let tmp = self.tmp;
        let buf = self
            .writer
            .into_inner()
            .map_err(|e| Error::parquet(&tmp, e))?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        if let Some(dir) = self.dest.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(dir, e))?;
        }
        Ok(self.dest)
    }
}

impl Columns {
    fn new(rows: usize) -> Columns {
        Columns {
            flow: FlowColumns::with_capacity(rows),
            score: Float32Builder::with_capacity(rows),
            threshold: Float32Builder::with_capacity(rows),
            is_alert: BooleanBuilder::with_capacity(rows),
            alert_id: StringBuilder::new(),
            model_id: StringDictionaryBuilder::new(),
            model_version: StringDictionaryBuilder::new(),
            shadow_score: Float32Builder::with_capacity(rows),
        }
    }

    fn append(
        &mut self,
        rec: &FlowRecord,
        row: &ArchiveRow<'_>,
    ) -> std::result::Result<(), iotguard_runtime::parquet::Error> {
        // The fallible appends first: a failure leaves no column longer than the others.
        self.model_id.append(row.model_id)?;
        self.model_version.append(row.model_version)?;
        self.flow.append(rec)?;
        self.score.append_value(row.score);
        self.threshold.append_value(row.threshold);
        self.is_alert.append_value(row.is_alert);
        self.alert_id.append_option(row.alert_id);
        self.shadow_score.append_option(row.shadow_score);
        Ok(())
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        let mut cols = self.flow.finish_arrays();
        cols.push(Arc::new(self.score.finish()));
        cols.push(Arc::new(self.threshold.finish()));
        cols.push(Arc::new(self.is_alert.finish()));
        cols.push(Arc::new(self.alert_id.finish()));
        cols.push(Arc::new(self.model_id.finish()));
        cols.push(Arc::new(self.model_version.finish()));
        cols.push(Arc::new(self.shadow_score.finish()));
        cols
    }
}

/// Removes `.part-*.tmp` files under `root` (a killed writer's unfinished files); returns how
/// many.
fn remove_temp_files(root: &Path) -> Result<u64> {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                stack.push(path);
            } else if name.starts_with(".part-") && name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
