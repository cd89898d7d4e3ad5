#!/usr/bin/env python3
"""Checks that a flow Parquet file reads in pyarrow (and pandas, if installed) with the
documented schema (docs/parquet-schema.md, version 1).

Usage: pyarrow_check.py FILE.parquet EXPECTED_ROWS

Exits 0 when every check passes, 1 listing every failed check, 2 on bad usage or when pyarrow
is missing. CI writes FILE with `cargo run -p iotguard-runtime --example write_sample_parquet`.
"""

import sys

COLUMNS = [
    "ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "service", "duration",
    "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes",
    "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents",
    "orig_l2_addr", "resp_l2_addr", "community_id", "sensor", "label", "label_class",
    "detailed_label",
]
# What `convert --to parquet` writes after the flow columns (docs/parquet-schema.md).
CONVERT_COLUMNS = ["input", "capture", "untimed", "native_family", "native_values"]


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit():
        print("usage: pyarrow_check.py FILE.parquet EXPECTED_ROWS", file=sys.stderr)
        return 2
    path, expected_rows = argv[1], int(argv[2])
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        print(f"pyarrow_check: FAIL: pyarrow is not installed ({e})", file=sys.stderr)
        return 2

    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    pf = pq.ParquetFile(path)
    check(pf.metadata.num_rows == expected_rows,
          f"footer has {pf.metadata.num_rows} rows, expected {expected_rows}")
    kv = pf.metadata.metadata or {}
    version = kv.get(b"iotguard.schema_version")
    check(version == b"1", f"metadata iotguard.schema_version is {version!r}, expected b'1'")

    table = pq.read_table(path)
    schema = table.schema
    version = (schema.metadata or {}).get(b"iotguard.schema_version")
    check(version == b"1",
          f"Arrow schema metadata iotguard.schema_version is {version!r}, expected b'1'")
    check(table.num_rows == expected_rows,
          f"table has {table.num_rows} rows, expected {expected_rows}")
    check(schema.names in (COLUMNS, COLUMNS + CONVERT_COLUMNS),
          f"columns are {schema.names}, expected {COLUMNS} (+ {CONVERT_COLUMNS} from convert)")

    dict_str = pa.dictionary(pa.int32(), pa.string())
    expected_types = {
        "ts": pa.timestamp("ns", tz="UTC"),
        "duration": pa.duration("ns"),
        "uid": pa.string(),
        "orig_h": pa.string(),
        "orig_p": pa.uint16(),
        "orig_bytes": pa.uint64(),
        "local_orig": pa.bool_(),
        "proto": dict_str,
        "conn_state": dict_str,
        "label": dict_str,
        "label_class": dict_str,
        "tunnel_parents": pa.list_(pa.field("item", pa.string(), nullable=False)),
    }
    for name, expected in expected_types.items():
        if name in schema.names:
            actual = schema.field(name).type
            check(actual == expected, f"column {name} has type {actual}, expected {expected}")
    for name in ("ts", "proto"):
        if name in schema.names:
            check(not schema.field(name).nullable, f"column {name} is nullable, expected not")

    try:
        import pandas as pd
    except ImportError:
        pd = None
        print("pyarrow_check: pandas is not installed, skipping the pandas checks")
    if pd is not None:
        try:
            df = pd.read_parquet(path)
            check(len(df) == expected_rows,
                  f"pandas read {len(df)} rows, expected {expected_rows}")
            check(str(df["ts"].dtype) == "datetime64[ns, UTC]",
                  f"pandas ts dtype is {df['ts'].dtype}, expected datetime64[ns, UTC]")
            check(str(df["duration"].dtype) == "timedelta64[ns]",
                  f"pandas duration dtype is {df['duration'].dtype}, expected timedelta64[ns]")
            check(str(df["label_class"].dtype) == "category",
                  f"pandas label_class dtype is {df['label_class'].dtype}, expected category")
            # Exact nullable types, as the schema document recommends for analysis.
            exact = table.to_pandas(types_mapper=pd.ArrowDtype)
            check(len(exact) == expected_rows, "pandas (ArrowDtype) lost rows")
        except Exception as e:  # Any failure to load is the thing being checked.
            failures.append(f"pandas failed to load the file: {type(e).__name__}: {e}")

    if failures:
        for f in failures:
            print(f"pyarrow_check: FAIL: {path}: {f}", file=sys.stderr)
        return 1
    print(f"pyarrow_check: ok: {path}: {expected_rows} rows, {len(COLUMNS)} columns "
          f"(pyarrow {pa.__version__}{', pandas ' + pd.__version__ if pd else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
