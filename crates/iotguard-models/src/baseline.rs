//! Baselines learned without labels: an unsupervised model (isolation forest or autoencoder)
//! fitted on every row as if all were normal traffic, with its alert threshold set on its own
//! training scores for a target false-alert rate.
//!
//! This is the workflow of a network with no labeled capture (Kitsune's: learn the first part
//! of the traffic, then detect). Labels, where rows carry them, are not looked at: the caller
//! hands over rows whose `target` is all `false`. The threshold is the lowest score at which at
//! most `target_far` of the training rows alert ([`threshold_for_false_alert_rate`]), so on the
//! training traffic itself the alert rate is at most the target; on later traffic of the same
//! network it is an estimate, and attacks inside the training traffic raise the threshold (the
//! model learns them as normal). The summary keeps a sketch of the training scores, so an
//! operator can ask for another rate (`--target-far`) without retraining.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::grouped::{GroupedBaseline, Member, MIN_GROUP_ROWS};
use crate::lab::{fit_setting, ModelKind, Trained, TrainedModel};
use crate::metrics::BinaryMetrics;
use crate::operating::BenignSketch;
use crate::threshold::{threshold_for_false_alert_rate, Threshold, ThresholdMethod};
use crate::tune::Setting;

/// The share of training flows a baseline alerts on unless told otherwise (1 %).
pub const DEFAULT_TARGET_FAR: f64 = 0.01;

/// The fewest rows a baseline is learned from.
pub const MIN_ROWS: usize = 10;

/// How a baseline's threshold was chosen, and the training scores behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// The false-alert rate asked for on the training flows.
    pub target_far: f64,
    /// The chosen threshold.
    pub threshold: f32,
    /// Training rows (all taken as normal traffic).
    pub rows: u64,
    /// Training rows at or above the threshold.
    pub alerts: u64,
    /// `alerts / rows`: at most `target_far`.
    pub achieved_far: f64,
    /// In words, for readers of the model file.
    pub description: String,
    /// A sketch of the training scores (for `--target-far` on the baseline).
    pub sketch: BenignSketch,
    /// With a baseline per group: each group's training rows and own threshold (groups
    /// without a model of their own are scored by the baseline over every row, `all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSummary>,
}

/// One group of a baseline per group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group (`service.dns`, `none`, `all`).
    pub group: String,
    /// Its training rows.
    pub rows: u64,
    /// Its own threshold (the group's scores are divided by it).
    pub threshold: f32,
}

/// Fits an unsupervised `kind` on every row of `data` as normal traffic and sets its threshold
/// for a false-alert rate of `target_far` on those rows. Refuses supervised kinds, rows marked
/// malicious (the caller drops labels first), fewer than [`MIN_ROWS`] rows and a rate outside
/// `(0, 1)`.
pub fn train_baseline(
    kind: ModelKind,
    data: &Dataset,
    target_far: f64,
    seed: u64,
) -> Result<(Trained, BaselineSummary)> {
    check(kind, data, target_far)?;
    let (model, params) = fit_setting(kind, &Setting::Default, data, seed)?;
    finish(model, params, data, target_far, Vec::new())
}

/// Checks what every baseline needs: an unsupervised kind, a rate in (0, 1), no row marked
/// malicious, at least [`MIN_ROWS`] rows.
fn check(kind: ModelKind, data: &Dataset, target_far: f64) -> Result<()> {
    data.validate()?;
    if kind.supervised() {
        return Err(Error::InvalidParams(format!(
            "a baseline without labels is an iforest or autoencoder, not {kind}"
        )));
    }
    if !(target_far > 0.0 && target_far < 1.0) {
        return Err(Error::InvalidParams(format!(
            "the target false-alert rate {target_far} is not in (0, 1)"
        )));
    }
    if data.target.iter().any(|t| *t) {
        return Err(Error::InvalidData(
            "a baseline is learned from rows taken as normal; drop the labels first".into(),
        ));
    }
    if data.n_rows() < MIN_ROWS {
        return Err(Error::InvalidData(format!(
            "{} flows are too few to learn a baseline from (at least {MIN_ROWS})",
            data.n_rows()
        )));
    }
    Ok(())
}

