//! Class weights, shared by every supervised model: the remedy for rare attacks (or rare benign
//! traffic) in the training data.

use serde::{Deserialize, Serialize};

/// How to weight the classes' losses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClassWeight {
    /// Every row weighs 1.
    #[default]
    None,
    /// Each class weighs `n / (2 · n_class)`, as scikit-learn's `class_weight="balanced"`: both
    /// classes then carry equal total weight.
    Balanced,
    /// Explicit weights per class.
    Manual {
        /// Weight of benign rows.
        negative: f64,
        /// Weight of malicious rows.
        positive: f64,
    },
}

impl ClassWeight {
    /// Returns the (benign, malicious) row weights for a training target. A class with no rows
    /// weighs 1 under `Balanced`.
    pub fn weights(self, target: &[bool]) -> (f64, f64) {
        match self {
            ClassWeight::None => (1.0, 1.0),
            ClassWeight::Balanced => {
                let n = target.len() as f64;
                let pos = target.iter().filter(|&&t| t).count() as f64;
                let w = |c: f64| if c > 0.0 { n / (2.0 * c) } else { 1.0 };
                (w(n - pos), w(pos))
            }
            ClassWeight::Manual { negative, positive } => (negative, positive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_equalise_class_totals() {
        let target = [true, false, false, false];
        let (wn, wp) = ClassWeight::Balanced.weights(&target);
        // Both classes then weigh 2 in total (3 benign rows × 2/3, 1 malicious row × 2).
        assert!((wn * 3.0 - 2.0).abs() < 1e-12 && wp == 2.0, "{wn} {wp}");
        assert_eq!(ClassWeight::None.weights(&target), (1.0, 1.0));
        assert_eq!(
            ClassWeight::Manual {
                negative: 1.0,
                positive: 5.0
            }
            .weights(&target),
            (1.0, 5.0)
        );
        // One class only: it weighs n / (2 n) = 0.5; the absent class weighs 1.
        assert_eq!(ClassWeight::Balanced.weights(&[false, false]), (0.5, 1.0));
    }
}
