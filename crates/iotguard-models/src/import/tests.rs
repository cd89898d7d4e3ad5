//! Tests of the importers on hand-written models whose every output is worked out by hand, and
//! on truncated and garbled files (an error, never a panic). The Python-trained fixtures
//! (`testdata/import/`) are checked against the packages' own probabilities by the CLI tests.

use super::*;
use crate::model::Scorer;

/// Two trees: `a < 1` (missing left), then `b < 0` (missing right) / `a < 2` (missing left).
const XGB: &str = r#"{"learner": {
  "attributes": {},
  "feature_names": ["a", "b"],
  "feature_types": ["float", "float"],
  "gradient_booster": {"name": "gbtree", "model": {
    "gbtree_model_param": {"num_trees": "2"},
    "tree_info": [0, 0],
    "trees": [
      {"id": 0, "left_children": [1, -1, -1], "right_children": [2, -1, -1],
       "split_indices": [0, 0, 0], "split_conditions": [1.0, 0.5, -0.25],
       "default_left": [1, 0, 0], "sum_hessian": [10.0, 6.0, 4.0], "split_type": [0, 0, 0]},
      {"id": 1, "left_children": [1, -1, 3, -1, -1], "right_children": [2, -1, 4, -1, -1],
       "split_indices": [1, 0, 0, 0, 0], "split_conditions": [0.0, 0.125, 2.0, 0.25, -0.375],
       "default_left": [false, false, true, false, false],
       "sum_hessian": [10.0, 5.0, 5.0, 2.0, 3.0]}
    ]}},
  "learner_model_param": {"base_score": "[2E-1]", "num_class": "0", "num_feature": "2", "num_target": "1"},
  "objective": {"name": "binary:logistic"}},
 "version": [3, 0, 0]}"#;

/// Tree 0: `a <= 0.5` (missing type None, so NaN is 0: left), then `b <= 1.0000000000000002`
/// (missing type NaN, default right). Tree 1: a single leaf. `sigmoid:2` doubles the margin.
const LGB: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:2
feature_names=a b
feature_infos=[0:1] [0:1]
tree_sizes=1 1

Tree=0
num_leaves=3
num_cat=0
split_feature=0 1
split_gain=1 1
threshold=0.5 1.0000000000000002
decision_type=2 8
left_child=1 -1
right_child=-2 -3
leaf_value=0.25 -0.5 0.125
leaf_weight=1 1 1
leaf_count=5 3 2
internal_value=0 0
internal_weight=0 0
internal_count=10 7
is_linear=0
shrinkage=1


Tree=1
num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=-0.0625
leaf_weight=
leaf_count=
internal_value=
internal_weight=
internal_count=
is_linear=0
shrinkage=1


end of trees

parameters:
[boosting: gbdt]
end of parameters
";

#[test]
fn xgboost_splits_base_score_and_missing_values_are_xgboosts() {
    let m = import(Source::Xgboost, XGB).unwrap();
    assert_eq!(m.feature_names, ["a", "b"]);
    let init = f64::from(0.2f32).ln() - f64::from(1.0f32 - 0.2f32).ln();
    assert_eq!(m.model.init, init);
    let nan = f32::NAN;
    for (row, leaves) in [
        // a < 1 left (0.5); b < 0 left (0.125).
        ([0.999_999_94, -1.0], 0.5 + 0.125),
        // a = 1 is not < 1: right (-0.25); b = 0 is not < 0: right, a < 2: left (0.25).
        ([1.0, 0.0], -0.25 + 0.25),
        // a = 2 is not < 2: right (-0.375).
        ([2.0, 5.0], -0.25 - 0.375),
        // Missing a: left (0.5); missing b: right, then missing a: left (0.25).
        ([nan, nan], 0.5 + 0.25),
    ] {
        assert_eq!(m.model.raw(&row), init + leaves, "{row:?}");
        let p = 1.0 / (1.0 + (-(init + leaves)).exp());
        assert_eq!(m.model.score(&row), p as f32, "{row:?}");
    }
    assert_eq!(m.source["version"], serde_json::json!([3, 0, 0]));
    assert_eq!(m.source["trees"], 2);
    assert_eq!(m.source["best_iteration"], serde_json::Value::Null);
    let stopped = XGB.replace(
        r#""attributes": {}"#,
        r#""attributes": {"best_iteration": "0"}"#,
    );
    let m = import(Source::Xgboost, &stopped).unwrap();
    assert_eq!(m.source["best_iteration"], 0);
}

