#!/usr/bin/env python3
"""iotguard's models next to scikit-learn, LightGBM and XGBoost, on the same features and the
same leave-one-capture-out split, in one run.

1. `iotguard compare --export-dataset` computes the features (per flow and per host) for every
   labeled capture in ../shared/data and writes them to Parquet; the same command evaluates
   iotguard's models leave-one-capture-out.
2. This script reads that Parquet file and runs the Python peers through the same protocol:
   for each capture, train on the others (balanced class weights), choose the threshold that
   maximises F1 on a stratified fifth of the training flows held out, score the capture; pool
   every held-out flow. Also with per-flow features only (no `orig_host.*`/`resp_host.*`).
3. Prints one Markdown table: pooled precision, recall, F1, false-alert rate, MCC, PR-AUC, total
   training seconds, batch and one-flow-at-a-time prediction throughput, and peak RSS per process.

4. Then the boosted trees again with hyperparameters chosen out of sample: for each held-out
   capture, nested leave-one-capture-out over the training captures picks, from one fixed grid
   of six settings, the one with the best MCC (`iotguard compare --tune`; the peers run the same
   grid in their own parameter names and the same criterion here).

5. `--only grid`: the boosted trees of all three at each grid setting in turn, the same setting
   for every fold (`iotguard compare --gbdt-setting NAME`): the engines compared setting for setting,
   with no choice made on any capture.

6. `--label-audit bench/label-audit.json`: the same with the audited labels: the flows it names
   are left out of every learner's training and metrics (the export holds no row for them).

Usage: python3 bench/model_bench.py [--data ../shared/data] [--quick] [--no-tune] [--only tuned|grid]
       [--label-audit FILE]
Peers are installed from PyPI into bench/.venv by this script.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

from peers import OUT, ROOT, peer_python

PEER = r'''
import json, resource, sys, time
import numpy as np, pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, precision_recall_curve
from sklearn.model_selection import train_test_split

path, name, feature_set, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mode = sys.argv[5] if len(sys.argv) > 5 else ""
tune = mode == "tune"  # nested choice per held-out capture
fixed = int(mode.split("=")[1]) if mode.startswith("setting=") else None  # one grid setting everywhere
t = pq.read_table(path)
cols = [c for c in t.column_names if c not in ("group", "target", "class", "time")]
if feature_set == "flow":
    cols = [c for c in cols if not c.startswith(("orig_host.", "resp_host."))]
X = np.column_stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols]).astype(np.float32)
y = t.column("target").to_numpy(zero_copy_only=False).astype(bool)
groups = np.array(t.column("group").to_pylist())

# The grid `iotguard compare --tune` chooses from (crates/iotguard-models/src/tune.rs, GBDT_GRID):
# (max_depth or None, max_leaves, learning_rate, min rows per leaf, colsample, subsample).
GRID = [(None, 31, 0.1, 20, 1.0, 1.0), (6, 64, 0.3, 1, 1.0, 1.0), (6, 64, 0.3, 1, 0.5, 1.0),
        (6, 64, 0.3, 20, 1.0, 1.0), (None, 15, 0.1, 100, 0.5, 0.8), (4, 16, 0.1, 50, 0.3, 1.0)]

def setting_params(setting):
    """One grid setting in the peer's own parameter names; the rest stays at its defaults.
    XGBoost has no minimum rows per leaf (only a minimum hessian), so that entry is unused there."""
    depth, leaves, lr, leaf, col, row = setting
    if name == "lightgbm":
        return dict(max_depth=-1 if depth is None else depth, num_leaves=leaves, learning_rate=lr,
                    min_child_samples=leaf, colsample_bytree=col, subsample=row, subsample_freq=1 if row < 1 else 0)
    if name == "xgboost":
        return dict(max_depth=0 if depth is None else depth, max_leaves=leaves if depth is None else 0,
                    grow_policy="lossguide" if depth is None else "depthwise", learning_rate=lr,
                    colsample_bytree=col, subsample=row)
    raise SystemExit(f"{name} has no grid")

def make():
    if name == "sklearn-logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.impute import SimpleImputer
        return make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=200))
    if name == "sklearn-rf":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        return make_pipeline(SimpleImputer(), RandomForestClassifier(n_estimators=100, class_weight="balanced", n_jobs=2, random_state=seed))
    if name == "sklearn-iforest":
        from sklearn.ensemble import IsolationForest
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        return make_pipeline(SimpleImputer(), IsolationForest(n_estimators=100, random_state=seed))
    if name == "lightgbm":
        import lightgbm
        return lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, class_weight="balanced", n_jobs=2, random_state=seed, verbose=-1)
    if name == "xgboost":
        import xgboost
        return xgboost.XGBClassifier(n_estimators=100, max_depth=6, tree_method="hist", n_jobs=2, random_state=seed)
    raise SystemExit(f"unknown peer {name}")

def score(model, X):
    if name == "sklearn-iforest":
        return -model.score_samples(X)
    return model.predict_proba(X)[:, 1]

def max_f1_threshold(s, y):
    if name == "sklearn-iforest":  # unsupervised: the benign 99th percentile, as iotguard does
        return float(np.quantile(s[~y], 0.99))
    p, r, th = precision_recall_curve(y, s)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)[:-1]
    return float(th[np.argmax(f)]) if len(th) else 0.5

def train(Xtr, ytr, setting=None):
    """Fits on a stratified 80 % of the rows and chooses the threshold on the other 20 %, as
    iotguard's lab does; returns (model, threshold, fit seconds)."""
    Xfit, Xval, yfit, yval = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=seed)
    m = make()
    if setting is not None:
        m.set_params(**setting_params(setting))
    t0 = time.perf_counter()
    if name == "sklearn-iforest":
        m.fit(Xfit[~yfit])
    elif name == "xgboost":
        m.set_params(scale_pos_weight=float((~yfit).sum()) / max(float(yfit.sum()), 1.0))
        m.fit(Xfit, yfit)
    else:
        m.fit(Xfit, yfit)
    secs = time.perf_counter() - t0
    return m, max_f1_threshold(score(m, Xval), yval), secs

