#!/usr/bin/env python3
"""scikit-learn's IsolationForest and RandomForest and XGBoost on the folds of
`iotguard compare --split family` (each attack type held out in turn), on iotguard's own features.

1. `iotguard compare --split family --export-dataset FILE.parquet --out DIR INPUT` evaluates
   iotguard's models and writes the exact feature matrix (columns `group`, `target`, `class`,
   `time`, then every feature) it trained on.
2. This script rebuilds the same folds from that file and the fold order in DIR/report.json:
   the attack types in the report's fold order; benign rows, counted in row order, dealt
   round-robin into one share per type (benign row r is in share r mod types); fold i tests type
   i plus benign share i and trains on everything else. Each peer is fitted as iotguard's lab
   fits: on a stratified 80 % of the fold's training rows (the isolation forest on the benign
   ones among them), its threshold chosen on the other 20 % (max F1; the isolation forest: the
   99th percentile of benign validation scores, 1 % false alerts).
3. `--random K`: the same peers on a stratified random K-fold split of the same rows (the seeds'
   protocol; scikit-learn's folds, not iotguard's, so the same protocol on different rows).

Prints Markdown tables: per held-out type and peer, PR-AUC, recall at the threshold and the
false-alert rate on the fold's benign share; then the pooled figures, and the majority baseline.

Usage: /work/team/venv/bin/python bench/seeds_family_bench.py FILE.parquet DIR/report.json
       [--random 5] [--peers sklearn-iforest,sklearn-rf,xgboost] [--seed 1]
"""

import argparse
import json
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold, train_test_split

PEERS = ["sklearn-iforest", "sklearn-rf", "xgboost"]


def make(name, seed):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    if name == "sklearn-rf":
        from sklearn.ensemble import RandomForestClassifier

        return make_pipeline(SimpleImputer(keep_empty_features=True), RandomForestClassifier(
            n_estimators=100, class_weight="balanced", n_jobs=2, random_state=seed))
    if name == "sklearn-iforest":
        from sklearn.ensemble import IsolationForest

        return make_pipeline(SimpleImputer(keep_empty_features=True),
                             IsolationForest(n_estimators=100, random_state=seed))
    if name == "xgboost":
        import xgboost

        return xgboost.XGBClassifier(n_estimators=100, max_depth=6, tree_method="hist", n_jobs=2,
                                     random_state=seed)
    raise SystemExit(f"unknown peer {name}")


def score(name, model, X):
    if name == "sklearn-iforest":
        return -model.score_samples(X)
    return model.predict_proba(X)[:, 1]


def threshold(name, s, y):
    if name == "sklearn-iforest":
        return float(np.quantile(s[~y], 0.99))
    p, r, th = precision_recall_curve(y, s)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)[:-1]
    return float(th[np.argmax(f)]) if len(th) else 0.5


def fit(name, X, y, seed):
    Xfit, Xval, yfit, yval = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    m = make(name, seed)
    t0 = time.perf_counter()
    if name == "sklearn-iforest":
        m.fit(Xfit[~yfit])
    elif name == "xgboost":
        m.set_params(scale_pos_weight=float((~yfit).sum()) / max(float(yfit.sum()), 1.0))
        m.fit(Xfit, yfit)
    else:
        m.fit(Xfit, yfit)
    secs = time.perf_counter() - t0
    return m, threshold(name, score(name, m, Xval), yval), secs


def rates(s, alert, y):
    tp = int((alert & y).sum())
    fp = int((alert & ~y).sum())
    pr_auc = float(average_precision_score(y, s)) if y.any() and (~y).any() else float("nan")
    return {
        "pr_auc": pr_auc,
        "recall": tp / max(int(y.sum()), 1),
        "far": fp / max(int((~y).sum()), 1),
        "precision": tp / max(tp + fp, 1),
        "tp": tp, "fp": fp, "n": int(len(y)),
    }


