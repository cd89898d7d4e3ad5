//! A deterministic simulator of an IoT network's flows. (Being written.)
