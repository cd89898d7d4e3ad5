//! Choosing a kind's hyperparameters out of sample: nested leave-one-capture-out.
//!
//! A setting chosen by the captures it is then scored on is not an honest number. [`tune`]
//! chooses among a kind's fixed [`grid`] using the training captures only: each training
//! capture is held out in turn, every setting is trained on the others (the same
//! fit-then-threshold workflow as [`crate::lab::train`]), and the held-out capture's flows are
//! flagged at that model's threshold. The setting with the best Matthews correlation over the
//! pooled inner held-out flows wins (ties go to the earlier setting). MCC, not F1, because it
//! weighs false alerts on benign flows as well as missed attacks, and both must transfer to a
//! new network. The grid was fixed before any nested run and is listed in BENCHMARKS.md.
//!
//! Kinds without a grid have one setting, their default, and tuning them is a no-op.

use serde::{Deserialize, Serialize};

use crate::boosting::GradientBoostingParams;
use crate::cv::{distinct_groups, leave_one_group_out};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::lab::{train_setting, ModelKind};
use crate::metrics::BinaryMetrics;
use crate::model::Scorer;

/// The tree shape and sampling of a gradient-boosting setting (the rest: 100 rounds, 255 bins,
/// balanced class weights, λ = 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GbdtSetting {
    /// Maximum depth; `None` limits trees by leaves only.
    pub max_depth: Option<usize>,
    /// Maximum leaves per tree.
    pub max_leaves: usize,
    /// Shrinkage.
    pub learning_rate: f64,
    /// Minimum training rows per leaf.
    pub min_samples_leaf: usize,
    /// Share of features drawn for each tree.
    pub colsample: f64,
    /// Share of rows drawn for each tree.
    pub subsample: f64,
}

impl GbdtSetting {
    /// The lab's default: depth-wise trees of depth 6, shrinkage 0.3, no minimum leaf size
    /// (XGBoost's defaults). It was picked among [`GBDT_GRID`] by its leave-one-capture-out
    /// result on the shared captures, so that result is not out of sample; `--tune` gives the
    /// honest one (BENCHMARKS.md, "Hyperparameters chosen out of sample").
    pub const DEFAULT: GbdtSetting = GbdtSetting {
        max_depth: Some(6),
        max_leaves: 64,
        learning_rate: 0.3,
        min_samples_leaf: 1,
        colsample: 1.0,
        subsample: 1.0,
    };

    /// Returns `base` with this setting's fields.
    pub fn apply(&self, base: GradientBoostingParams) -> GradientBoostingParams {
        GradientBoostingParams {
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            learning_rate: self.learning_rate,
            min_samples_leaf: self.min_samples_leaf,
            colsample: self.colsample,
            subsample: self.subsample,
            ..base
        }
    }

    /// Returns a short name such as `depth6-lr0.3-leaf1`.
    pub fn name(&self) -> String {
        let shape = match self.max_depth {
            Some(d) => format!("depth{d}"),
            None => format!("leaves{}", self.max_leaves),
        };
        let mut s = format!(
            "{shape}-lr{}-leaf{}",
            self.learning_rate, self.min_samples_leaf
        );
        if self.colsample < 1.0 {
            s += &format!("-col{}", self.colsample);
        }
        if self.subsample < 1.0 {
            s += &format!("-row{}", self.subsample);
        }
        s
    }
}

/// Gradient boosting's grid: LightGBM's defaults, XGBoost's defaults and four variations on
/// them (leaf size, feature and row sampling, shallower trees).
pub const GBDT_GRID: [GbdtSetting; 6] = [
    GbdtSetting {
        max_depth: None,
        max_leaves: 31,
        learning_rate: 0.1,
        min_samples_leaf: 20,
        colsample: 1.0,
        subsample: 1.0,
    },
    GbdtSetting::DEFAULT,
    GbdtSetting {
        colsample: 0.5,
        ..GbdtSetting::DEFAULT
    },
    GbdtSetting {
        min_samples_leaf: 20,
        ..GbdtSetting::DEFAULT
    },
    GbdtSetting {
        max_depth: None,
        max_leaves: 15,
        learning_rate: 0.1,
        min_samples_leaf: 100,
        colsample: 0.5,
        subsample: 0.8,
    },
    GbdtSetting {
        max_depth: Some(4),
        max_leaves: 16,
        learning_rate: 0.1,
        min_samples_leaf: 50,
        colsample: 0.3,
        subsample: 1.0,
    },
];

/// One hyperparameter setting of a model kind.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The kind's default hyperparameters.
    Default,
    /// A gradient-boosting setting.
    Gbdt(GbdtSetting),
}

impl Setting {
    /// Returns the setting's name (`default` for a kind's only setting).
    pub fn name(&self) -> String {
        match self {
            Setting::Default => "default".into(),
            Setting::Gbdt(g) => g.name(),
        }
    }
}

