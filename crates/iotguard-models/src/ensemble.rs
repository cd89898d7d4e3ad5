//! Soft-voting ensemble: the weighted mean of supervised members' probabilities of malicious.
//!
//! Members are fitted on the same rows with the same seed, each with its kind's default
//! hyperparameters and balanced class weights (as `iotguard train` fits them alone), one after
//! the other, each on all cores, except that the forest's trees are limited to
//! `forest_max_depth` (16 by default): exact TreeSHAP costs about leaves × depth² per tree, and
//! the ensemble with full-depth trees explained 2 rows/s, with depth 16 45 rows/s (at the same
//! cross-capture F1), with depth 8 139 rows/s (at a much lower F1; BENCHMARKS.md). The default members are logistic regression, the random forest
//! and the GBDT with equal weights (⅓ each): three different inductive biases (linear, bagged
//! deep trees, boosted shallow trees) whose errors differ, and no weight tuned on data that the
//! threshold is later chosen on. Weights are normalised to sum to 1 when fitting.
//!
//! The score is `p = Σᵢ wᵢ pᵢ`, where `pᵢ` is member `i`'s score (its probability of malicious).
//! The explanation is in that probability space: members that explain log-odds (logistic
//! regression, GBDT) are first mapped to probabilities, their base to `σ(baseᵢ)` and their
//! contributions rescaled by one factor so they add up to `σ(rawᵢ) − σ(baseᵢ)` (their signs and
//! proportions are kept); probability-space members (tree, forest) are taken as they are. The
//! ensemble's base is `Σᵢ wᵢ baseᵢ`, feature `j`'s contribution `Σᵢ wᵢ cᵢⱼ`, and
//! `base + Σⱼ contributions = raw = Σᵢ wᵢ pᵢ`: the score, up to `f32` rounding of the members'
//! scores.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::forest::RandomForestParams;
use crate::lab::{ModelKind, TrainedModel};
use crate::linear::sigmoid;
use crate::model::{Contribution, Explanation, Scorer};
use crate::weights::ClassWeight;

/// One member of an ensemble to fit: its kind and its (unnormalised) weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSpec {
    /// The member's kind: `logreg`, `tree`, `forest` or `gbdt`.
    pub kind: ModelKind,
    /// Its voting weight (positive; normalised over the members).
    pub weight: f64,
}

/// Hyperparameters of a soft-voting ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleParams {
    /// The members and their weights.
    pub members: Vec<MemberSpec>,
    /// The forest member's maximum tree depth (`None`: full depth).
    pub forest_max_depth: Option<usize>,
    /// The seed every member is fitted with.
    pub seed: u64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        let member = |kind| MemberSpec { kind, weight: 1.0 };
        EnsembleParams {
            members: vec![
                member(ModelKind::Logreg),
                member(ModelKind::Forest),
                member(ModelKind::Gbdt),
            ],
            forest_max_depth: Some(16),
            seed: 0,
        }
    }
}

impl EnsembleParams {
    /// Sets the members.
    pub fn members(mut self, members: Vec<MemberSpec>) -> Self {
        self.members = members;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self) -> Result<f64> {
        if self.members.is_empty() {
            return Err(Error::InvalidParams("an ensemble needs members".into()));
        }
        for m in &self.members {
            if !matches!(
                m.kind,
                ModelKind::Logreg | ModelKind::Tree | ModelKind::Forest | ModelKind::Gbdt
            ) {
                return Err(Error::InvalidParams(format!(
                    "{} cannot vote: members must give probabilities (logreg, tree, forest, gbdt)",
                    m.kind
                )));
            }
            if !(m.weight.is_finite() && m.weight > 0.0) {
                return Err(Error::InvalidParams(format!(
                    "member {} has weight {}; weights must be positive",
                    m.kind, m.weight
                )));
            }
        }
        Ok(self.members.iter().map(|m| m.weight).sum())
    }

    /// Fits every member on `data` and returns the ensemble with normalised weights.
    pub fn fit(&self, data: &Dataset) -> Result<Ensemble> {
        let total = self.check()?;
        let members = self
            .members
            .iter()
            .map(|m| {
                let model = match m.kind {
                    ModelKind::Forest => TrainedModel::Forest(
                        RandomForestParams::default()
                            .class_weight(ClassWeight::Balanced)
                            .max_depth(self.forest_max_depth)
                            .seed(self.seed)
                            .fit(data)?,
                    ),
                    kind => crate::lab::fit(kind, data, self.seed)?.0,
                };
                Ok(Member {
                    weight: m.weight / total,
                    model,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Ensemble { members })
    }
}

/// One fitted member and its normalised weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The weight (the members' weights sum to 1).
    pub weight: f64,
    /// The fitted model.
    pub model: TrainedModel,
}

/// A fitted soft-voting ensemble; its score is the weighted mean of the members' scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    /// The members, in the order they were given.
    pub members: Vec<Member>,
}

impl Ensemble {
    /// Returns the weighted mean of the members' scores in `f64`.
    pub fn probability(&self, row: &[f32]) -> f64 {
        let mut p = 0.0;
        for m in &self.members {
            p += m.weight * f64::from(m.model.score(row));
        }
        p
    }
}

/// Returns a member's explanation in probability space (see the module documentation).
fn in_probability_space(model: &TrainedModel, e: Explanation) -> Explanation {
    if matches!(model, TrainedModel::Tree(_) | TrainedModel::Forest(_)) {
        return e;
    }
    let (p, p0) = (sigmoid(e.raw), sigmoid(e.base));
    let span = e.raw - e.base;
    // With no change in log-odds the contributions cancel; the slope at p keeps their shape.
    let factor = if span.abs() > 1e-12 {
        (p - p0) / span
    } else {
        p * (1.0 - p)
    };
    Explanation {
        raw: p,
        base: p0,
        contributions: e
            .contributions
            .into_iter()
            .map(|c| Contribution {
                contribution: c.contribution * factor,
                ..c
            })
            .collect(),
    }
}

impl Scorer for Ensemble {
    fn kind(&self) -> &'static str {
        "ensemble"
    }

