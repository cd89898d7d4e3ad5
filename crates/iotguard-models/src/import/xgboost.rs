//! XGBoost's JSON model format (`booster.save_model("m.json")`, XGBoost ≥ 1.0) for the
//! `binary:logistic` (or `reg:logistic`) objective with the `gbtree` booster.
//!
//! `learner.learner_model_param.base_score` is the intercept as a probability (XGBoost 3 writes
//! it as a one-element list, `"[5E-1]"`), so the base margin is its logit. A tree's nodes are
//! parallel arrays; a node whose `left_children` is −1 is a leaf and its value is in
//! `split_conditions` (already shrunk by the learning rate; `base_weights` are not). A split
//! sends `x < split_conditions` left and a missing value by `default_left`.

use serde_json::Value;

use super::{build_tree, next_down, Imported, RawNode, RawSplit};
use crate::boosting::GradientBoosting;
use crate::error::{Error, Result};

fn bad(why: impl std::fmt::Display) -> Error {
    Error::Import(format!("XGBoost JSON: {why}"))
}

/// Returns `v[key]`, or an error naming the path when it is absent.
fn get<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a Value> {
    v.get(key).ok_or_else(|| bad(format!("no `{path}{key}`")))
}

fn str_of<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a str> {
    get(v, path, key)?
        .as_str()
        .ok_or_else(|| bad(format!("`{path}{key}` is not a string")))
}

/// Returns an array of numbers (or booleans, as 0/1).
fn numbers(tree: &Value, key: &str, t: usize) -> Result<Vec<f64>> {
    let arr = tree
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("tree {t} has no `{key}` array")))?;
    arr.iter()
        .map(|x| match x {
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            _ => x
                .as_f64()
                .ok_or_else(|| bad(format!("tree {t}: `{key}` holds {x}, not a number"))),
        })
        .collect()
}

/// Parses a base score: `"5E-1"`, `"[5E-1]"` or a number.
fn base_score(v: &Value) -> Result<f32> {
    let text = match v {
        Value::String(s) => s
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim(),
        Value::Number(n) => return Ok(n.as_f64().unwrap_or(f64::NAN) as f32),
        _ => return Err(bad(format!("base_score {v} is not a number"))),
    };
    if text.contains(',') {
        return Err(bad(format!(
            "base_score {v} has several values: only one output (binary) is supported"
        )));
    }
    text.parse::<f32>()
        .map_err(|_| bad(format!("base_score {v} is not a number")))
}

