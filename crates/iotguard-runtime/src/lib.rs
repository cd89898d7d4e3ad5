//! Wires inputs, readers, statistics and outputs. (Being written.)
