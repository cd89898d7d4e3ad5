//! Fuzz target: the unsw nb15 reader must never panic or hang, and must account for every line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    iotguard_fuzz_common::check(data, Some(iotguard_flow::Format::UnswNb15));
});