pub(super) fn parse(text: &str) -> Result<Imported> {
    let root: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let learner = get(&root, "", "learner")?;
    let objective = str_of(
        get(learner, "learner.", "objective")?,
        "learner.objective.",
        "name",
    )?;
    if !matches!(objective, "binary:logistic" | "reg:logistic") {
        return Err(bad(format!(
            "objective `{objective}`: only binary:logistic (probability of malicious) is supported"
        )));
    }
    let params = get(learner, "learner.", "learner_model_param")?;
    for (key, want) in [("num_class", "0"), ("num_target", "1")] {
        if let Some(v) = params.get(key).and_then(Value::as_str) {
            if v != want {
                return Err(bad(format!(
                    "{key} {v}: only one binary output is supported"
                )));
            }
        }
    }
    let base = base_score(get(params, "learner.learner_model_param.", "base_score")?)?;
    if !(base > 0.0 && base < 1.0) {
        return Err(bad(format!(
            "base_score {base} is not a probability strictly between 0 and 1"
        )));
    }
    let booster = get(learner, "learner.", "gradient_booster")?;
    let name = str_of(booster, "learner.gradient_booster.", "name")?;
    if name != "gbtree" {
        return Err(bad(format!(
            "booster `{name}`: only gbtree is supported (dart and gblinear are not)"
        )));
    }
    let feature_names: Vec<String> = match learner.get("feature_names").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a feature name is not a string"))?,
        None => Vec::new(),
    };
    // Without names (a bare array, a Spark vector column), the count is `num_feature`.
    let named = !feature_names.is_empty();
    let feature_names = if named {
        feature_names
    } else {
        let count = learner
            .get("learner_model_param")
            .and_then(|p| p.get("num_feature"))
            .and_then(Value::as_str)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad("the model has neither feature names nor `learner_model_param.num_feature`")
            })?;
        (0..count).map(|i| format!("f{i}")).collect()
    };
    if let Some(types) = learner.get("feature_types").and_then(Value::as_array) {
        if let Some(i) = types.iter().position(|t| t.as_str() == Some("c")) {
            return Err(bad(format!(
                "feature `{}` is categorical: categorical splits are not supported",
                feature_names.get(i).map_or("?", String::as_str)
            )));
        }
    }
    let model = get(booster, "learner.gradient_booster.", "model")?;
    let trees = get(model, "learner.gradient_booster.model.", "trees")?
        .as_array()
        .ok_or_else(|| bad("`trees` is not an array"))?;
    let n_features = feature_names.len();
    let mut out = Vec::with_capacity(trees.len());
    for (t, tree) in trees.iter().enumerate() {
        out.push(parse_tree(tree, t, n_features)?);
    }
    let version = root.get("version").cloned().unwrap_or(Value::Null);
    // Early stopping records its best round; every saved tree is imported all the same, as
    // `Booster.predict` scores with all of them.
    let best_iteration = learner
        .get("attributes")
        .and_then(|a| a.get("best_iteration"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u64>().ok());
    let init = f64::from(base).ln() - f64::from(1.0 - base).ln();
    Ok(Imported {
        model: GradientBoosting {
            init,
            trees: out,
            n_features,
            validation_loss: None,
        },
        feature_names,
        named,
        source: serde_json::json!({
            "package": "xgboost",
            "version": version,
            "objective": objective,
            "trees": trees.len(),
            "base_score": base,
            "best_iteration": best_iteration,
        }),
    })
}

fn parse_tree(tree: &Value, t: usize, n_features: usize) -> Result<crate::tree::Tree> {
    if let Some(types) = tree.get("split_type").and_then(Value::as_array) {
        if types.iter().any(|x| x.as_u64() != Some(0)) {
            return Err(bad(format!(
                "tree {t} has a categorical split: not supported"
            )));
        }
    }
    let left = numbers(tree, "left_children", t)?;
    let right = numbers(tree, "right_children", t)?;
    let feature = numbers(tree, "split_indices", t)?;
    let cond = numbers(tree, "split_conditions", t)?;
    let default_left = numbers(tree, "default_left", t)?;
    let hess = numbers(tree, "sum_hessian", t)?;
    let n = left.len();
    if [&right, &feature, &cond, &default_left, &hess]
        .iter()
        .any(|a| a.len() != n)
    {
        return Err(bad(format!("tree {t}: its node arrays differ in length")));
    }
    let index = |x: f64, what: &str, i: usize| -> Result<usize> {
        if x >= 0.0 && x.fract() == 0.0 && x < n.max(n_features) as f64 {
            Ok(x as usize)
        } else {
            Err(bad(format!("tree {t}: node {i} has {what} {x}")))
        }
    };
    let mut raw = Vec::with_capacity(n);
    for i in 0..n {
        let split = if left[i] == -1.0 {
            None
        } else {
            Some(RawSplit {
                feature: index(feature[i], "feature", i)?,
                // x < c (in f32) is x <= the f32 just below c.
                threshold: next_down(cond[i] as f32),
                default_left: default_left[i] != 0.0,
                left: index(left[i], "left child", i)?,
                right: index(right[i], "right child", i)?,
            })
        };
        raw.push(RawNode {
            split,
            value: f64::from(cond[i] as f32),
            cover: hess[i],
        });
    }
    build_tree(&raw, n_features, t)
}
