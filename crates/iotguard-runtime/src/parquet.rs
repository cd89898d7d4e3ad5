//! Flow records as Parquet files: a documented, versioned columnar schema that pandas, pyarrow
//! and other Parquet readers open with natural types, and a reader that gives back identical
//! records.
//!
//! The schema (version [`SCHEMA_VERSION`], recorded in the file's key-value metadata under
//! [`SCHEMA_VERSION_KEY`]) has one column per [`FlowRecord`] field, in the record's field
//! order; `docs/parquet-schema.md` has the column table. Every optional field is a nullable
//! column and null means unset, so `0` and "not measured" stay different facts, as they are in
//! the record.
//!
//! [`ParquetFlowWriter`] buffers records into Arrow record batches and writes them zstd
//! compressed; [`read_parquet_flows`] reads them back. A value the schema cannot hold back (an
//! address that does not parse, a label class that is not `benign`, `malicious` or `other`)
//! makes that one row an [`Error::BadValue`] and reading goes on; a file with another schema or
//! version is refused when it is opened.
//!
//! What this module does not do: open files (callers pass a `Write` or a [`ChunkReader`]), read
//! only some columns, or filter rows.
//!
//! [`FlowRecord`]: iotguard_flow::FlowRecord
//! [`ChunkReader`]: ::parquet::file::reader::ChunkReader
//!
//! ```
//! use iotguard_flow::{FlowRecord, Protocol, Timestamp};
//! use iotguard_runtime::parquet::{read_parquet_flows, ParquetFlowWriter, WriteOptions};
//!
//! let record = FlowRecord {
//!     ts: Timestamp(1_547_150_789_067_208_000),
//!     proto: Protocol::Tcp,
//!     orig_h: Some("192.168.1.2".parse().unwrap()),
//!     ..FlowRecord::default()
//! };
//! let file = tempfile::tempfile().unwrap();
//! let mut writer = ParquetFlowWriter::new(file, WriteOptions::default()).unwrap();
//! writer.write(&record).unwrap();
//! let file = writer.finish().unwrap();
//!
//! let back: Vec<FlowRecord> = read_parquet_flows(file)
//!     .unwrap()
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(back, vec![record]);
//! ```

mod dataset;
mod footer;
mod pages;
pub mod provenance;
mod read;
mod write;

pub use dataset::{write_dataset, write_features, FEATURE_SCHEMA_KEY};
pub use provenance::{capture_name, captures_in, ProvenanceWriter};
pub use read::{read_parquet_flows, ParquetFlowReader, ReadOptions};
pub use write::{writer_properties, FlowColumns, ParquetFlowWriter, WriteOptions};

use std::sync::{Arc, OnceLock};

use ::parquet::errors::ParquetError;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

/// The version of the flow schema this module writes and reads.
pub const SCHEMA_VERSION: &str = "1";

/// The Parquet file key-value metadata key that holds the schema version.
pub const SCHEMA_VERSION_KEY: &str = "iotguard.schema_version";

/// The time zone of the `ts` column: timestamps are nanoseconds since the Unix epoch, in UTC.
const UTC: &str = "UTC";