/// How a kind's hyperparameters are set for a training run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Choice {
    /// Every kind at its default.
    Default,
    /// Chosen by [`tune`] on the training captures.
    Tune,
    /// Gradient boosting at this setting (given by the user, e.g. one of [`GBDT_GRID`]); the
    /// other kinds at their defaults.
    Gbdt(GbdtSetting),
}

impl Choice {
    /// Returns the setting `kind` trains with on `data`, and how it was tuned when it was; the
    /// groups in `train_only` are never held out ([`tune`]).
    ///
    /// Errors as [`tune`] does.
    pub fn resolve(
        &self,
        kind: ModelKind,
        data: &Dataset,
        seed: u64,
        train_only: &[u32],
    ) -> Result<(Setting, Option<Tuned>)> {
        match self {
            Choice::Default => Ok((Setting::Default, None)),
            Choice::Tune => {
                let t = tune(kind, data, seed, train_only)?;
                Ok((t.chosen, Some(t)))
            }
            Choice::Gbdt(g) if kind == ModelKind::Gbdt => Ok((Setting::Gbdt(*g), None)),
            Choice::Gbdt(_) => Ok((Setting::Default, None)),
        }
    }
}

/// Returns the [`GBDT_GRID`] setting named `name` (as [`GbdtSetting::name`] spells it).
///
/// Errors with the list of names when there is none.
pub fn gbdt_setting(name: &str) -> Result<GbdtSetting> {
    GBDT_GRID
        .iter()
        .find(|g| g.name() == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<String> = GBDT_GRID.iter().map(GbdtSetting::name).collect();
            Error::InvalidData(format!(
                "no gbdt setting named {name:?}; the grid has {}",
                names.join(", ")
            ))
        })
}

/// Returns the settings [`tune`] chooses among for `kind`, the kind's default first when it
/// has one setting only.
pub fn grid(kind: ModelKind) -> Vec<Setting> {
    match kind {
        ModelKind::Gbdt => GBDT_GRID.iter().copied().map(Setting::Gbdt).collect(),
        _ => vec![Setting::Default],
    }
}

/// One setting's result over the inner folds.
#[derive(Clone, Debug, Serialize)]
pub struct SettingScore {
    /// The setting.
    pub setting: Setting,
    /// Its name.
    pub name: String,
    /// Pooled over every inner held-out flow, each at its inner model's threshold.
    pub inner: BinaryMetrics,
}

/// What [`tune`] chose and why.
#[derive(Clone, Debug, Serialize)]
pub struct Tuned {
    /// The chosen setting.
    pub chosen: Setting,
    /// Every setting's inner result, in grid order.
    pub scores: Vec<SettingScore>,
    /// Inner folds used (captures held out in turn).
    pub inner_folds: usize,
    /// Inner folds skipped because their training captures held one class only.
    pub skipped_folds: usize,
}

