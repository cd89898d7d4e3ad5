//! A labeled numeric dataset: rows of `f32` features, a binary target, optional per-row class
//! names for multiclass work, and a group per row (the capture it came from) for honest splits.

use crate::error::{Error, Result};

/// Rows of features with labels and groups.
///
/// Features are stored row-major (`features[row * n_features + col]`). Missing values are
/// `f32::NAN`; models must handle them (trees route them, linear models impute).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// Feature names, in column order (from the feature schema).
    pub feature_names: Vec<String>,
    /// Row-major feature values.
    pub features: Vec<f32>,
    /// Binary target per row: `true` is malicious (the positive class).
    pub target: Vec<bool>,
    /// Detailed class per row as an index into `class_names` (multiclass work); may be empty.
    pub class: Vec<u32>,
    /// Names of the detailed classes.
    pub class_names: Vec<String>,
    /// Group per row (e.g. the capture file), for leave-one-group-out evaluation.
    pub group: Vec<u32>,
    /// Names of the groups.
    pub group_names: Vec<String>,
    /// Event time per row (seconds), for time-ordered splits; may be empty.
    pub time: Vec<f64>,
}

impl Dataset {
    /// Returns the number of rows.
    pub fn n_rows(&self) -> usize {
        self.target.len()
    }

    /// Returns the number of feature columns.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Returns row `i`'s features.
    ///
    /// # Panics
    ///
    /// Panics if `i` is out of range (an internal invariant: callers index known rows).
    pub fn row(&self, i: usize) -> &[f32] {
        let n = self.n_features();
        &self.features[i * n..(i + 1) * n]
    }

    /// Checks that every per-row vector has one entry per row and the matrix is whole.
    pub fn validate(&self) -> Result<()> {
        let n = self.n_rows();
        let mut problems = Vec::new();
        if self.features.len() != n * self.n_features() {
            problems.push(format!(
                "{} feature values for {n} rows of {} features",
                self.features.len(),
                self.n_features()
            ));
        }
        for (name, len) in [
            ("class", self.class.len()),
            ("group", self.group.len()),
            ("time", self.time.len()),
        ] {
            if len != 0 && len != n {
                problems.push(format!("{len} {name} values for {n} rows"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidData(problems.join("; ")))
        }
    }

    /// Returns the dataset with only the feature columns at `columns`, in that order.
    pub fn select_features(&self, columns: &[usize]) -> Dataset {
        let n = self.n_features();
        let mut features = Vec::with_capacity(self.n_rows() * columns.len());
        for row in self.features.chunks_exact(n.max(1)) {
            features.extend(columns.iter().map(|&c| row[c]));
        }
        Dataset {
            feature_names: columns
                .iter()
                .map(|&c| self.feature_names[c].clone())
                .collect(),
            features,
            ..self.clone()
        }
    }

    /// Returns the rows at `indices`, in that order, as a new dataset.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.n_features();
        let mut features = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            features.extend_from_slice(self.row(i));
        }
        let pick = |v: &Vec<u32>| {
            if v.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| v[i]).collect()
            }
        };
        Dataset {
            feature_names: self.feature_names.clone(),
            features,
            target: indices.iter().map(|&i| self.target[i]).collect(),
            class: pick(&self.class),
            class_names: self.class_names.clone(),
            group: pick(&self.group),
            group_names: self.group_names.clone(),
            time: if self.time.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.time[i]).collect()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_and_validate() {
        let d = Dataset {
            feature_names: vec!["a".into(), "b".into()],
            features: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            target: vec![false, true, false],
            group: vec![0, 0, 1],
            ..Dataset::default()
        };
        d.validate().unwrap();
        let s = d.subset(&[2, 0]);
        assert_eq!(s.features, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(s.target, vec![false, false]);
        assert_eq!(s.group, vec![1, 0]);
        let bad = Dataset {
            features: vec![1.0],
            ..d
        };
        assert!(bad.validate().is_err());
    }
}
