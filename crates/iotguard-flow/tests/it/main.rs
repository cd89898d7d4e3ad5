//! Integration tests of the readers and writers: one test binary (see STYLE.md §2.7).

mod arbitrary;
mod roundtrip;
mod shared_data;
