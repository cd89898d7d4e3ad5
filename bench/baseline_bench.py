#!/usr/bin/env python3
"""Baselines learned without labels: iotguard's isolation forest and autoencoder beside
scikit-learn's IsolationForest and River's HalfSpaceTrees, on the same flows, features and
splits.

1. `cargo run --release -p iotguard-runtime --example baseline_bench` builds the features of
   every labeled capture in ../shared/data (the extractor `train` and `detect` use), writes
   them to Parquet, and fits iotguard's baselines (what `train --unlabeled` does) under three
   protocols:
   - benign-captures: learn on the captures without a malicious flow, test each other capture;
   - first-half-benign: per capture, learn on the first half (by time) of its benign flows,
     test every flow from that time on;
   - first-half-all: the same cut, learning on every flow before it, attacks included (Kitsune's
     workflow: no labels at all).
   iotguard's kinds: the isolation forest, the autoencoder, and an isolation forest per
   service (`train --unlabeled --group-by service`).
2. This script runs the peers on the same rows: scikit-learn IsolationForest (100 trees of 256
   rows, iotguard's settings) and River HalfSpaceTrees (25 trees of height 15, window 250,
   inputs min-max scaled on the learning rows and clipped to [0, 1]); missing values (NaN) are
   filled with -1 for both (neither takes NaN). Every detector's threshold is set the same way:
   the lowest score at which at most 1 % of its learning rows alert.
3. Prints Markdown: per protocol, per tested capture, PR-AUC (average precision) and the
   false-alert rate and recall at that threshold, for each detector.

Usage: python bench/baseline_bench.py [--data ../shared/data] [--far 0.01]
Needs numpy, pyarrow, scikit-learn and river (/work/team/venv has them:
/work/team/venv/bin/python bench/baseline_bench.py).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")


def threshold_at(train_scores, far):
    """The lowest threshold at which at most `far` of the training scores are >= it."""
    s = np.sort(train_scores)[::-1]
    allowed = int(np.floor(far * len(s)))
    if allowed >= len(s):
        return s[-1]
    return np.nextafter(s[allowed], np.inf)


def sklearn_iforest(xtr, xte):
    m = IsolationForest(n_estimators=100, max_samples=min(256, len(xtr)), random_state=1).fit(xtr)
    return -m.score_samples(xtr), -m.score_samples(xte)


def river_hst(xtr, xte):
    from river import anomaly
    lo, hi = np.nanmin(xtr, axis=0), np.nanmax(xtr, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scale = lambda x: np.clip((x - lo) / span, 0.0, 1.0)
    str_, ste = scale(xtr), scale(xte)
    names = [f"f{i}" for i in range(xtr.shape[1])]
    m = anomaly.HalfSpaceTrees(n_trees=25, height=15, window_size=250, seed=1)
    for r in str_:
        m.learn_one(dict(zip(names, r)))
    score = lambda rows: np.array([m.score_one(dict(zip(names, r))) for r in rows])
    return score(str_), score(ste)


PEERS = {"sklearn-iforest": sklearn_iforest, "river-hst": river_hst}


def metrics(train_scores, test_scores, y, far):
    t = threshold_at(train_scores, far)
    alert = test_scores >= t
    benign = ~y
    return {
        "pr_auc": float(average_precision_score(y, test_scores)) if y.any() else None,
        "recall": float((alert & y).sum() / y.sum()) if y.any() else None,
        "false_alert_rate": float((alert & benign).sum() / benign.sum()) if benign.any() else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--far", type=float, default=0.01)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    captures = sorted(glob.glob(os.path.join(args.data, "iot23", "*.labeled"))
                      + glob.glob(os.path.join(args.data, "stratosphere", "*.labeled")))
    export = os.path.join(OUT, "baseline-features.parquet")
    # With -p iotguard-cli too, features unify as in the CLI build, so its artifacts are reused.
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "iotguard-runtime", "-p", "iotguard-cli", "--example", "baseline_bench"],
                   cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "baseline_bench")
    ours = json.loads(subprocess.run([exe, "--export", export, "--far", str(args.far)] + captures,
                                     capture_output=True, text=True, check=True).stdout)
    with open(os.path.join(OUT, "baseline-iotguard.json"), "w") as f:
        json.dump(ours, f, indent=1)

    t = pq.read_table(export)
    cols = [c for c in t.column_names if c not in ("group", "target", "class", "time")]
    X = np.column_stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols]).astype(np.float64)
    X = np.where(np.isnan(X), -1.0, X)
    y = t.column("target").to_numpy(zero_copy_only=False).astype(bool)
    group = np.array(t.column("group").to_pylist())
    tm = t.column("time").to_numpy(zero_copy_only=False)
    print(f"{len(y)} labeled flows ({y.sum()} malicious), {len(cols)} features, "
          f"{len(set(group))} captures; threshold: at most {args.far} of the learning flows alert\n")

    results = {}
    for proto, p in ours["protocols"].items():
        if proto == "benign-captures":
            train_caps = set(p["setup"]["train_captures"])
            folds = [(np.isin(group, list(train_caps)), [(c, group == c) for c in p["results"]["iforest"]["captures"]])]
        else:
            folds = []
            for cap, cut in p["setup"]["cuts"].items():
                in_cap = group == cap
                learn = in_cap & (tm < cut) & ((~y) if proto == "first-half-benign" else True)
                folds.append((learn, [(cap, in_cap & (tm >= cut))]))
        for peer, fn in PEERS.items():
            t0 = time.perf_counter()
            per = {}
            for learn, tests in folds:
                xtr = X[learn]
                test_mask = np.zeros(len(y), bool)
                for _, m in tests:
                    test_mask |= m
                tr_s, te_s = fn(xtr, X[test_mask])
                idx = np.flatnonzero(test_mask)
                pos = {i: k for k, i in enumerate(idx)}
                for cap, m in tests:
                    sel = np.array([pos[i] for i in np.flatnonzero(m)])
                    per[cap] = metrics(tr_s, te_s[sel], y[m], args.far)
            results[(proto, peer)] = (per, time.perf_counter() - t0)
            print(f"{proto} {peer}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    fmt = lambda v: "–" if v is None else f"{v:.3f}"
    for proto, p in ours["protocols"].items():
        print(f"### {proto}\n")
        if proto == "benign-captures":
            print("Learned on: " + ", ".join(os.path.basename(c) for c in p["setup"]["train_captures"]) + "\n")
        dets = [("iotguard iforest", p["results"]["iforest"]["captures"], p["results"]["iforest"]["fit_secs"]),
                ("iotguard autoencoder", p["results"]["autoencoder"]["captures"], p["results"]["autoencoder"]["fit_secs"]),
                ("iotguard iforest per service", p["results"]["iforest-by-service"]["captures"], p["results"]["iforest-by-service"]["fit_secs"])]
        dets += [(peer, results[(proto, peer)][0], results[(proto, peer)][1]) for peer in PEERS]
        caps = list(p["results"]["iforest"]["captures"])
        print("| capture | learning flows | tested flows (malicious) | " + " | ".join(f"{d[0]} PR-AUC / FAR / recall" for d in dets) + " |")
        print("|---|---:|---:|" + "---|" * len(dets))
        means = [[[], [], []] for _ in dets]
        for cap in caps:
            r = p["results"]["iforest"]["captures"][cap]
            cells = []
            for k, (_, per, _) in enumerate(dets):
                m = per[cap]
                cells.append(f"{fmt(m['pr_auc'])} / {fmt(m['false_alert_rate'])} / {fmt(m['recall'])}")
                for j, key in enumerate(("pr_auc", "false_alert_rate", "recall")):
                    if m[key] is not None:
                        means[k][j].append(m[key])
            print(f"| {os.path.basename(cap)} | {r['train_rows']:,} | {r['rows']:,} ({r['malicious']:,}) | " + " | ".join(cells) + " |")
        mean = lambda v: sum(v) / len(v) if v else None
        print("| **mean over captures** | | | " + " | ".join(
            f"**{fmt(mean(m[0]))} / {fmt(mean(m[1]))} / {fmt(mean(m[2]))}**" for m in means) + " |")
        print("| seconds (iotguard: learning; peers: learning and scoring) | | | " + " | ".join(f"{d[2]:.1f}" for d in dets) + " |\n")


if __name__ == "__main__":
    main()