def choose(Xtr, ytr, gtr):
    """Nested leave-one-capture-out over the training captures, as `iotguard compare --tune`:
    every setting trained on all but one training capture and flagging it at its threshold;
    the best MCC over the pooled inner held-out flows wins (ties: the earlier setting)."""
    best, best_mcc, scores = None, -np.inf, []
    for setting in GRID:
        alerts, targets = [], []
        for h in sorted(set(gtr)):
            inner_test = gtr == h
            yi = ytr[~inner_test]
            if yi.all() or (~yi).all():
                continue
            m, th, _ = train(Xtr[~inner_test], yi, setting)
            alerts.append(score(m, Xtr[inner_test]) >= th); targets.append(ytr[inner_test])
        mcc = float(matthews_corrcoef(np.concatenate(targets), np.concatenate(alerts)))
        scores.append(round(mcc, 4))
        if mcc > best_mcc:
            best, best_mcc = setting, mcc
    return best, scores

alert = np.zeros(len(y), bool); scores = np.zeros(len(y)); train_s = 0.0; pred_s = 0.0; tune_s = 0.0
one = None; chosen = {}
for g in sorted(set(groups)):
    test = groups == g; train_rows = ~test
    Xtr, ytr = X[train_rows], y[train_rows]
    if name != "sklearn-iforest" and (ytr.all() or (~ytr).all()):
        raise SystemExit(f"holding out {g} leaves one class")
    setting = None if fixed is None else GRID[fixed]
    if tune:
        t0 = time.perf_counter()
        setting, inner = choose(Xtr, ytr, groups[train_rows])
        tune_s += time.perf_counter() - t0
        chosen[g] = {"setting": setting, "inner_mcc": inner}
        print(f"{name}: holding out {g}: chose {setting}, inner MCC per setting {inner}", file=sys.stderr, flush=True)
    m, th, secs = train(Xtr, ytr, setting)
    train_s += secs
    t0 = time.perf_counter()
    s = score(m, X[test])
    pred_s += time.perf_counter() - t0
    scores[test] = s; alert[test] = s >= th
    if one is None:
        rows = X[test][:300]
        t0 = time.perf_counter()
        for r in rows:
            score(m, r.reshape(1, -1))
        one = len(rows) / (time.perf_counter() - t0)
