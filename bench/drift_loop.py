#!/usr/bin/env python3
"""The self-watching loop end to end, as an operator runs it (issue 15, item 5): a network
changes, the model's false alerts rise, the drift monitors notice, analysts judge the alerts
through the API, `detect --auto-retrain drift` retrains on their verdicts when drift is
raised, runs the retrained model as a shadow on live flows, swaps it in, and the false alerts
fall again. Every step is the real binary, the real HTTP API, the real archive (read here with
pyarrow) and the real alert store. Not in CI (minutes); the result goes into BENCHMARKS.md.

    python3 -m venv venv && venv/bin/pip install pyarrow
    cargo build --release -p iotguard-cli
    venv/bin/python bench/drift_loop.py [--bin target/release/iotguard] [--out DIR] [--model logreg]

The scenario: `simulate --scenario drift` (seed 3, 250,000 flows, the change at flow 100,000:
every camera's firmware changes its traffic and new device types appear). The model is trained
on flows 0-60,000; day 1 (flows 60,000-150,000) is detected with the archive and the store,
every alert is judged by the simulator's truth (the label of most of its archived flows)
through `POST /api/v1/alerts/{id}/feedback`; day 2 (flows 150,000-250,000) is detected at
--rate flows/s with `--auto-retrain drift` on. False-alert rate = alerting benign flows /
benign flows, from the archive.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict

import pyarrow.parquet as pq

CHANGE_AT = 100_000
TRAIN_END = 60_000
DAY1_END = 150_000
TOTAL = 250_000


def run(cmd, **kw):
    print("$", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def split(all_log, out):
    header, body = [], []
    with open(all_log) as f:
        for line in f:
            if line.startswith("#"):
                if not line.startswith("#close"):
                    header.append(line)
            else:
                body.append(line)
    assert len(body) == TOTAL, len(body)
    parts = {"train": (0, TRAIN_END), "day1": (TRAIN_END, DAY1_END), "day2": (DAY1_END, TOTAL)}
    for name, (a, b) in parts.items():
        with open(os.path.join(out, f"{name}.log"), "w") as f:
            f.writelines(header + body[a:b])
    # The event time of the change (ts is the first column).
    return float(body[CHANGE_AT].split("\t")[0]), float(body[DAY1_END].split("\t")[0])


def read_archive(path):
    files = []
    for root, _, names in os.walk(path):
        files += [os.path.join(root, n) for n in names if n.endswith(".parquet") and not n.startswith(".")]
    cols = ["ts", "label_class", "is_alert", "alert_id", "model_id", "shadow_score"]
    rows = []
    for f in sorted(files):
        t = pq.read_table(f, columns=cols).to_pydict()
        for i in range(len(t["ts"])):
            rows.append({c: t[c][i] for c in cols})
    for r in rows:
        r["ts"] = r["ts"].timestamp()
    rows.sort(key=lambda r: r["ts"])
    return rows


def rates(rows):
    benign = [r for r in rows if r["label_class"] == "benign"]
    mal = [r for r in rows if r["label_class"] == "malicious"]
    fp = sum(r["is_alert"] for r in benign)
    tp = sum(r["is_alert"] for r in mal)
    return {
        "flows": len(rows),
        "benign": len(benign),
        "false_alerts": fp,
        "far": fp / len(benign) if benign else 0.0,
        "recall": tp / len(mal) if mal else 0.0,
    }


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def judge(binary, out, rows, model):
    """Posts every stored alert's verdict (the truth of most of its flows) through the API."""
    truth = defaultdict(Counter)
    for r in rows:
        if r["alert_id"]:
            truth[r["alert_id"]][r["label_class"]] += 1
    port = free_port()
    token = "drift-loop"
    server = subprocess.Popen(
        [binary, "serve", "--model", model, "--alerts-db", os.path.join(out, "alerts.db"),
         "--listen", f"127.0.0.1:{port}", "--token", token],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        given = Counter()
        for alert_id, counts in sorted(truth.items()):
            verdict = "true_positive" if counts["malicious"] > counts["benign"] else "false_positive"
            req = urllib.request.Request(
                f"{base}/api/v1/alerts/{alert_id}/feedback",
                data=json.dumps({"verdict": verdict, "analyst": "drift-loop"}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                method="POST")
            try:
                urllib.request.urlopen(req, timeout=10)
                given[verdict] += 1
            except urllib.error.HTTPError as e:
                # An incident whose flows moved to a typed one before it was ever sent is not
                # in the store (its flows are context only): nothing to judge.
                if e.code != 404:
                    raise
                given["not in the store"] += 1
        return given
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/iotguard")
    ap.add_argument("--out", default="target/drift-loop")
    ap.add_argument("--model", default="logreg")
    ap.add_argument("--rate", default="2000", help="day 2's replay rate (flows/s)")
    ap.add_argument("--shadow-flows", default="5000")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for name in ["alerts.db", "alerts.db-wal", "alerts.db-shm"]:
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    archive = os.path.join(out, "archive")
    subprocess.run(["rm", "-rf", archive] + [os.path.join(out, f) for f in os.listdir(out) if ".retrained-" in f])
    started = time.time()
    run([binary, "simulate", "--seed", "3", "--flows", str(TOTAL), "--scenario", "drift",
         "--change-at", str(CHANGE_AT), "--out", os.path.join(out, "all.log")])
    change_ts, day2_ts = split(os.path.join(out, "all.log"), out)
    model = os.path.join(out, "current.json")
    run([binary, "train", "--model", args.model, os.path.join(out, "train.log"), "--out", model],
        stdout=subprocess.DEVNULL)
    common = ["--model", model, "--archive", archive, "--archive-roll-secs", "1",
              "--alerts-db", os.path.join(out, "alerts.db"), "--json"]
    day1 = json.loads(run([binary, "detect", *common, os.path.join(out, "day1.log")],
                          capture_output=True, text=True).stdout)
    rows = read_archive(archive)
    before = rates([r for r in rows if r["ts"] < change_ts])
    after = rates([r for r in rows if change_ts <= r["ts"] < day2_ts])
    given = judge(binary, out, rows, model)
    d2 = subprocess.run(
        [binary, "detect", *common, "--auto-retrain", "drift", "--shadow-flows", args.shadow_flows,
         "--rate", args.rate, os.path.join(out, "day2.log")],
        capture_output=True, text=True)
    print(d2.stderr, file=sys.stderr)
    assert d2.returncode == 0, d2.returncode
    day2 = json.loads(d2.stdout)
    rows = read_archive(archive)
    d2rows = [r for r in rows if r["ts"] >= day2_ts]
    first_model = d2rows[0]["model_id"]
    by_old = [r for r in d2rows if r["model_id"] == first_model]
    by_new = [r for r in d2rows if r["model_id"] != first_model]
    shadowed = sum(r["shadow_score"] is not None for r in d2rows)
    lines = [l for l in d2.stderr.splitlines() if "auto-retrain" in l]
    retrained = [f for f in os.listdir(out) if ".retrained-" in f and f.endswith(".json")]
    evals = {}
    for name in ["current.json"] + sorted(retrained):
        e = json.loads(run([binary, "eval", "--model", os.path.join(out, name), "--json",
                            os.path.join(out, "day2.log")], capture_output=True, text=True).stdout)
        evals[name] = e["pooled"]
    result = {
        "model": args.model,
        "day1": {"report": day1["report"], "before_change": before, "after_change": after},
        "verdicts": given,
        "day2": {"report": day2["report"], "by_current": rates(by_old), "by_retrained": rates(by_new),
                 "shadow_scored": shadowed, "auto_retrain": lines},
        "eval_day2": {k: {m: v[m] for m in ["precision", "recall", "false_alert_rate", "fp"]} for k, v in evals.items()},
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