/// Sets a fitted baseline's threshold on its training scores and summarises it.
fn finish(
    model: TrainedModel,
    params: serde_json::Value,
    data: &Dataset,
    target_far: f64,
    groups: Vec<GroupSummary>,
) -> Result<(Trained, BaselineSummary)> {
    let scores = crate::Scorer::score_batch(&model, &data.features, data.n_features());
    let chosen = threshold_for_false_alert_rate(&scores, target_far).ok_or_else(|| {
        Error::InvalidData("every training score is NaN: no threshold can be set".into())
    })?;
    let validation = BinaryMetrics::compute(&scores, &data.target, chosen.value);
    let alerts = validation.fp;
    let rows = data.n_rows() as u64;
    let achieved = alerts as f64 / rows as f64;
    let sketch = BenignSketch::new("training".to_string(), &scores).ok_or_else(|| {
        Error::InvalidData("every training score is NaN: no threshold can be set".into())
    })?;
    let per_group = if groups.is_empty() {
        String::new()
    } else {
        format!(
            " (a model per group, {} groups, each score divided by its group's own threshold)",
            groups.len()
        )
    };
    let summary = BaselineSummary {
        target_far,
        threshold: chosen.value,
        rows,
        alerts,
        achieved_far: achieved,
        description: format!(
            "learned without labels from {rows} flows taken as normal traffic{per_group}; \
             threshold: the lowest score at which at most {target_far} of them alert ({alerts} do)"
        ),
        sketch,
        groups,
    };
    let trained = Trained {
        model,
        params,
        threshold: Threshold {
            value: chosen.value,
            method: ThresholdMethod::TrainingScores {
                target_far,
                achieved,
            },
            on_validation: false,
        },
        validation,
        fit_rows: data.n_rows(),
    };
    Ok((trained, summary))
}

/// Learns a baseline per group of the one-hot feature family `family` (`service`, `proto`):
/// one model per value with at least [`crate::grouped::MIN_GROUP_ROWS`] training rows, each
/// with its own threshold at `target_far`, and one over every row for the other groups; the
/// overall threshold is then set on the combined training scores like any baseline's.
pub fn train_grouped_baseline(
    kind: ModelKind,
    data: &Dataset,
    family: &str,
    target_far: f64,
    seed: u64,
) -> Result<(Trained, BaselineSummary)> {
    check(kind, data, target_far)?;
    let prefix = format!("{}.", family.trim_end_matches('.'));
    let columns: Vec<usize> = data
        .feature_names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with(&prefix))
        .map(|(i, _)| i)
        .collect();
    if columns.is_empty() {
        let mut families: Vec<&str> = data
            .feature_names
            .iter()
            .filter_map(|n| n.split_once('.').map(|(f, _)| f))
            .filter(|f| !f.ends_with("_host") && !f.starts_with("history"))
            .collect();
        families.dedup();
        return Err(Error::InvalidParams(format!(
            "no feature family `{family}`; one-hot families: {}",
            families.join(", ")
        )));
    }
    let fallback_fit = fit_setting(kind, &Setting::Default, data, seed)?;
    let member = |name: String, rows: &Dataset, model: TrainedModel| -> Result<Member> {
        let scores = crate::Scorer::score_batch(&model, &rows.features, rows.n_features());
        let t = threshold_for_false_alert_rate(&scores, target_far)
            .ok_or_else(|| Error::InvalidData(format!("{name}: every training score is NaN")))?;
        Ok(Member {
            group: name,
            rows: rows.n_rows() as u64,
            threshold: t.value,
            model: Box::new(model),
        })
    };
    let fallback = member("all".to_string(), data, fallback_fit.0)?;
    let probe = GroupedBaseline {
        kind,
        family: prefix.clone(),
        columns: columns.clone(),
        member_of: vec![None; columns.len() + 1],
        members: Vec::new(),
        fallback: fallback.clone(),
    };
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); columns.len() + 1];
    for i in 0..data.n_rows() {
        by_group[probe.group_of(data.row(i))].push(i);
    }
    let mut members = Vec::new();
    let mut member_of = vec![None; columns.len() + 1];
    for (g, rows) in by_group.iter().enumerate() {
        if rows.len() < MIN_GROUP_ROWS {
            continue;
        }
        let name = columns
            .get(g)
            .map_or_else(|| "none".to_string(), |&c| data.feature_names[c].clone());
        let subset = data.subset(rows);
        let (model, _) = fit_setting(kind, &Setting::Default, &subset, seed)?;
        member_of[g] = Some(members.len());
        members.push(member(name, &subset, model)?);
    }
    let mut groups: Vec<GroupSummary> = members
        .iter()
        .map(|m| GroupSummary {
            group: m.group.clone(),
            rows: m.rows,
            threshold: m.threshold,
        })
        .collect();
    let in_fallback: usize = by_group
        .iter()
        .zip(&member_of)
        .filter(|(_, m)| m.is_none())
        .map(|(r, _)| r.len())
        .sum();
    groups.push(GroupSummary {
        group: "all".to_string(),
        rows: in_fallback as u64,
        threshold: fallback.threshold,
    });
    let grouped = GroupedBaseline {
        kind,
        family: prefix,
        columns,
        member_of,
        members,
        fallback,
    };
    finish(
        TrainedModel::Grouped(grouped),
        fallback_fit.1,
        data,
        target_far,
        groups,
    )
}

