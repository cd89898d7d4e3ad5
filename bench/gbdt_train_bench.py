#!/usr/bin/env python3
"""GBDT training time: iotguard next to LightGBM and XGBoost on the same data, in one run.

1. Leave-one-capture-out (LOCO): `iotguard compare --export-dataset` writes the features of every
   labeled capture in ../shared/data to Parquet. For each capture, every learner is fitted on the
   other captures (all their rows) and scores the held-out one. Only the fit is timed; the table
   has the sum over folds, and F1 at a 0.5 threshold and ROC AUC over the pooled held-out flows.
2. Synthetic: the 1 M × 20 rows of `crates/iotguard-models/examples/tree_throughput.rs`, written
   to Parquet by the Rust example `gbdt_fit_bench synth`; fit on the first 800 k, scored on the
   last 200 k.

Learners (all on THREADS threads, 100 rounds, 255 bins, balanced class weights):
- `lab` setting, what `iotguard compare`/`train` fit: iotguard (depth 6, 64 leaves, shrinkage
  0.3, min 1 row per leaf), LightGBM with the same (max_depth 6, num_leaves 64, lr 0.3,
  min_child_samples 1, min_child_weight 1e-3), XGBoost hist at depth 6 (lr 0.3, its default).
- `default` setting: iotguard's defaults (31 leaves, shrinkage 0.1, min 20 rows per leaf) and
  LightGBM's (num_leaves 31, lr 0.1, min_child_samples 20), as bench/model_bench.py runs it.
Each (dataset, learner) runs in its own process, REPEAT times; the table keeps the fastest.

Usage: python3 bench/gbdt_train_bench.py [--data $IOTGUARD_DATA_DIR or ../shared/data] [--rows 1000000] [--threads 2]
       [--repeat 1] [--only loco,synthetic] [--baseline OLD_gbdt_fit_bench]
Peers come from bench/.venv (created by bench/model_bench.py; this script creates it too).
"""

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time

from peers import OUT, ROOT, peer_python

PEER = r'''
import json, sys, time
import numpy as np, pyarrow.parquet as pq
from sklearn.metrics import f1_score, roc_auc_score

path, name, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = pq.read_table(path)
cols = [c for c in t.column_names if c not in ("group", "target", "class", "time")]
X = np.column_stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols]).astype(np.float32)
y = t.column("target").to_numpy(zero_copy_only=False).astype(bool)
groups = np.array(t.column("group").to_pylist())
folds = ["test"] if "test" in set(groups) else sorted(set(groups))

def make(ytr):
    if name == "lightgbm-lab":
        import lightgbm
        return lightgbm.LGBMClassifier(n_estimators=100, max_depth=6, num_leaves=64, learning_rate=0.3,
                                       min_child_samples=1, min_child_weight=1e-3, class_weight="balanced",
                                       n_jobs=threads, random_state=1, verbose=-1)
    if name == "lightgbm-default":
        import lightgbm
        return lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, class_weight="balanced",
                                       n_jobs=threads, random_state=1, verbose=-1)
    if name == "xgboost-lab":
        import xgboost
        return xgboost.XGBClassifier(n_estimators=100, max_depth=6, learning_rate=0.3, tree_method="hist",
                                     n_jobs=threads, random_state=1,
                                     scale_pos_weight=float((~ytr).sum()) / max(float(ytr.sum()), 1.0))
    raise SystemExit(f"unknown peer {name}")

fit_s = 0.0; scores = []; target = []; train_rows = 0
for g in folds:
    test = groups == g; train = ~test
    Xtr, ytr = X[train], y[train]
    m = make(ytr)
    t0 = time.perf_counter()
    m.fit(Xtr, ytr)
    fit_s += time.perf_counter() - t0
    train_rows += int(train.sum())
    scores.append(m.predict_proba(X[test])[:, 1]); target.append(y[test])
s = np.concatenate(scores); yt = np.concatenate(target)
print("RESULT " + json.dumps({"fit_s": fit_s, "folds": len(folds), "train_rows": train_rows,
                              "f1": float(f1_score(yt, s >= 0.5)), "auc": float(roc_auc_score(yt, s)),
                              "features": len(cols)}))
'''