/// Chooses `kind`'s setting by nested leave-one-capture-out over `data`'s groups (see the
/// module doc); the groups in `train_only` (augmented data) are in every fold's training rows
/// and never held out. A kind with one setting returns it without training anything.
///
/// Errors if `data` has fewer than two groups to hold out or no inner fold can train.
pub fn tune(kind: ModelKind, data: &Dataset, seed: u64, train_only: &[u32]) -> Result<Tuned> {
    let settings = grid(kind);
    if settings.len() == 1 {
        return Ok(Tuned {
            chosen: settings[0],
            scores: Vec::new(),
            inner_folds: 0,
            skipped_folds: 0,
        });
    }
    let groups = distinct_groups(&data.group)
        .iter()
        .filter(|g| !train_only.contains(g))
        .count();
    if groups < 2 {
        return Err(Error::InvalidData(format!(
            "choosing hyperparameters out of sample needs at least two captures, got {groups}"
        )));
    }
    let folds: Vec<_> = leave_one_group_out(&data.group)?
        .into_iter()
        .filter(|f| !train_only.contains(&data.group[f.test[0]]))
        .collect();
    // Inner folds whose training side holds one class cannot train a classifier (or, for the
    // unsupervised kinds, has no benign rows): skipped for every setting alike.
    let usable: Vec<_> = folds
        .iter()
        .filter(|f| {
            let malicious = f.train.iter().filter(|&&i| data.target[i]).count();
            malicious > 0 && malicious < f.train.len()
        })
        .collect();
    if usable.is_empty() {
        return Err(Error::InvalidData(
            "no inner fold has both classes in its training captures".into(),
        ));
    }
    let mut scores = Vec::with_capacity(settings.len());
    for setting in settings {
        let (mut alert, mut target) = (Vec::new(), Vec::new());
        for fold in &usable {
            let trained = train_setting(kind, &setting, &data.subset(&fold.train), seed)?;
            let test = data.subset(&fold.test);
            let s = trained.model.score_batch(&test.features, test.n_features());
            alert.extend(s.iter().map(|&v| trained.threshold.is_alert(v)));
            target.extend_from_slice(&test.target);
        }
        scores.push(SettingScore {
            setting,
            name: setting.name(),
            inner: BinaryMetrics::from_predictions(&alert, &target, None),
        });
    }
    let mcc = |s: &SettingScore| s.inner.mcc.unwrap_or(f64::NEG_INFINITY);
    let best = scores
        .iter()
        .enumerate()
        .fold(0, |b, (i, s)| if mcc(s) > mcc(&scores[b]) { i } else { b });
    Ok(Tuned {
        chosen: scores[best].setting,
        inner_folds: usable.len(),
        skipped_folds: folds.len() - usable.len(),
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Three captures: the signal is x0 > 0.5 everywhere; x1 is a capture-specific shortcut
    /// (malicious when x1 > 0.5 in captures 0 and 1, the opposite in capture 2).
    fn captures(seed: u64) -> Dataset {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut d = Dataset {
            feature_names: vec!["x0".into(), "x1".into()],
            group_names: vec!["a".into(), "b".into(), "c".into()],
            ..Dataset::default()
        };
        for g in 0..3u32 {
            for _ in 0..300 {
                let x0: f32 = rng.random();
                let y = x0 > 0.5;
                let x1 = if y == (g < 2) { 0.75 } else { 0.25 } + rng.random::<f32>() * 0.1;
                d.features.extend_from_slice(&[x0, x1]);
                d.target.push(y);
                d.group.push(g);
            }
        }
        d
    }

    #[test]
    fn gbdt_tuning_scores_every_setting_on_held_out_captures_and_picks_the_best_mcc() {
        let d = captures(3);
        let t = tune(ModelKind::Gbdt, &d, 1, &[]).unwrap();
        assert_eq!(t.inner_folds, 3);
        assert_eq!(t.skipped_folds, 0);
        assert_eq!(t.scores.len(), GBDT_GRID.len());
        for s in &t.scores {
            assert_eq!(s.inner.n, 900, "{}", s.name);
        }
        let best = t
            .scores
            .iter()
            .map(|s| s.inner.mcc.unwrap_or(f64::NEG_INFINITY))
            .fold(f64::NEG_INFINITY, f64::max);
        let chosen = t.scores.iter().find(|s| s.setting == t.chosen).unwrap();
        assert_eq!(chosen.inner.mcc, Some(best));
        // Deterministic under the seed.
        let again = tune(ModelKind::Gbdt, &d, 1, &[]).unwrap();
        assert_eq!(again.chosen, t.chosen);
        // A train-only capture is fitted on in every fold and never held out.
        let t = tune(ModelKind::Gbdt, &d, 1, &[2]).unwrap();
        assert_eq!(t.inner_folds, 2);
        assert!(t.scores.iter().all(|s| s.inner.n == 600));
        assert!(tune(ModelKind::Gbdt, &d, 1, &[1, 2]).is_err());
    }

    #[test]
    fn kinds_without_a_grid_keep_their_default_and_one_capture_is_refused() {
        let d = captures(4);
        let t = tune(ModelKind::Logreg, &d, 1, &[]).unwrap();
        assert_eq!(t.chosen, Setting::Default);
        assert!(t.scores.is_empty());
        let mut one = d.clone();
        one.group = vec![0; one.n_rows()];
        let e = tune(ModelKind::Gbdt, &one, 1, &[]).unwrap_err().to_string();
        assert!(e.contains("at least two captures"), "{e}");
    }

    #[test]
    fn settings_are_found_by_name_and_applied_to_gbdt_only() {
        for g in GBDT_GRID {
            assert_eq!(gbdt_setting(&g.name()).unwrap(), g);
        }
        let err = gbdt_setting("depth7").unwrap_err().to_string();
        assert!(
            err.contains("depth7") && err.contains("leaves31-lr0.1-leaf20"),
            "{err}"
        );
        let d = captures(1);
        let fixed = Choice::Gbdt(GBDT_GRID[5]);
        let (gbdt, tuned) = fixed.resolve(ModelKind::Gbdt, &d, 1, &[]).unwrap();
        assert_eq!((gbdt, tuned.is_none()), (Setting::Gbdt(GBDT_GRID[5]), true));
        let (tree, _) = fixed.resolve(ModelKind::Tree, &d, 1, &[]).unwrap();
        assert_eq!(tree, Setting::Default);
        assert_eq!(
            Choice::Default
                .resolve(ModelKind::Gbdt, &d, 1, &[])
                .unwrap()
                .0,
            Setting::Default
        );
    }

    #[test]
    fn setting_names_say_what_differs() {
        assert_eq!(GbdtSetting::DEFAULT.name(), "depth6-lr0.3-leaf1");
        assert_eq!(GBDT_GRID[0].name(), "leaves31-lr0.1-leaf20");
        assert_eq!(GBDT_GRID[4].name(), "leaves15-lr0.1-leaf100-col0.5-row0.8");
        let names: std::collections::HashSet<String> =
            GBDT_GRID.iter().map(GbdtSetting::name).collect();
        assert_eq!(names.len(), GBDT_GRID.len());
    }
}