impl BaselineSummary {
    /// Returns the threshold at which at most `rate` of the training flows alert, from the
    /// sketch (`None` below the sketch's smallest rate).
    pub fn threshold_for_rate(&self, rate: f64) -> Option<f32> {
        self.sketch.threshold_at(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::TrainedModel;
    use crate::tree::testdata::random_data;
    use crate::Scorer;

    fn normal(n: usize) -> Dataset {
        let mut d = random_data(n, 4, 1, 0.0);
        d.target = vec![false; n];
        d
    }

    #[test]
    fn the_threshold_flags_at_most_the_target_share_of_training_rows() {
        let d = normal(2_000);
        for kind in [ModelKind::Iforest, ModelKind::Autoencoder] {
            let (t, s) = train_baseline(kind, &d, 0.01, 1).unwrap();
            assert_eq!(s.rows, 2_000);
            assert_eq!(s.alerts, 20, "{kind}");
            assert_eq!(s.achieved_far, 0.01);
            assert_eq!(t.threshold.value, s.threshold);
            assert_eq!(
                t.threshold.method,
                ThresholdMethod::TrainingScores {
                    target_far: 0.01,
                    achieved: 0.01
                }
            );
            assert_eq!(s.threshold_for_rate(0.01), Some(s.threshold));
            // A point far outside the training cloud alerts, its centre does not.
            assert!(
                t.model.score(&[40.0, -40.0, 40.0, -40.0]) >= s.threshold,
                "{kind}"
            );
            assert!(t.model.score(&[0.5, 0.5, 0.5, 0.5]) < s.threshold, "{kind}");
        }
    }

    /// Two kinds of traffic: `service.a` flows near 0.5, `service.b` flows near 10.5; 30 rows
    /// of `service.c` (too few for a model of their own) and 20 rows of none.
    fn two_services() -> Dataset {
        let mut d = Dataset {
            feature_names: vec![
                "x".into(),
                "service.a".into(),
                "service.b".into(),
                "service.c".into(),
            ],
            ..Dataset::default()
        };
        let mut push = |x: f32, g: [f32; 3]| {
            d.features.extend_from_slice(&[x, g[0], g[1], g[2]]);
            d.target.push(false);
        };
        for i in 0..1_000 {
            let u = (i * 7919 % 1_000) as f32 / 1_000.0;
            push(u, [1.0, 0.0, 0.0]);
            push(10.0 + u, [0.0, 1.0, 0.0]);
        }
        for i in 0..30 {
            push(i as f32 / 30.0, [0.0, 0.0, 1.0]);
        }
        for i in 0..20 {
            push(i as f32 / 20.0, [0.0, 0.0, 0.0]);
        }
        d
    }

    #[test]
    fn a_baseline_per_group_knows_what_is_normal_for_each_group() {
        let d = two_services();
        let (t, s) = train_grouped_baseline(ModelKind::Iforest, &d, "service", 0.01, 1).unwrap();
        let groups: Vec<(&str, u64)> = s
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.rows))
            .collect();
        assert_eq!(
            groups,
            [("service.a", 1_000), ("service.b", 1_000), ("all", 50)]
        );
        assert_eq!((s.rows, s.alerts), (2_050, 20));
        // 10.5 is ordinary for the whole network (half its flows are near it) but not for a
        // `service.a` flow: the per-group baseline flags it, the single one does not.
        let odd = [10.5, 1.0, 0.0, 0.0];
        assert!(t.model.score(&odd) >= s.threshold);
        let (single, ss) = train_baseline(ModelKind::Iforest, &d, 0.01, 1).unwrap();
        assert!(single.model.score(&odd) < ss.threshold);
        // Round trip, and an unknown family is refused naming the known ones.
        let json = serde_json::to_string(&t.model).unwrap();
        let back: TrainedModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.score(&odd), t.model.score(&odd));
        assert_eq!(back.kind(), "iforest");
        let err = train_grouped_baseline(ModelKind::Iforest, &d, "proto", 0.01, 1)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no feature family `proto`; one-hot families: service"),
            "{err}"
        );
    }

    #[test]
    fn supervised_kinds_labels_and_tiny_inputs_are_refused() {
        let d = normal(100);
        let err = |r: Result<(Trained, BaselineSummary)>| r.err().unwrap().to_string();
        assert!(err(train_baseline(ModelKind::Forest, &d, 0.01, 1))
            .contains("an iforest or autoencoder, not forest"));
        assert!(err(train_baseline(ModelKind::Iforest, &d, 1.0, 1)).contains("not in (0, 1)"));
        let mut labeled = d.clone();
        labeled.target[3] = true;
        assert!(err(train_baseline(ModelKind::Iforest, &labeled, 0.01, 1))
            .contains("drop the labels first"));
        assert!(err(train_baseline(ModelKind::Iforest, &normal(9), 0.01, 1))
            .contains("9 flows are too few"));
    }
}
