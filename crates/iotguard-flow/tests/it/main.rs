//! Integration tests of the readers: one test binary (see STYLE.md §2.7).

#![allow(clippy::print_stderr)]

mod shared_data;
