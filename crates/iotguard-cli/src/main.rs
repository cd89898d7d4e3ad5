//! The `iotguard` command. (Being written.)

fn main() {}
