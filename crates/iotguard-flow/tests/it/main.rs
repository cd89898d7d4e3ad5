//! Integration tests of the readers: one test binary (see STYLE.md §2.7).

mod shared_data;
