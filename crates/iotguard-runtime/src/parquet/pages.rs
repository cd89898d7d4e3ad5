//! Bounds what a corrupt file can make the Parquet library allocate, before any row is decoded.
//!
//! The `parquet` crate (57.3, and 60.1 as far as we know: the fixture is refused here first) sizes a column's dictionary from the value count in the dictionary
//! page's header (`DictDecoder::set_dict` resizes to `num_values` before decoding): a 12-byte
//! page declaring 932 million `Int32` values takes 3.7 GB, and the fuzz target found such a file
//! in a few seconds. Dictionary pages are PLAIN-encoded, so each value takes at least a known
//! number of bits of the (decompressed) page; a page declaring more values than it can hold is
//! refused here. The check reads the first page of each column chunk the flow reader decodes,
//! once, through the library's own page reader.

use std::sync::Arc;

use ::parquet::basic::Type as PhysicalType;
use ::parquet::column::page::{Page, PageReader};
use ::parquet::errors::Result as ParquetResult;
use ::parquet::file::metadata::ParquetMetaData;
use ::parquet::file::reader::{ChunkReader, Length};
use ::parquet::file::serialized_reader::SerializedPageReader;

use super::{Error, Result};

/// A chunk reader shared between the page check and the record batch reader.
pub(super) struct Shared<R>(pub(super) Arc<R>);

impl<R: ChunkReader> Length for Shared<R> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<R: ChunkReader> ChunkReader for Shared<R> {
    type T = R::T;

    fn get_read(&self, start: u64) -> ParquetResult<R::T> {
        self.0.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> ParquetResult<bytes::Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// Refuses the file if a dictionary page of a column under the first `roots` root columns
/// declares more values than its decompressed bytes can hold.
pub(super) fn check_dictionary_pages<R: ChunkReader + 'static>(
    reader: &Arc<R>,
    meta: &ParquetMetaData,
    roots: usize,
) -> Result<()> {
    let schema = meta.file_metadata().schema_descr();
    for (group, row_group) in meta.row_groups().iter().enumerate() {
        let rows = usize::try_from(row_group.num_rows()).unwrap_or(0);
        for (i, column) in row_group.columns().iter().enumerate() {
            if schema.get_column_root_idx(i) >= roots {
                continue;
            }
            let mut pages = SerializedPageReader::new(Arc::clone(reader), column, rows, None)?;
            let Some(Page::DictionaryPage {
                buf, num_values, ..
            }) = pages.get_next_page()?
            else {
                continue;
            };
            let bits = min_value_bits(column.column_type(), column.column_descr().type_length());
            if u64::from(num_values) * bits > buf.len() as u64 * 8 {
                return Err(Error::DictionaryTooLarge {
                    row_group: group,
                    column: column.column_path().string(),
                    values: num_values,
                    bytes: buf.len(),
                });
            }
        }
    }
    Ok(())
}

/// The fewest bits one PLAIN-encoded value of a physical type takes.
fn min_value_bits(physical: PhysicalType, type_length: i32) -> u64 {
    match physical {
        PhysicalType::BOOLEAN => 1,
        PhysicalType::INT32 | PhysicalType::FLOAT => 32,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 64,
        PhysicalType::INT96 => 96,
        // A 4-byte length before each value's bytes.
        PhysicalType::BYTE_ARRAY => 32,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => 8 * u64::try_from(type_length.max(1)).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_value_bits_by_physical_type() {
        assert_eq!(min_value_bits(PhysicalType::BOOLEAN, 0), 1);
        assert_eq!(min_value_bits(PhysicalType::INT32, 0), 32);
        assert_eq!(min_value_bits(PhysicalType::DOUBLE, 0), 64);
        assert_eq!(min_value_bits(PhysicalType::BYTE_ARRAY, 0), 32);
        assert_eq!(min_value_bits(PhysicalType::FIXED_LEN_BYTE_ARRAY, 16), 128);
        assert_eq!(min_value_bits(PhysicalType::FIXED_LEN_BYTE_ARRAY, -3), 8);
    }
}
