"""Reads a flow archive written by `iotguard detect --archive` with pyarrow and DuckDB and checks
that both see exactly the expected number of rows, every one with a score.

Usage: archive_check.py ARCHIVE_DIR EXPECTED_ROWS
"""

import pathlib
import sys

import duckdb
import pyarrow.dataset as ds


def main() -> None:
    root, expected = sys.argv[1], int(sys.argv[2])
    hidden = [p for p in pathlib.Path(root).rglob(".*") if p.is_file()]
    assert not hidden, f"temporary files left: {hidden[:3]}"

    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    table = dataset.to_table(columns=["ts", "score", "threshold", "is_alert", "alert_id", "model_id", "date", "hour"])
    assert table.num_rows == expected, f"pyarrow: {table.num_rows} rows, expected {expected}"
    assert table.column("score").null_count == 0
    assert str(table.schema.field("score").type) == "float"
    alerts = sum(table.column("is_alert").to_pylist())
    with_id = table.num_rows - table.column("alert_id").null_count
    assert with_id <= alerts

    rows, scored, models, min_score, max_score = duckdb.sql(
        f"select count(*), count(score), count(distinct model_id), min(score), max(score) "
        f"from read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()[0]
    assert rows == expected, f"duckdb: {rows} rows, expected {expected}"
    assert scored == expected
    assert models == 1
    assert 0.0 <= min_score <= max_score <= 1.0, (min_score, max_score)
    partitions = duckdb.sql(
        f"select count(distinct (date, hour)) from read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()[0][0]
    print(f"archive ok: {rows} rows with scores, {alerts} alerting, {partitions} hour partitions (pyarrow and duckdb)")


if __name__ == "__main__":
    main()