#[test]
fn lightgbm_splits_missing_types_and_sigmoid_are_lightgbms() {
    let m = import(Source::Lightgbm, LGB).unwrap();
    assert_eq!(m.feature_names, ["a", "b"]);
    assert_eq!(m.model.init, 0.0);
    let nan = f32::NAN;
    for (row, leaves) in [
        // a <= 0.5 left; b = 1 <= 1.0000000000000002 left (0.25).
        ([0.5, 1.0], 0.25),
        // b just above 1 in f32: right (0.125).
        ([0.0, 1.000_000_1], 0.125),
        // a just above 0.5: right (-0.5).
        ([0.500_000_06, 0.0], -0.5),
        // NaN a is 0 (None): left; NaN b (NaN type, default right): 0.125.
        ([nan, nan], 0.125),
    ] {
        assert_eq!(m.model.raw(&row), 2.0 * (leaves - 0.0625), "{row:?}");
    }
    assert_eq!(m.source["sigmoid"], 2.0);
}

#[test]
fn imported_trees_are_explained_exactly() {
    for (source, text) in [(Source::Xgboost, XGB), (Source::Lightgbm, LGB)] {
        let m = import(source, text).unwrap();
        for row in [[0.2f32, -3.0], [1.5, f32::NAN], [f32::NAN, 0.0]] {
            let e = m.model.explain(&row);
            let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
            assert!((e.base + sum - e.raw).abs() < 1e-12, "{source:?} {row:?}");
            assert_eq!(e.raw, m.model.raw(&row));
        }
    }
}

#[test]
fn thresholds_convert_exactly_to_f32() {
    assert_eq!(next_down(1.0), 0.999_999_94);
    assert_eq!(next_down(0.0), -f32::from_bits(1));
    assert_eq!(next_down(-1.0), -1.000_000_1);
    assert_eq!(next_down(f32::INFINITY), f32::MAX);
    // 0.1 rounds up to f32: the threshold is the f32 below it.
    assert!(f64::from(f32_at_or_below(0.1)) < 0.1);
    assert_eq!(f32_at_or_below(0.1), next_down(0.1f32));
    // 0.5 is an f32 already; 1e300 is above every finite f32.
    assert_eq!(f32_at_or_below(0.5), 0.5);
    assert_eq!(f32_at_or_below(1e300), f32::MAX);
}