def family_folds(y, cls, types):
    benign = np.flatnonzero(~y)
    share = np.full(len(y), -1)
    share[benign] = np.arange(len(benign)) % len(types)
    for f, t in enumerate(types):
        test = np.where(y, cls == t, share == f)
        yield t, np.flatnonzero(~test), np.flatnonzero(test)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("parquet")
    ap.add_argument("report")
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write every number here")
    a = ap.parse_args()
    t = pq.read_table(a.parquet)
    cols = [c for c in t.column_names if c not in ("group", "target", "class", "time")]
    X = np.column_stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols]).astype(np.float32)
    y = t.column("target").to_numpy(zero_copy_only=False).astype(bool)
    cls = np.array(t.column("class").to_pylist(), dtype=object)
    with open(a.report) as f:
        types = json.load(f)["folds"]
    print(f"{len(y)} rows, {int(y.sum())} malicious, {len(cols)} features; held-out types: {', '.join(types)}")
    out = {"family": {}, "random": {}}
    peers = a.peers.split(",")
    for name in peers:
        pooled_s, pooled_a, pooled_y = [], [], []
        secs = 0.0
        for t_name, train, test in family_folds(y, cls, types):
            m, th, s_fit = fit(name, X[train], y[train], a.seed)
            secs += s_fit
            s = score(name, m, X[test])
            alert = s >= th
            out["family"].setdefault(name, {})[t_name] = rates(s, alert, y[test])
            pooled_s.append(s)
            pooled_a.append(alert)
            pooled_y.append(y[test])
            r = out["family"][name][t_name]
            print(f"  family {name} {t_name}: PR-AUC {r['pr_auc']:.3f} recall {r['recall']:.3f} FAR {r['far']:.4f} ({s_fit:.1f} s)", flush=True)
        out["family"][name]["pooled"] = rates(np.concatenate(pooled_s), np.concatenate(pooled_a), np.concatenate(pooled_y))
        out["family"][name]["pooled"]["train_secs"] = secs
        if a.random:
            skf = StratifiedKFold(n_splits=a.random, shuffle=True, random_state=a.seed)
            per_class = {}
            ps, pa, py, pc = [], [], [], []
            secs = 0.0
            for train, test in skf.split(X, y):
                m, th, s_fit = fit(name, X[train], y[train], a.seed)
                secs += s_fit
                s = score(name, m, X[test])
                ps.append(s)
                pa.append(s >= th)
                py.append(y[test])
                pc.append(cls[test])
            s, alert, yy, cc = map(np.concatenate, (ps, pa, py, pc))
            for t_name in types:
                k = cc == t_name
                per_class[t_name] = float(alert[k].mean())
            out["random"][name] = rates(s, alert, yy)
            out["random"][name]["recall_by_type"] = per_class
            out["random"][name]["train_secs"] = secs
            r = out["random"][name]
            print(f"  random {name}: PR-AUC {r['pr_auc']:.4f} recall {r['recall']:.4f} FAR {r['far']:.4f}", flush=True)
    print()
    print("| held-out type | " + " | ".join(f"{p} PR-AUC / recall / FAR" for p in peers) + " |")
    print("|---|" + "---|" * len(peers))
    for t_name in types + ["pooled"]:
        cells = [f"{out['family'][p][t_name]['pr_auc']:.3f} / {out['family'][p][t_name]['recall']:.3f} / {out['family'][p][t_name]['far']:.3f}" for p in peers]
        print(f"| {t_name} | " + " | ".join(cells) + " |")
    if a.random:
        print()
        print("| peer | random PR-AUC | random recall | random FAR | family pooled PR-AUC | family pooled recall | family pooled FAR |")
        print("|---|---|---|---|---|---|---|")
        for p in peers:
            r, f = out["random"][p], out["family"][p]["pooled"]
            print(f"| {p} | {r['pr_auc']:.4f} | {r['recall']:.4f} | {r['far']:.4f} | {f['pr_auc']:.4f} | {f['recall']:.4f} | {f['far']:.4f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
