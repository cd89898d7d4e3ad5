#!/usr/bin/env python3
"""Leave one capture out with `train`'s threshold procedure, for scikit-learn RF, LightGBM and
XGBoost on iotguard's own feature matrix (BENCHMARKS.md, "The peers under the same
procedure"; issue 12, item 6).

Exactly what `feature_ablation` does for iotguard's forest, per held-out capture:
- the training captures' out-of-capture scores: each one scored by a model fitted on the
  other training captures plus the training-only rows (the simulated clean network);
- the threshold `recall:0.9` balanced picks on them (the highest threshold at which the
  training captures' recall, each capture with attacks weighing the same, averages 0.9;
  `iotguard_models::operating::choose`);
- a model fitted on every training row (training-only rows included) scores the held-out
  capture at that threshold.
Pooled over the held-out captures, per capture and per attack family.

Usage: first export the matrix with the example, then run this:
    target/release/examples/feature_ablation --label-audit bench/label-audit.json \\
        --augment-sim 20000 --variants all --export bench/out/loco.parquet \\
        ../shared/data/iot23/*.labeled ../shared/data/stratosphere/*.labeled
    python3 bench/loco_peers.py bench/out/loco.parquet [PEER ...]
PEER: sklearn-rf, lightgbm, xgboost (default: all three). Runs in bench/.venv.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

if os.environ.get("LOCO_PEERS_IN_VENV") != "1":
    py = peers.peer_python()
    os.environ["LOCO_PEERS_IN_VENV"] = "1"
    os.execv(py, [py] + sys.argv)

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

SEED = 1


def make(name, y):
    if name == "sklearn-rf":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        return make_pipeline(SimpleImputer(keep_empty_features=True),
                             RandomForestClassifier(n_estimators=100, class_weight="balanced", n_jobs=2,
                                                    random_state=SEED))
    if name == "lightgbm":
        import lightgbm
        return lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, class_weight="balanced", n_jobs=2,
                                       random_state=SEED, verbose=-1)
    if name == "xgboost":
        import xgboost
        return xgboost.XGBClassifier(n_estimators=100, max_depth=6, tree_method="hist", n_jobs=2,
                                     random_state=SEED,
                                     scale_pos_weight=float((~y).sum()) / max(float(y.sum()), 1.0))
    raise SystemExit(f"unknown peer {name}")


def fit_score(name, X, y, Xs):
    m = make(name, y)
    m.fit(X, y)
    return m.predict_proba(Xs)[:, 1].astype(np.float32)


def recall_balanced_threshold(units, target=0.9):
    """`operating::choose(.., Recall(0.9), Balanced)`: positives weighted 1/positives of their
    unit; the highest distinct score at which the weighted recall reaches the target."""
    s, w = [], []
    for scores, y in units:
        pos = max(int(y.sum()), 1)
        s.append(scores[y])
        w.append(np.full(int(y.sum()), 1.0 / pos))
    s, w = np.concatenate(s), np.concatenate(w)
    total = w.sum()
    if total <= 0:
        return None
    order = np.argsort(-s, kind="stable")
    s, w = s[order], w[order]
    cum = np.cumsum(w)
    # Cumulative weight at the last row of each distinct score.
    last = np.r_[s[1:] != s[:-1], True]
    for v, c in zip(s[last], cum[last]):
        if c / total >= target - 1e-12:
            return float(v)
    return float(s[-1])


def main():
    path = sys.argv[1]
    names = sys.argv[2:] or ["sklearn-rf", "lightgbm", "xgboost"]
    table = pq.read_table(path)
    train_only = set(json.load(open(os.path.splitext(path)[0] + ".train_only.json")))
    group = np.array(table.column("group").to_pylist())
    y = np.array(table.column("target").to_pylist(), dtype=bool)
    cls = np.array(table.column("class").to_pylist())
    feats = [c for c in table.column_names if c not in ("group", "target", "class", "time")]
    X = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in feats]).astype(np.float32)
    captures = [g for g in dict.fromkeys(group) if g not in train_only]
    print(f"# {len(y):,} rows ({int(y.sum()):,} malicious), {len(feats)} features, "
          f"{len(captures)} captures held out in turn, training-only: {sorted(train_only) or 'none'}")
    for name in names:
        t0 = time.perf_counter()
        alerts, truth, fams, cells = [], [], {}, []
        for g in captures:
            tr = group != g
            inner = [u for u in captures if u != g]
            units = []
            for u in inner:
                fit = tr & (group != u)
                te = group == u
                units.append((fit_score(name, X[fit], y[fit], X[te]), y[te]))
            thr = recall_balanced_threshold(units)
            te = group == g
            s = fit_score(name, X[tr], y[tr], X[te])
            a = s >= thr
            yt = y[te]
            alerts.append(a)
            truth.append(yt)
            rec = a[yt].mean() if yt.any() else float("nan")
            far = a[~yt].mean() if (~yt).any() else float("nan")
            short = os.path.basename(g).replace(".conn.log.labeled", "")
            cells.append(f"{short} {rec:.3f}/{far:.3f} @{thr:.3f}")
            for c, flag in zip(cls[te][yt], a[yt]):
                n, f = fams.get(c, (0, 0))
                fams[c] = (n + 1, f + int(flag))
            print(f"  {name} {short}: {time.perf_counter() - t0:.0f} s so far", file=sys.stderr)
        a, t = np.concatenate(alerts), np.concatenate(truth)
        tp, fp = int((a & t).sum()), int((a & ~t).sum())
        prec = tp / max(tp + fp, 1)
        print(f"\n## {name} ({time.perf_counter() - t0:.0f} s)\n")
        print("| rule | precision | recall | FAR | alerts on benign |\n|---|---|---|---|---|")
        print(f"| recall:0.9 balanced | {prec:.3f} | {tp / t.sum():.3f} | {fp / (~t).sum():.3f} | {fp} |")
        print("\nper capture (recall/FAR @threshold): " + "; ".join(cells))
        print("per family (recall, flagged/flows): " + "; ".join(
            f"{k} {f / n:.3f} ({f}/{n})" for k, (n, f) in sorted(fams.items())))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
