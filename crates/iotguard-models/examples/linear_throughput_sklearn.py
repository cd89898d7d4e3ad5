"""Times scikit-learn's LogisticRegression on the rows `linear_throughput` dumps, for a
same-data, same-machine comparison.

    cargo run --release -p iotguard-models --example linear_throughput /tmp/lt
    python3 crates/iotguard-models/examples/linear_throughput_sklearn.py /tmp/lt

Same objective as iotguard's (mean log-loss + l2/2 |w|^2 on standardised features, intercept
unpenalised): C = 1 / (l2 * n_train) with l2 = 1e-4, and the same 1e-5 gradient tolerance.
Missing values are mean-imputed first (scikit-learn's LogisticRegression rejects NaN), as
iotguard's standardizer does. Best of 3 runs, like the Rust example.

The rows are cast to float64 first: fed the float32 rows as they are, scikit-learn standardises
in float32 and loses the features whose spread is small next to their offset (ROC-AUC 0.822
instead of 0.877 on this data); iotguard keeps its statistics in f64 and stores only the
standardised values (of order 1) as f32.
"""
import sys
import time

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROWS, FEATURES, REPEATS = 1_000_000, 20, 3
prefix = sys.argv[1]
x = np.fromfile(f"{prefix}.x.f32", dtype="<f4").reshape(ROWS, FEATURES).astype(np.float64)
y = np.fromfile(f"{prefix}.y.u8", dtype=np.uint8).astype(bool)
split = ROWS * 8 // 10
xtr, ytr, xte, yte = x[:split], y[:split], x[split:], y[split:]


def fastest(f):
    best, out = float("inf"), None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


for label, tol in [("tol 1e-5 (iotguard's)", 1e-5), ("tol 1e-4 (sklearn default)", 1e-4)]:
    make = lambda: make_pipeline(
        SimpleImputer(strategy="mean"),
        StandardScaler(),
        LogisticRegression(C=1.0 / (1e-4 * split), tol=tol, max_iter=200),
    )
    secs, model = fastest(lambda: make().fit(xtr, ytr))
    n_iter = model[-1].n_iter_[0]
    print(f"sklearn logreg train, {label}: {secs:.2f} s, {n_iter} iterations")

pre = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(xtr)
ztr, zte = pre.transform(xtr), pre.transform(xte)
secs, clf = fastest(
    lambda: LogisticRegression(C=1.0 / (1e-4 * split), tol=1e-5, max_iter=200).fit(ztr, ytr)
)
print(f"sklearn logreg train on pre-standardised rows: {secs:.2f} s")
secs, p = fastest(lambda: model.predict_proba(xte)[:, 1])
print(f"sklearn predict batch (pipeline): {len(xte) / secs / 1e6:.1f} M rows/s, "
      f"ROC-AUC {roc_auc_score(yte, p):.3f}, accuracy {np.mean((p >= 0.5) == yte):.3f}")
secs, _ = fastest(lambda: clf.predict_proba(zte)[:, 1])
print(f"sklearn predict batch (standardised input): {len(xte) / secs / 1e6:.1f} M rows/s")
rows = 2_000
t = time.perf_counter()
for i in range(rows):
    model.predict_proba(xte[i : i + 1])
print(f"sklearn predict one row at a time (pipeline): {rows / (time.perf_counter() - t) / 1e3:.1f} k rows/s")
t = time.perf_counter()
for i in range(rows):
    clf.predict_proba(zte[i : i + 1])
print(f"sklearn predict one row at a time (model only): {rows / (time.perf_counter() - t) / 1e3:.1f} k rows/s")
