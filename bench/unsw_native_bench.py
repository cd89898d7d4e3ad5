#!/usr/bin/env python3
"""UNSW-NB15's own columns, with and without its TTL columns, on iotguard's exact features.

The published UNSW-NB15 accuracies lean on `sttl`, `dttl` and `ct_state_ttl`: the testbed's
attack hosts sat behind a different number of hops than its normal hosts, so the TTLs name the
attacker machines rather than any behaviour. This script measures how much of the native
features' lift they carry, with scikit-learn's RandomForest and XGBoost on the feature matrix
iotguard trained on:

1. `iotguard compare --features native --export-dataset FILE.parquet --export-only --out DIR
   unsw-nb15_1_sampled.csv` writes the matrix (columns `group`, `target`, `class`, `time`, then
   every feature; `native.*` are the dataset's own).
2. This script evaluates three column sets (common only; common + native; common + native
   without the three TTL columns) under two splits: stratified 5-fold (the seeds' protocol)
   and time order (rows sorted by `time`, cut into 6 blocks; fold i trains on blocks 0..i and
   tests on block i+1, as `compare --split time` does). Threshold: max F1 on a stratified 20 %
   of each fold's training rows.

Prints one Markdown table: PR-AUC, recall and false-alert rate per set, split and peer.

Usage: /work/team/venv/bin/python bench/unsw_native_bench.py FILE.parquet [--seed 1]
"""

import argparse

import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold, train_test_split

TTL = ["native.sttl", "native.dttl", "native.ct_state_ttl"]


def make(name, seed):
    if name == "sklearn-rf":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=seed),
        )
    import xgboost

    return xgboost.XGBClassifier(n_estimators=200, tree_method="hist", n_jobs=2, random_state=seed)


def threshold(model, x, y):
    p = model.predict_proba(x)[:, 1]
    prec, rec, thr = precision_recall_curve(y, p)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    return thr[int(np.argmax(f1[:-1]))] if len(thr) else 0.5


def fit_score(name, x_train, y_train, x_test, seed):
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=0.2, stratify=y_train, random_state=seed
    )
    model = make(name, seed).fit(x_fit, y_fit)
    t = threshold(model, x_val, y_val)
    return model.predict_proba(x_test)[:, 1], t


def folds(split, y, time, seed):
    if split == "kfold":
        yield from StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
        return
    order = np.argsort(time, kind="stable")
    blocks = np.array_split(order, 6)
    for i in range(5):
        yield np.concatenate(blocks[: i + 1]), blocks[i + 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t = pq.read_table(a.dataset)
    y = t.column("target").to_numpy().astype(int)
    time = t.column("time").to_numpy()
    feats = [c for c in t.column_names if c not in ("group", "target", "class", "time")]
    common = [c for c in feats if not c.startswith("native.")]
    sets = {
        "common": common,
        "common + native": feats,
        "common + native − TTL": [c for c in feats if c not in TTL],
    }
    print("| features | split | peer | PR-AUC | recall | false-alert rate |")
    print("|---|---|---|---:|---:|---:|")
    for label, cols in sets.items():
        x = np.column_stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols]).astype(
            np.float32
        )
        for split in ("kfold", "time"):
            for peer in ("sklearn-rf", "xgboost"):
                scores, truth, flagged = [], [], []
                for train, test in folds(split, y, time, a.seed):
                    if y[train].sum() < 2 or y[test].sum() == 0:
                        continue
                    p, thr = fit_score(peer, x[train], y[train], x[test], a.seed)
                    scores.append(p)
                    truth.append(y[test])
                    flagged.append(p >= thr)
                s, yt, f = map(np.concatenate, (scores, truth, flagged))
                recall = f[yt == 1].mean()
                far = f[yt == 0].mean()
                print(
                    f"| {label} | {split} | {peer} | {average_precision_score(yt, s):.3f} "
                    f"| {recall:.3f} | {far:.4f} |"
                )


if __name__ == "__main__":
    main()