/// An error writing or reading a flow Parquet file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Parquet library failed: I/O, a corrupt file, or an encoding problem.
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    /// Arrow failed to build a record batch.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// The file has no schema version: it was not written as an iotguard flow file.
    #[error("not an iotguard flow file: no `{SCHEMA_VERSION_KEY}` in the file metadata")]
    NotFlowFile,
    /// The file's schema version is not the one this build reads.
    #[error(
        "unsupported flow schema version {found:?} (this build reads version {SCHEMA_VERSION})"
    )]
    UnsupportedVersion {
        /// The version the file names.
        found: String,
    },
    /// The file names schema version 1 but its columns do not match it.
    #[error("file does not match flow schema version {SCHEMA_VERSION}: {reason}")]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// One row holds a value that is not a valid record field; the other rows are unaffected.
    #[error("row {row}, column `{column}`: {reason}")]
    BadValue {
        /// The row's index in the file, counting from 0.
        row: u64,
        /// The column holding the value.
        column: &'static str,
        /// What is wrong, with the value (shortened).
        reason: String,
    },
    /// A write or read option is out of range.
    #[error("invalid parquet options: {0}")]
    InvalidOptions(&'static str),
    /// The Parquet library panicked on the file (a corrupt footer or page it does not check):
    /// the file cannot be read from there on.
    #[error("corrupt Parquet file, the Parquet library failed on it: {0}")]
    Corrupt(String),
    /// The footer declares a list, map or binary longer than the bytes that follow it: decoding
    /// it would make the Parquet library reserve memory for every declared element.
    #[error("corrupt Parquet footer at byte {offset} of its metadata: {reason}")]
    CorruptFooter {
        /// Where in the footer's metadata the walk stopped.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A dictionary page declares more values than its bytes can hold: decoding it would make
    /// the Parquet library allocate for every declared value (gigabytes from a few bytes).
    #[error(
        "corrupt Parquet file: row group {row_group}, column `{column}`: the dictionary page \
         declares {values} values in {bytes} bytes"
    )]
    DictionaryTooLarge {
        /// The row group's index in the file.
        row_group: usize,
        /// The column's path.
        column: String,
        /// The number of values the page header declares.
        values: u32,
        /// The page's decompressed size.
        bytes: usize,
    },
}

/// Runs `f`, turning a panic inside the Parquet library into [`Error::Corrupt`]: the `parquet`
/// crate panics on some corrupt files instead of returning an error, and a panic must not take
/// the reading thread (and every input after this one) with it.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Error::Corrupt(iotguard_flow::panic_message(
            payload.as_ref(),
        ))),
    }
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns the Arrow schema of flow files (version [`SCHEMA_VERSION`]).
///
/// The version is in the schema's metadata under [`SCHEMA_VERSION_KEY`] and, where the reader
/// looks for it, in the Parquet file's key-value metadata. Both places, because pyarrow shows a
/// file's Arrow schema metadata (and keeps it when it rewrites a table) but not the other keys.
pub fn flow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::{Boolean, UInt16, UInt64, Utf8};
            let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(Utf8));
            let f = Field::new;
            let fields = vec![
                f(
                    "ts",
                    DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
                    false,
                ),
                f("uid", Utf8, true),
                f("orig_h", Utf8, true),
                f("orig_p", UInt16, true),
                f("resp_h", Utf8, true),
                f("resp_p", UInt16, true),
                f("proto", dict(), false),
                f("service", dict(), true),
                f("duration", DataType::Duration(TimeUnit::Nanosecond), true),
                f("orig_bytes", UInt64, true),
                f("resp_bytes", UInt64, true),
                f("conn_state", dict(), true),
                f("local_orig", Boolean, true),
                f("local_resp", Boolean, true),
                f("missed_bytes", UInt64, true),
                f("history", Utf8, true),
                f("orig_pkts", UInt64, true),
                f("orig_ip_bytes", UInt64, true),
                f("resp_pkts", UInt64, true),
                f("resp_ip_bytes", UInt64, true),
                f("tunnel_parents", DataType::List(tunnel_item()), true),
                f("orig_l2_addr", Utf8, true),
                f("resp_l2_addr", Utf8, true),
                f("community_id", Utf8, true),
                f("sensor", Utf8, true),
                f("label", dict(), true),
                f("label_class", dict(), true),
                f("detailed_label", dict(), true),
            ];
            let version = [(SCHEMA_VERSION_KEY.to_owned(), SCHEMA_VERSION.to_owned())];
            Arc::new(Schema::new_with_metadata(
                fields,
                std::collections::HashMap::from(version),
            ))
        })
        .clone()
}

/// The element field of `tunnel_parents`: a uid, never null.
fn tunnel_item() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Utf8, false))
}