    fn score(&self, row: &[f32]) -> f32 {
        self.probability(row) as f32
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        let mut p = vec![0f64; rows.len() / n_features.max(1)];
        for m in &self.members {
            let s = m.model.score_batch(rows, n_features);
            for (p, s) in p.iter_mut().zip(s) {
                *p += m.weight * f64::from(s);
            }
        }
        p.into_iter().map(|p| p as f32).collect()
    }

    /// The weighted sum of the members' explanations in probability space: `base + Σ
    /// contributions = raw`, the ensemble's probability of malicious.
    fn explain(&self, row: &[f32]) -> Explanation {
        let mut out = Explanation {
            raw: 0.0,
            base: 0.0,
            contributions: row
                .iter()
                .enumerate()
                .map(|(feature, &value)| Contribution {
                    feature,
                    value,
                    contribution: 0.0,
                })
                .collect(),
        };
        for m in &self.members {
            let e = in_probability_space(&m.model, m.model.explain(row));
            out.raw += m.weight * e.raw;
            out.base += m.weight * e.base;
            for c in e.contributions {
                if let Some(o) = out.contributions.get_mut(c.feature) {
                    o.contribution += m.weight * c.contribution;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::random_data;

    fn small() -> EnsembleParams {
        EnsembleParams::default().seed(3).members(vec![
            MemberSpec {
                kind: ModelKind::Logreg,
                weight: 1.0,
            },
            MemberSpec {
                kind: ModelKind::Tree,
                weight: 2.0,
            },
            MemberSpec {
                kind: ModelKind::Gbdt,
                weight: 1.0,
            },
        ])
    }

    #[test]
    fn probability_is_the_weighted_mean_of_the_members() {
        let d = random_data(3_000, 6, 1, 0.02);
        let e = small().fit(&d).unwrap();
        let weights: Vec<f64> = e.members.iter().map(|m| m.weight).collect();
        assert_eq!(weights, vec![0.25, 0.5, 0.25]);
        let batch = e.score_batch(&d.features, 6);
        for i in (0..d.n_rows()).step_by(37) {
            let row = d.row(i);
            let s: Vec<f64> = e
                .members
                .iter()
                .map(|m| f64::from(m.model.score(row)))
                .collect();
            let expected = 0.25 * s[0] + 0.5 * s[1] + 0.25 * s[2];
            assert_eq!(e.score(row), expected as f32);
            assert!((batch[i] - e.score(row)).abs() < 1e-6);
        }
        let test = random_data(2_000, 6, 2, 0.0);
        let correct = (0..test.n_rows())
            .filter(|&i| (e.score(test.row(i)) >= 0.5) == test.target[i])
            .count();
        assert!(correct >= 1_850, "{correct}");
    }

    #[test]
    fn explanation_is_the_weighted_sum_of_the_members_in_probability_space() {
        let d = random_data(3_000, 6, 4, 0.02);
        let e = small().fit(&d).unwrap();
        for i in (0..200).step_by(7) {
            let mut row = d.row(i).to_vec();
            if i % 3 == 0 {
                row[1] = f32::NAN;
            }
            let x = e.explain(&row);
            let sum: f64 = x.contributions.iter().map(|c| c.contribution).sum();
            assert!((x.base + sum - x.raw).abs() < 1e-9, "{x:?}");
            assert!((x.raw - e.probability(&row)).abs() < 1e-6);
            // Feature by feature: the members' probability-space contributions, weighted.
            let members: Vec<Explanation> = e
                .members
                .iter()
                .map(|m| in_probability_space(&m.model, m.model.explain(&row)))
                .collect();
            for j in 0..6 {
                let expected: f64 = e
                    .members
                    .iter()
                    .zip(&members)
                    .map(|(m, me)| m.weight * me.contributions[j].contribution)
                    .sum();
                assert!((x.contributions[j].contribution - expected).abs() < 1e-12);
            }
            // The logistic member's explanation adds up to its probability after mapping.
            let lr = &members[0];
            let lr_sum: f64 = lr.contributions.iter().map(|c| c.contribution).sum();
            assert!((lr.base + lr_sum - lr.raw).abs() < 1e-9);
            assert!((lr.raw - f64::from(e.members[0].model.score(&row))).abs() < 1e-6);
        }
    }

    #[test]
    fn unsupported_members_and_weights_are_refused() {
        let d = random_data(200, 4, 1, 0.0);
        for members in [
            vec![],
            vec![MemberSpec {
                kind: ModelKind::Iforest,
                weight: 1.0,
            }],
            vec![MemberSpec {
                kind: ModelKind::Logreg,
                weight: 0.0,
            }],
        ] {
            let p = EnsembleParams::default().members(members);
            assert!(matches!(p.fit(&d), Err(Error::InvalidParams(_))), "{p:?}");
        }
    }

    #[test]
    fn ensembles_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Ensemble>();
    }
}
