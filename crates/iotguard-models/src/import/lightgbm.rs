//! LightGBM's text model format (`booster.save_model("m.txt")`) for the `binary` objective.
//!
//! A header of `key=value` lines, then one `Tree=N` block per tree, then `end of trees` (a file
//! without it is refused as truncated). In a tree, internal node `i`'s children are internal
//! nodes when non-negative and leaf `!child` when negative; `threshold` is an `f64` and
//! `x <= threshold` goes left. `decision_type` packs bit 0 categorical (refused), bit 1 default
//! left, bits 2–3 the missing type (0 None: a NaN is compared as 0; 1 Zero: 0 and NaN take the
//! default side; 2 NaN: NaN takes the default side). The output is
//! `sigmoid(k · Σ leaf_value)` with `k` the objective's `sigmoid:` parameter (1 by default);
//! boost-from-average is already inside the first tree's leaves.

use std::collections::HashMap;

use super::{build_tree, f32_at_or_below, Imported, RawNode, RawSplit};
use crate::boosting::GradientBoosting;
use crate::error::{Error, Result};

fn bad(why: impl std::fmt::Display) -> Error {
    Error::Import(format!("LightGBM text model: {why}"))
}

/// LightGBM's `kZeroThreshold`: |x| at or under it is zero for the Zero missing type.
const ZERO: f64 = 1e-35_f32 as f64;

/// Returns the `key=value` lines of one block.
fn block(lines: &[&str]) -> HashMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub(super) fn parse(text: &str) -> Result<Imported> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.first().map(|l| l.trim()) != Some("tree") {
        return Err(bad("it does not start with the line `tree`"));
    }
    let end = lines
        .iter()
        .position(|l| l.trim() == "end of trees")
        .ok_or_else(|| bad("no `end of trees` line: the file is truncated"))?;
    let starts: Vec<usize> = (0..end)
        .filter(|&i| lines[i].starts_with("Tree="))
        .collect();
    let header = block(&lines[..starts.first().copied().unwrap_or(end)]);
    let head = |key: &str| {
        header
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| bad(format!("no `{key}` in the header")))
    };
    for key in ["num_class", "num_tree_per_iteration"] {
        if head(key)? != "1" {
            return Err(bad(format!(
                "{key}={}: only one binary output is supported",
                head(key)?
            )));
        }
    }
    if header.contains_key("average_output") {
        return Err(bad("random-forest mode (average_output) is not supported"));
    }
    let objective = head("objective")?;
    let mut words = objective.split_whitespace();
    if words.next() != Some("binary") {
        return Err(bad(format!(
            "objective `{objective}`: only binary (probability of malicious) is supported"
        )));
    }
    let mut sigmoid = 1.0;
    for w in words {
        if let Some(v) = w.strip_prefix("sigmoid:") {
            sigmoid = v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| bad(format!("objective `{objective}`: bad sigmoid {v}")))?;
        }
    }
    let feature_names: Vec<String> = head("feature_names")?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if feature_names.is_empty() {
        return Err(bad("no feature names"));
    }
    let n_features = feature_names.len();
    let mut trees = Vec::with_capacity(starts.len());
    for (t, &s) in starts.iter().enumerate() {
        let stop = starts.get(t + 1).copied().unwrap_or(end);
        trees.push(parse_tree(
            &block(&lines[s + 1..stop]),
            t,
            n_features,
            sigmoid,
        )?);
    }
    let version = header.get("version").cloned();
    Ok(Imported {
        model: GradientBoosting {
            init: 0.0,
            trees,
            n_features,
            validation_loss: None,
        },
        feature_names,
        // LightGBM always writes names (`Column_0`, ... for a bare array).
        named: true,
        source: serde_json::json!({
            "package": "lightgbm",
            "version": version,
            "objective": objective,
            "trees": starts.len(),
            "sigmoid": sigmoid,
        }),
    })
}

/// Returns the numbers of a tree's `key` line (none when the line is absent or empty).
fn numbers(b: &HashMap<String, String>, key: &str, t: usize) -> Result<Vec<f64>> {
    let Some(line) = b.get(key) else {
        return Ok(Vec::new());
    };
    line.split_whitespace()
        .map(|w| {
            w.parse::<f64>()
                .map_err(|_| bad(format!("tree {t}: `{key}` holds `{w}`, not a number")))
        })
        .collect()
}

