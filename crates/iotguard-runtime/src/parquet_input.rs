//! Parquet flow files as an input, like any other format: `inspect flows.parquet` and
//! `convert flows.parquet --to zeek-tsv` work. A bad row is a counted [`ParseError`] naming its
//! row and column, as a bad line is for text formats. One capture of a file holding several
//! (its `capture` column) is read as an input of its own.

use std::fs::File;

use iotguard_flow::RecordIter;

use crate::error::Result;

/// Opens a Parquet flow file (its schema version and columns are checked before any row).
#[cfg(feature = "parquet")]
pub(crate) fn open(name: &str, file: File, capture: Option<String>) -> Result<Box<dyn RecordIter>> {
    let options = crate::parquet::ReadOptions {
        capture,
        ..Default::default()
    };
    let reader = crate::parquet::ParquetFlowReader::new(file, options)?;
    Ok(Box::new(reading::ParquetRecords {
        inner: reader,
        input: name.into(),
    }))
}

/// Without the `parquet` feature, a Parquet input is refused with the reason.
#[cfg(not(feature = "parquet"))]
pub(crate) fn open(
    name: &str,
    _file: File,
    _capture: Option<String>,
) -> Result<Box<dyn RecordIter>> {
    Err(crate::error::Error::io(
        name,
        std::io::Error::other(
            "a Parquet file, and this build has no Parquet support (the `parquet` feature)",
        ),
    ))
}

#[cfg(feature = "parquet")]
mod reading {
    use std::sync::Arc;

    use iotguard_flow::{ErrorKind, FlowRecord, ParseError, RecordIter};

    use crate::parquet::{Error, ParquetFlowReader};

    /// Parquet rows as flow-reader items.
    pub(super) struct ParquetRecords {
        pub(super) inner: ParquetFlowReader,
        pub(super) input: Arc<str>,
    }

    impl Iterator for ParquetRecords {
        type Item = Result<FlowRecord, ParseError>;

        fn next(&mut self) -> Option<Self::Item> {
            Some(self.inner.next()?.map_err(|e| {
                let (line, kind, field) = match &e {
                    // Rows count from 1 here, as lines do.
                    Error::BadValue { row, column, .. } => {
                        (row + 1, ErrorKind::BadValue, Some(column.to_string()))
                    }
                    _ => (0, ErrorKind::Io, None),
                };
                ParseError {
                    input: self.input.clone(),
                    line,
                    kind,
                    field,
                    reason: e.to_string(),
                    raw: Vec::new(),
                }
            }))
        }
    }

    impl RecordIter for ParquetRecords {
        fn format_name(&self) -> &'static str {
            "parquet"
        }
    }
}
