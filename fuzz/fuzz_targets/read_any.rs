//! Fuzz target: format detection plus whichever reader it picks, on any bytes (also compressed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    iotguard_fuzz_common::check(data, None);
});