tp = int((alert & y).sum()); fp = int((alert & ~y).sum()); tn = int((~alert & ~y).sum()); fn = int((~alert & y).sum())
prec = tp / (tp + fp) if tp + fp else None; rec = tp / (tp + fn) if tp + fn else None
print("RESULT " + json.dumps({
    "precision": prec, "recall": rec, "f1": float(f1_score(y, alert)), "false_alert_rate": fp / (fp + tn),
    "mcc": float(matthews_corrcoef(y, alert)), "pr_auc": float(average_precision_score(y, scores)),
    "train_s": train_s, "tune_s": tune_s, "chosen": chosen, "predict_rows_s": len(y) / pred_s, "one_row_s": one,
    "features": len(cols), "rows": int(len(y)),
}))
'''


# The names of the PEER grid's settings, in order, as `iotguard compare --setting` takes them
# (crates/iotguard-models/src/tune.rs).
GRID_NAMES = ["leaves31-lr0.1-leaf20", "depth6-lr0.3-leaf1", "depth6-lr0.3-leaf1-col0.5", "depth6-lr0.3-leaf20",
              "leaves15-lr0.1-leaf100-col0.5-row0.8", "depth4-lr0.1-leaf50-col0.3"]


def run_measured(cmd):
    """Runs cmd; returns (stdout, wall seconds, that process's peak RSS in MiB)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd[:4])}…\n{err.decode(errors='replace')[-3000:]}")
    return out.decode(), time.perf_counter() - t, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--quick", action="store_true", help="fewer models (logreg, tree, gbdt; sklearn-logreg, lightgbm)")
    ap.add_argument("--no-tune", action="store_true", help="skip the nested-tuning pass (about an hour per peer on 2 cores)")
    ap.add_argument("--label-audit", metavar="FILE",
                    help="a label audit (bench/label-audit.json): its flows are left out for everyone; outputs get an -audited suffix")
    ap.add_argument("--only", choices=["tuned", "grid"], help="run only the nested-tuning pass, or only the setting-by-setting pass")
    args = ap.parse_args()
    py = peer_python()
    versions = subprocess.run([py, "-c", "import sklearn, lightgbm, xgboost; print(sklearn.__version__, lightgbm.__version__, xgboost.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "iotguard-cli"], cwd=ROOT, check=True)
    iotguard = os.path.join(ROOT, "target", "release", "iotguard")
    captures = sorted(glob.glob(os.path.join(args.data, "iot23", "*.labeled")) + glob.glob(os.path.join(args.data, "stratosphere", "*.labeled")))
    audited = "-audited" if args.label_audit else ""
    dataset = os.path.join(OUT, f"features{audited}.parquet")
    ours = "logreg,tree,gbdt" if args.quick else "logreg,svm,tree,forest,gbdt,iforest"
    peers = ["sklearn-logreg", "lightgbm"] if args.quick else ["sklearn-logreg", "sklearn-rf", "sklearn-iforest", "lightgbm", "xgboost"]
    rows = []
    # (feature set, tuned): every model at its defaults on both feature sets, then the boosted
    # trees with hyperparameters chosen by nested leave-one-capture-out (the same grid and
    # criterion for iotguard, LightGBM and XGBoost).
    # A run: (feature set, mode) with mode None (defaults), "tune" or "setting=K" (grid index).
    runs = [("all", None), ("flow", None)] + ([] if args.quick or args.no_tune else [("all", "tune")])
    if args.only == "tuned":
        runs = [("all", "tune")]
    elif args.only == "grid":
        runs = [("all", f"setting={k}") for k in range(len(GRID_NAMES))]
    for feature_set, mode in runs:
        tuned = mode is not None
        tag = "" if mode is None else "-tuned" if mode == "tune" else "-" + GRID_NAMES[int(mode.split("=")[1])]
        report_dir = os.path.join(OUT, f"compare-{feature_set}{tag}{audited}")
        cmd = [iotguard, "compare", "--models", "gbdt" if tuned else ours, "--out", report_dir, "--export-dataset", dataset] + captures
        if feature_set == "flow":
            cmd.insert(2, "--flow-features-only")
        if args.label_audit:
            cmd[2:2] = ["--label-audit", os.path.abspath(args.label_audit)]
        if mode == "tune":
            cmd.insert(2, "--tune")
        elif tuned:
            cmd[2:2] = ["--gbdt-setting", tag[1:]]
        _, _, rss = run_measured(cmd)
        with open(os.path.join(report_dir, "report.json")) as f:
            rep = json.load(f)
        suffix = "" if mode is None else " (tuned)" if mode == "tune" else f" ({tag[1:]})"
        for m in rep["models"]:
            p = m["pooled"]
            rows.append((feature_set, "iotguard " + m["kind"] + suffix, p["precision"], p["recall"], p["f1"], p["false_alert_rate"],
                         p["mcc"], p["pr_auc"], m["train_secs"], m["tune_secs"], m["predict_rows_per_sec"], None, rss))
            if mode == "tune":
                print("iotguard chose", json.dumps({f["name"].rsplit("/", 1)[-1]: f["setting"] for f in m["per_fold"]}), file=sys.stderr)
        for peer in (["lightgbm", "xgboost"] if tuned else peers):
            out, _, rss = run_measured([py, "-c", PEER, dataset, peer, feature_set, "1"] + ([mode] if tuned else []))
            r = json.loads([l for l in out.splitlines() if l.startswith("RESULT ")][-1][7:])
            rows.append((feature_set, peer + suffix, r["precision"], r["recall"], r["f1"], r["false_alert_rate"], r["mcc"],
                         r["pr_auc"], r["train_s"], r["tune_s"], r["predict_rows_s"], r["one_row_s"], rss))
            print(feature_set, peer + suffix, json.dumps(r), file=sys.stderr)
    f = lambda v: "–" if v is None else f"{v:.3f}"
    print(f"\nscikit-learn {versions[0]}, LightGBM {versions[1]}, XGBoost {versions[2]}; {rep['rows']:,} labeled flows from {len(captures)} captures\n")
    print("(iotguard's peak RSS is the whole `compare` process: reading, features and every model.)\n")
    print("| features | model | precision | recall | F1 | false-alert rate | MCC | PR-AUC | train s (all folds) | tuning s | predict rows/s | one flow at a time /s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fs, name, prec, rec, f1, far, mcc, prauc, tr, tu, pr, one, rss in rows:
        print(f"| {fs} | {name} | {f(prec)} | {f(rec)} | {f(f1)} | {f(far)} | {f(mcc)} | {f(prauc)} | {tr:.1f} | {'–' if not tu else f'{tu:.0f}'} | {pr:,.0f} | {'–' if one is None else f'{one:,.0f}'} | {rss:,.0f} |")


if __name__ == "__main__":
    main()
