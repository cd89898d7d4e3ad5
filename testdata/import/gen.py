#!/usr/bin/env python3
"""Regenerates the import-model fixtures: an XGBoost and a LightGBM booster trained on the rows
`iotguard features` writes from testdata/zeek/explore_{a,b}.conn.log.labeled, and the
packages' own probabilities (and SHAP contributions) on a set of rows, for the Rust tests to
match within 1e-6.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install xgboost lightgbm pyarrow numpy
    cargo build -p iotguard-cli
    /tmp/venv/bin/python testdata/import/gen.py [--bin target/debug/iotguard]

Writes, next to this script:
- xgboost.json: binary:logistic, 12 rounds of depth 3, base score estimated by XGBoost (so
  the logit of a base score other than 0.5 is tested);
- xgboost_unnamed.json: the same booster saved without feature names (`--by-position`);
- lightgbm.txt: binary, 12 rounds of 8 leaves;
- expected.json: the rows (null = missing), where each came from, each package's predicted
  probability and, for the first rows, its SHAP contributions (sparse, plus the bias).

The rows are 24 real rows (12 malicious, 12 benign, rows with missing values first), 6 rows
with every feature missing or half the features missing, and 10 rows whose features sit exactly
on split thresholds of the trees (x == XGBoost's split_condition goes right, LightGBM's
threshold rounded to float32 goes left or right by the exact comparison). Everything is seeded
and single-threaded, so the same package versions give the same files.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import lightgbm as lgb
import numpy as np
import pyarrow.parquet as pq
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INPUTS = ["testdata/zeek/explore_a.conn.log.labeled", "testdata/zeek/explore_b.conn.log.labeled"]
ROUNDS = 12
SHAP_ROWS = 8


def f32_text(v):
    """The shortest text that reads back (as f64, then f32) to the float32 v; None for NaN."""
    v = np.float32(v)
    if np.isnan(v):
        return None
    s = np.format_float_positional(v, unique=True, trim="-")
    if np.float32(float(s)) != v:
        s = repr(float(v))
    return float(s) if "." in s or "e" in s else int(s)


def sparse(contribs):
    """SHAP contributions as {feature index: value} for the non-zero ones, plus the bias."""
    return {
        "features": {str(i): float(c) for i, c in enumerate(contribs[:-1]) if c != 0.0},
        "bias": float(contribs[-1]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "debug", "iotguard"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [args.bin, "features", "--context", "none", "--out", tmp] + [os.path.join(ROOT, p) for p in INPUTS],
            check=True,
        )
        schema = json.load(open(os.path.join(tmp, "feature_schema.json")))
        table = pq.read_table(os.path.join(tmp, "features.parquet"))
    names = schema["names"]
    x = np.column_stack([table[n].to_numpy(zero_copy_only=False) for n in names]).astype(np.float32)
    y = table["label"].to_numpy().astype(np.float32)

    booster_x = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 0, "nthread": 1,
         "tree_method": "hist"},
        xgb.DMatrix(x, label=y, feature_names=names, missing=np.nan),
        num_boost_round=ROUNDS,
    )
    booster_l = lgb.train(
        {"objective": "binary", "num_leaves": 8, "learning_rate": 0.3, "min_data_in_leaf": 5,
         "seed": 0, "num_threads": 1, "deterministic": True, "verbose": -1},
        lgb.Dataset(x, label=y, feature_name=names, free_raw_data=False),
        num_boost_round=ROUNDS,
    )
    xgb_path = os.path.join(HERE, "xgboost.json")
    lgb_path = os.path.join(HERE, "lightgbm.txt")
    booster_x.save_model(xgb_path)
    booster_l.save_model(lgb_path)
    # The same booster without feature names, as XGBoost4J-Spark (trained on a VectorAssembler
    # column) or a booster trained on a bare array saves it: `import-model --by-position`.
    unnamed = xgb.Booster(model_file=xgb_path)
    unnamed.feature_names = None
    unnamed.feature_types = None
    unnamed.save_model(os.path.join(HERE, "xgboost_unnamed.json"))

    # Real rows: malicious and benign, those with a missing value first.
    has_nan = np.isnan(x).any(axis=1)
    picked, origin = [], []
    for label in (1.0, 0.0):
        idx = [i for i in np.argsort(~has_nan, kind="stable") if y[i] == label][:12]
        picked += [x[i] for i in idx]
        origin += [f"row {i}" for i in idx]
    rng = np.random.default_rng(3)
    for k in range(6):
        r = x[rng.integers(len(x))].copy()
        r[rng.random(len(names)) < (1.0 if k < 2 else 0.5)] = np.nan
        picked.append(r)
        origin.append("all missing" if k < 2 else "half missing")
    # Rows on split thresholds: XGBoost's split_condition as it is, LightGBM's to float32.
    dump = json.loads(open(xgb_path).read())["learner"]["gradient_booster"]["model"]["trees"]
    splits = [(t["split_indices"][i], t["split_conditions"][i]) for t in dump
              for i in range(len(t["left_children"])) if t["left_children"][i] != -1]
    lgb_model = booster_l.dump_model()["tree_info"]

    def lgb_splits(node):
        if "split_feature" in node:
            yield node["split_feature"], node["threshold"]
            yield from lgb_splits(node["left_child"])
            yield from lgb_splits(node["right_child"])

    lsplits = [s for t in lgb_model for s in lgb_splits(t["tree_structure"])]
    for k in range(5):
        for source in (splits, lsplits):
            r = x[rng.integers(len(x))].copy()
            for f, v in source[k::5]:
                r[f] = np.float32(v)
            picked.append(r)
            origin.append("on XGBoost thresholds" if source is splits else "on LightGBM thresholds")
    rows = np.array(picked, dtype=np.float32)

    px = booster_x.predict(xgb.DMatrix(rows, feature_names=names, missing=np.nan))
    pl = booster_l.predict(rows)
    cx = booster_x.predict(xgb.DMatrix(rows[:SHAP_ROWS], feature_names=names, missing=np.nan),
                           pred_contribs=True)
    cl = booster_l.predict(rows[:SHAP_ROWS], pred_contrib=True)
    expected = {
        "about": "written by testdata/import/gen.py; rows are float32, null = missing",
        "versions": {"xgboost": xgb.__version__, "lightgbm": lgb.__version__},
        "n_features": len(names),
        "origin": origin,
        "rows": [[f32_text(v) for v in r] for r in rows],
        "xgboost": [float(p) for p in px],
        "lightgbm": [float(p) for p in pl],
        "xgboost_shap": [sparse(c) for c in cx],
        "lightgbm_shap": [sparse(c) for c in cl],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    for p in ("xgboost.json", "xgboost_unnamed.json", "lightgbm.txt", "expected.json"):
        print(p, os.path.getsize(os.path.join(HERE, p)), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
