//! Fuzz target: the Parquet flow reader on any bytes. The `parquet` crate panics on some
//! corrupt files; the reader must turn that into an error and never let a panic out, and after
//! an error of the file itself (anything but one bad row) it must yield nothing more.
#![no_main]

use std::sync::Once;

use iotguard_runtime::parquet::{Error, ParquetFlowReader, ReadOptions};
use libfuzzer_sys::fuzz_target;

static QUIET_CAUGHT_PANICS: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys's panic hook aborts on every panic, even one the reader catches on purpose
    // (the Parquet library's); a panic that gets out of the reader still aborts, because
    // libfuzzer-sys aborts when the target itself unwinds.
    QUIET_CAUGHT_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let bytes = bytes::Bytes::copy_from_slice(data);
    let Ok(reader) = ParquetFlowReader::new(
        bytes,
        ReadOptions {
            batch_rows: 64,
            ..Default::default()
        },
    ) else {
        return;
    };
    let mut failed = false;
    for item in reader {
        assert!(!failed, "an item after the file's own error");
        match item {
            Ok(_) | Err(Error::BadValue { .. }) => {}
            Err(_) => failed = true,
        }
    }
});
