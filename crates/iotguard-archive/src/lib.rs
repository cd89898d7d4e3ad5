//! The flow archive: every scored flow written as Parquet, for later training, evaluation and
//! any Parquet reader (pyarrow, DuckDB, Spark).
//!
//! Layout: `ROOT/date=YYYY-MM-DD/hour=HH/part-<run>-<seq>.parquet`, Hive-style partitions by the
//! flow's own time (UTC). Each file holds the flow schema's columns
//! ([`iotguard_runtime::parquet::flow_schema`], so `iotguard inspect/train/eval` read archive
//! files like any flow file) followed by the archive's columns: `score`, `threshold`,
//! `is_alert`, `alert_id`, `model_id`, `model_version` ([`archive_schema`]).
//!
//! Invariants:
//! - **a reader never sees a half-written file**: a file is written under a hidden temporary
//!   name (`.part-….parquet.tmp`, which pyarrow, Spark and iotguard's folder walk pass over) in
//!   its partition folder, finished, fsynced and only then renamed to its final name (and the
//!   folder fsynced); temporary files a killed writer left are removed when a writer opens the
//!   archive;
//! - **no flow is dropped silently**: a flow is in a finished file, in the open one (finished on
//!   [`ArchiveWriter::finish`] and on drop), or counted in [`ArchiveCounts::flows_failed`] with
//!   the error returned to the caller;
//! - files roll at [`ArchiveConfig::max_file_bytes`] and after [`ArchiveConfig::max_file_age`];
//!   up to four hour partitions have a file open at once (flows near an hour's end arrive late,
//!   as Zeek writes a flow when it ends), the oldest finished when a fifth is needed;
//! - retention ([`ArchiveConfig::retention_days`]) removes whole date partitions older than the
//!   latest archived flow's date minus the retention, so replaying an old capture does not
//!   delete what it just wrote (files still open in such a day are finished first).
//!
//! With [`ArchiveConfig::upload`] (`s3://bucket/prefix`), the root is a local spool: each
//! finished file is uploaded whole to the same layout under the prefix (one PUT, or a
//! multipart upload completed after its last part) and deleted locally once its object is
//! complete; a failed upload is returned as [`Error::S3`] on a later call, counted, retried, and
//! its file kept (a run stopped meanwhile leaves it for the next, which uploads it first);
//! retention deletes the bucket's expired date partitions too. [`download_archive`] brings
//! the bucket's files (of the partitions a `--since/--until` window keeps) back into a folder.
//!
//! [`read_archive`] reads it back: every flow with its score, alert id and model, in flow time
//! order (for `iotguard retrain`).
//!
//! This crate knows nothing of detection: the detector hands it a record and an [`ArchiveRow`].

mod background;
mod partition;
mod reader;
mod s3;
mod schema;
mod upload;
mod writer;

pub use background::BackgroundArchive;
pub use partition::{partition_of, Partition};
pub use reader::{read_archive, ArchivedFlow, ReadCounts};
pub use s3::{download_archive, DownloadCounts, S3Config, MULTIPART_BYTES, PART_BYTES};
pub use schema::archive_schema;
pub use upload::UploadConfig;
pub use writer::{ArchiveConfig, ArchiveCounts, ArchiveRow, ArchiveWriter};

/// An archive failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder operation failed.
    #[error("archive {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding Parquet failed.
    #[error("archive {path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: iotguard_runtime::parquet::Error,
    },
    /// A request to the bucket failed (an upload failure loses nothing: the file is kept and
    /// the upload retried).
    #[error("archive {url}: {message}")]
    S3 {
        /// The archive's `s3://` URL.
        url: String,
        /// What failed and why.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn parquet(
        path: &std::path::Path,
        source: impl Into<iotguard_runtime::parquet::Error>,
    ) -> Error {
        Error::Parquet {
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