#[test]
fn a_feature_name_mismatch_names_the_first_one() {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    check_feature_names(&names(&["a", "b"]), &names(&["a", "b"])).unwrap();
    let err = check_feature_names(&names(&["a", "x", "y"]), &names(&["a", "b", "c"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "import: feature 1 of the model is `x` where the feature schema has `b`; train on the \
         columns `iotguard features` wrote, in their order"
    );
    let err = check_feature_names(&names(&["a"]), &names(&["a", "b"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "import: the model has 1 features and the feature schema 2: the feature schema has `b` \
         (feature 1) and the other ends before it"
    );
}

#[test]
fn unsupported_models_are_refused_saying_why() {
    for (source, text, why) in [
        (
            Source::Xgboost,
            XGB.replace("binary:logistic", "multi:softprob"),
            "objective `multi:softprob`",
        ),
        (
            Source::Xgboost,
            XGB.replace("\"gbtree\"", "\"dart\""),
            "booster `dart`",
        ),
        (
            Source::Xgboost,
            XGB.replace(r#""feature_names": ["a", "b"],"#, "")
                .replace(r#""num_feature": "2", "#, ""),
            "neither feature names nor `learner_model_param.num_feature`",
        ),
        (
            Source::Xgboost,
            XGB.replace("\"split_type\": [0, 0, 0]", "\"split_type\": [1, 0, 0]"),
            "categorical",
        ),
        (
            Source::Lightgbm,
            LGB.replace("decision_type=2 8", "decision_type=3 8"),
            "categorical",
        ),
        (
            Source::Lightgbm,
            LGB.replace("binary sigmoid:2", "regression"),
            "objective `regression`",
        ),
        (
            Source::Lightgbm,
            LGB.replace("decision_type=2 8", "decision_type=4 8"),
            "zero_as_missing",
        ),
        (
            Source::Lightgbm,
            LGB.replace("split_feature=0 1", "split_feature=0 7"),
            "feature 7",
        ),
        (
            Source::Lightgbm,
            LGB.replace("left_child=1 -1", "left_child=0 -1"),
            "reached twice",
        ),
        (
            Source::Xgboost,
            XGB.replace("[1, -1, 3, -1, -1]", "[1, -1, 9, -1, -1]"),
            "child 9",
        ),
    ] {
        let err = import(source, &text).unwrap_err().to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn truncated_or_garbled_files_are_errors_not_panics() {
    for (source, text) in [(Source::Xgboost, XGB), (Source::Lightgbm, LGB)] {
        let end = text.find("end of trees").unwrap_or(text.len() - 1);
        for cut in (0..end).step_by(7) {
            assert!(
                import(source, &text[..cut]).is_err(),
                "{source:?} cut at {cut}"
            );
        }
        // Every digit replaced in turn by a sign or a letter: an error or a model, never a panic.
        for (i, _) in text.match_indices(|c: char| c.is_ascii_digit()) {
            for by in ["-", "x", "9"] {
                let garbled = format!("{}{by}{}", &text[..i], &text[i + 1..]);
                let _ = import(source, &garbled);
            }
        }
    }
}

#[test]
fn the_python_trained_fixtures_cut_short_are_errors_not_panics() {
    let xgb = include_str!("../../../../testdata/import/xgboost.json");
    let lgb = include_str!("../../../../testdata/import/lightgbm.txt");
    for (source, text) in [(Source::Xgboost, xgb), (Source::Lightgbm, lgb)] {
        let full = import(source, text).unwrap();
        assert_eq!(full.model.trees.len(), 12);
        let end = text.find("end of trees").unwrap_or(text.len() - 2);
        for k in 1..=40 {
            let cut = end * k / 41;
            let cut = (cut..).find(|&c| text.is_char_boundary(c)).unwrap();
            assert!(
                import(source, &text[..cut]).is_err(),
                "{source:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn a_tree_deeper_than_the_limit_is_refused() {
    // A chain: node 2k splits, its left child 2k+1 is a leaf, its right child the next split.
    let chain = |splits: usize| -> Vec<RawNode> {
        let mut raw = Vec::new();
        for k in 0..splits {
            raw.push(RawNode {
                split: Some(RawSplit {
                    feature: 0,
                    threshold: k as f32,
                    default_left: true,
                    left: 2 * k + 1,
                    right: 2 * k + 2,
                }),
                value: 0.0,
                cover: 1.0,
            });
            raw.push(RawNode {
                split: None,
                value: 1.0,
                cover: 1.0,
            });
        }
        raw.push(RawNode {
            split: None,
            value: 2.0,
            cover: 1.0,
        });
        raw
    };
    assert_eq!(
        build_tree(&chain(MAX_DEPTH), 1, 0).unwrap().depth(),
        MAX_DEPTH
    );
    let err = build_tree(&chain(MAX_DEPTH + 1), 1, 7)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "import: tree 7: 129 levels deep: trees deeper than 128 are refused (TreeSHAP explains a \
         row by recursing over the tree's depth)"
    );
}

/// A booster saved without names (trained on a bare array, or by XGBoost4J-Spark on a vector
/// column) is read with positional names, says so, and scores as the named one.
#[test]
fn an_xgboost_booster_without_names_reads_by_position() {
    let named = import(Source::Xgboost, XGB).unwrap();
    let bare = import(
        Source::Xgboost,
        &XGB.replace(r#""feature_names": ["a", "b"],"#, r#""feature_names": [],"#),
    )
    .unwrap();
    assert!(named.named);
    assert!(!bare.named);
    assert_eq!(bare.feature_names, ["f0", "f1"]);
    for row in [
        [0.5f32, -1.0],
        [1.5, 0.25],
        [f32::NAN, 3.0],
        [2.5, f32::NAN],
    ] {
        assert_eq!(bare.model.score(&row), named.model.score(&row));
    }
}