def run(cmd):
    """Runs cmd and returns its RESULT json."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:5])}…\n{p.stderr[-3000:]}")
    return json.loads([l for l in p.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])


def load():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("IOTGUARD_DATA_DIR", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default="loco,synthetic", help="datasets to run: loco, synthetic")
    ap.add_argument("--baseline", help="another build of the gbdt_fit_bench example (e.g. from an older commit) "
                                       "to time beside this one, labelled `iotguard (baseline)`")
    args = ap.parse_args()
    py = peer_python()
    versions = subprocess.run([py, "-c", "import lightgbm, xgboost; print(lightgbm.__version__, xgboost.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "iotguard-cli"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "iotguard-runtime", "--example", "gbdt_fit_bench"],
                   cwd=ROOT, check=True)
    iotguard = os.path.join(ROOT, "target", "release", "iotguard")
    bench = os.path.join(ROOT, "target", "release", "examples", "gbdt_fit_bench")

    datasets = []
    if "loco" in args.only:
        captures = sorted(glob.glob(os.path.join(args.data, "iot23", "*.labeled"))
                          + glob.glob(os.path.join(args.data, "stratosphere", "*.labeled")))
        if not captures:
            sys.exit(f"no labeled captures under {args.data} (set --data or IOTGUARD_DATA_DIR)")
        loco = os.path.join(OUT, "gbdt-loco.parquet")
        subprocess.run([iotguard, "compare", "--models", "gbdt", "--out", os.path.join(OUT, "gbdt-loco"),
                        "--export-dataset", loco] + captures, check=True, capture_output=True)
        datasets.append(("LOCO", loco))
    if "synthetic" in args.only:
        synth = os.path.join(OUT, f"gbdt-synthetic-{args.rows}.parquet")
        if not os.path.exists(synth):
            subprocess.run([bench, "synth", str(args.rows), synth], check=True)
        datasets.append((f"synthetic {args.rows:,} × 20", synth))

    learners = []
    if args.baseline:
        learners += [("lab", "iotguard (baseline)", [args.baseline, "fit", None, "lab", str(args.threads)]),
                     ("default", "iotguard (baseline)", [args.baseline, "fit", None, "default", str(args.threads)])]
    learners += [
        ("lab", "iotguard", [bench, "fit", None, "lab", str(args.threads)]),
        ("lab", "LightGBM", [py, "-c", PEER, None, "lightgbm-lab", str(args.threads)]),
        ("lab", "XGBoost hist", [py, "-c", PEER, None, "xgboost-lab", str(args.threads)]),
        ("default", "iotguard", [bench, "fit", None, "default", str(args.threads)]),
        ("default", "LightGBM", [py, "-c", PEER, None, "lightgbm-default", str(args.threads)]),
    ]
    rows = []
    for dname, path in datasets:
        for setting, learner, cmd in learners:
            best = None
            loads = []
            for _ in range(args.repeat):
                loads.append(load())
                r = run([path if c is None else c for c in cmd])
                if best is None or r["fit_s"] < best["fit_s"]:
                    best = r
            best["load"] = max(loads)
            rows.append((dname, setting, learner, best))
            print(dname, setting, learner, json.dumps(best), file=sys.stderr)

    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} threads for every learner; LightGBM {versions[0]}, XGBoost {versions[1]}; "
          f"fastest of {args.repeat} run(s)\n")
    print("| data | setting | learner | fit s (sum over folds) | vs LightGBM same setting | F1 @ 0.5 | ROC AUC | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    order = [d for d, _ in datasets]
    rows.sort(key=lambda x: (order.index(x[0]), x[1] != "lab"))
    for dname, setting, learner, r in rows:
        ref = [x for d, s, l, x in rows if d == dname and s == setting and l == "LightGBM"]
        ratio = f"{r['fit_s'] / ref[0]['fit_s']:.2f}×" if ref else "–"
        print(f"| {dname} ({r['folds']} fold{'s' if r['folds'] > 1 else ''}, {r['train_rows']:,} training rows) | "
              f"{setting} | {learner} | {r['fit_s']:.2f} | {ratio} | {r['f1']:.4f} | {r['auc']:.4f} | {r['load']:.2f} |")


if __name__ == "__main__":
    main()
