"""Reads a flow archive written by `iotguard detect --archive` with pyarrow and DuckDB and checks
that both see exactly the expected number of rows, every one with a score.

Usage: archive_check.py ARCHIVE_DIR|s3://BUCKET/PREFIX EXPECTED_ROWS

For an `s3://` archive, pyarrow reads the bucket itself (its S3 filesystem, at `AWS_ENDPOINT_URL`
with the `AWS_*` credentials, as `bench/s3_server.sh` exports them) and DuckDB queries that
pyarrow dataset (DuckDB's own S3 reader is an extension downloaded at run time, which CI cannot
assume).
"""

import os
import pathlib
import sys
import urllib.parse

import duckdb
import pyarrow.dataset as ds


def s3_dataset(url: str) -> ds.Dataset:
    import pyarrow.fs as pafs

    endpoint = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
    fs = pafs.S3FileSystem(
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme or "http",
        access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
    path = url[len("s3://"):].rstrip("/")
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    names = [i.path for i in infos if i.type == pafs.FileType.File]
    hidden = [n for n in names if "/." in n]
    assert not hidden, f"temporary objects left: {hidden[:3]}"
    assert names, f"no objects under {url}"
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")


def main() -> None:
    root, expected = sys.argv[1], int(sys.argv[2])
    if root.startswith("s3://"):
        dataset = s3_dataset(root)
        # DuckDB scans the pyarrow dataset (a Python variable) in place.
        source = "dataset"
    else:
        hidden = [p for p in pathlib.Path(root).rglob(".*") if p.is_file()]
        assert not hidden, f"temporary files left: {hidden[:3]}"
        dataset = ds.dataset(root, format="parquet", partitioning="hive")
        source = f"read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
    table = dataset.to_table(columns=["ts", "score", "threshold", "is_alert", "alert_id", "model_id", "date", "hour"])
    assert table.num_rows == expected, f"pyarrow: {table.num_rows} rows, expected {expected}"
    assert table.column("score").null_count == 0
    assert str(table.schema.field("score").type) == "float"
    alerts = sum(table.column("is_alert").to_pylist())
    with_id = table.num_rows - table.column("alert_id").null_count
    assert with_id <= alerts

    rows, scored, models, min_score, max_score = duckdb.sql(
        f"select count(*), count(score), count(distinct model_id), min(score), max(score) "
        f"from {source}"
    ).fetchall()[0]
    assert rows == expected, f"duckdb: {rows} rows, expected {expected}"
    assert scored == expected
    assert models == 1
    assert 0.0 <= min_score <= max_score <= 1.0, (min_score, max_score)
    partitions = duckdb.sql(
        f"select count(distinct (date, hour)) from {source}"
    ).fetchall()[0][0]
    print(f"archive ok: {rows} rows with scores, {alerts} alerting, {partitions} hour partitions (pyarrow and duckdb)")


if __name__ == "__main__":
    main()
