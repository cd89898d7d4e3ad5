//! Integration tests of the readers and writers: one test binary (see STYLE.md §2.7).

#![allow(clippy::print_stderr)]

mod arbitrary;
mod bad_input;
mod roundtrip;
mod shared_data;