/// Returns the integers of a tree's `key` line.
fn integers(b: &HashMap<String, String>, key: &str, t: usize) -> Result<Vec<i64>> {
    let Some(line) = b.get(key) else {
        return Ok(Vec::new());
    };
    line.split_whitespace()
        .map(|w| {
            w.parse::<i64>()
                .map_err(|_| bad(format!("tree {t}: `{key}` holds `{w}`, not an integer")))
        })
        .collect()
}

fn parse_tree(
    b: &HashMap<String, String>,
    t: usize,
    n_features: usize,
    sigmoid: f64,
) -> Result<crate::tree::Tree> {
    let n_leaves = b
        .get("num_leaves")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| bad(format!("tree {t} has no valid num_leaves")))?;
    if b.get("num_cat").is_some_and(|v| v != "0") {
        return Err(bad(format!(
            "tree {t} has categorical splits: not supported"
        )));
    }
    if b.get("is_linear").is_some_and(|v| v != "0") {
        return Err(bad(format!("tree {t} is a linear tree: not supported")));
    }
    let leaf_value = numbers(b, "leaf_value", t)?;
    let leaf_count = numbers(b, "leaf_count", t)?;
    let n_internal = n_leaves - 1;
    let feature = integers(b, "split_feature", t)?;
    let threshold = numbers(b, "threshold", t)?;
    let decision = integers(b, "decision_type", t)?;
    let left = integers(b, "left_child", t)?;
    let right = integers(b, "right_child", t)?;
    let internal_count = numbers(b, "internal_count", t)?;
    if leaf_value.len() != n_leaves || (n_leaves > 1 && leaf_count.len() != n_leaves) {
        return Err(bad(format!(
            "tree {t}: {n_leaves} leaves but {} leaf values and {} leaf counts",
            leaf_value.len(),
            leaf_count.len()
        )));
    }
    if [
        feature.len(),
        threshold.len(),
        decision.len(),
        left.len(),
        right.len(),
        internal_count.len(),
    ]
    .iter()
    .any(|&l| l != n_internal)
    {
        return Err(bad(format!(
            "tree {t}: its split arrays do not all have {n_internal} entries"
        )));
    }
    // Internal nodes keep their indices; leaf j becomes node n_internal + j.
    let node_of = |child: i64, i: usize| -> Result<usize> {
        let idx = if child >= 0 {
            usize::try_from(child).ok().filter(|&c| c < n_internal)
        } else {
            usize::try_from(!child)
                .ok()
                .filter(|&l| l < n_leaves)
                .map(|l| n_internal + l)
        };
        idx.ok_or_else(|| bad(format!("tree {t}: node {i} has child {child}")))
    };
    let mut raw = Vec::with_capacity(n_internal + n_leaves);
    for i in 0..n_internal {
        let d = decision[i];
        if d & 1 != 0 {
            return Err(bad(format!(
                "tree {t}: node {i} is a categorical split: not supported"
            )));
        }
        let th = threshold[i];
        let f = usize::try_from(feature[i])
            .ok()
            .filter(|&f| f < n_features)
            .ok_or_else(|| {
                bad(format!(
                    "tree {t}: node {i} splits on feature {}",
                    feature[i]
                ))
            })?;
        let default_left = match (d >> 2) & 3 {
            // None: a NaN is replaced by 0 and compared.
            0 => 0.0 <= th,
            // Zero: NaN and |x| <= 1e-35 take the default side. Exact here only when that is
            // the side 0 takes anyway and the threshold does not fall among those tiny values.
            1 => {
                let dl = d & 2 != 0;
                if dl != (0.0 <= th) || (-ZERO..ZERO).contains(&th) {
                    return Err(bad(format!(
                        "tree {t}: node {i} treats zero as missing on the other side than zero \
                         compares (zero_as_missing): not supported; retrain with \
                         zero_as_missing=false"
                    )));
                }
                dl
            }
            2 => d & 2 != 0,
            m => return Err(bad(format!("tree {t}: node {i} has missing type {m}"))),
        };
        raw.push(RawNode {
            split: Some(RawSplit {
                feature: f,
                threshold: f32_at_or_below(th),
                default_left,
                left: node_of(left[i], i)?,
                right: node_of(right[i], i)?,
            }),
            value: 0.0,
            cover: internal_count[i],
        });
    }
    for (j, v) in leaf_value.iter().enumerate() {
        raw.push(RawNode {
            split: None,
            value: sigmoid * v,
            cover: leaf_count.get(j).copied().unwrap_or(1.0),
        });
    }
    build_tree(&raw, n_features, t)
}
