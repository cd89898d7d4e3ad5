//! The versioned, named layout of a feature vector, and its fingerprint.

use serde::{Deserialize, Serialize};

/// The version of the feature definitions. Bump it whenever a feature's meaning or computation
/// changes (not only its name), so that models trained on the old features are refused.
pub const SCHEMA_VERSION: u32 = 1;

/// The names of a feature vector's columns, in order, and the version of their definitions.
///
/// Model files store the [`fingerprint`](FeatureSchema::fingerprint) (or the whole schema) and
/// the runtime refuses a model whose schema differs from the running extractor's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// [`SCHEMA_VERSION`] of the code that made the schema.
    pub version: u32,
    /// One name per column: per-flow names (`duration_s`, `proto.tcp`, ...), then
    /// `orig_host.*`, then `resp_host.*` (`orig_host.rate_10s`).
    pub names: Vec<String>,
}

impl FeatureSchema {
    /// Returns the vector length (number of names).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Returns whether the schema has no columns (never true for an extractor's schema).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Returns the column of a feature name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Returns a stable 64-bit fingerprint of the version and the names, in order.
    ///
    /// FNV-1a over the version (little endian) and each name followed by a NUL byte: fixed by
    /// this definition, not by the Rust version or a hash seed, so it can be stored in files.
    pub fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        let mut eat = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        };
        self.version.to_le_bytes().into_iter().for_each(&mut eat);
        for name in &self.names {
            name.bytes().for_each(&mut eat);
            eat(0);
        }
        h
    }

    /// Returns the fingerprint as 16 lower-case hex digits, as model files write it.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(names: &[&str]) -> FeatureSchema {
        FeatureSchema {
            version: 1,
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn fingerprint_depends_on_version_names_and_order() {
        let a = schema(&["a", "bc"]);
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), schema(&["bc", "a"]).fingerprint());
        assert_ne!(a.fingerprint(), schema(&["ab", "c"]).fingerprint());
        let mut v2 = a.clone();
        v2.version = 2;
        assert_ne!(a.fingerprint(), v2.fingerprint());
        assert_eq!(a.fingerprint_hex().len(), 16);
    }

    #[test]
    fn fingerprint_is_pinned() {
        // FNV-1a of the empty schema at version 0: a regression guard on the definition.
        let empty = FeatureSchema {
            version: 0,
            names: vec![],
        };
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for _ in 0..4 {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        assert_eq!(empty.fingerprint(), h);
    }
}
