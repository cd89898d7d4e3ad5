"""The seeds' stack beside iotguard at IoT-23's scale (issue 16, item 4): a random forest fitted by
scikit-learn or by Spark MLlib (local[2], the seeds' engine) on the feature rows `iotguard
features` wrote, then used to score the rows of another stream. bench/iot23_scale.sh runs it
once per engine, under /usr/bin/time, and says how many rows each was given.

    python bench/iot23_scale_peers.py sklearn|spark TRAIN_DIR SCORE_DIR

Prints one line of `key=value` pairs: rows fitted, fit seconds, rows scored, score seconds,
recall and false-alert rate at 0.5 on the scored rows, and (Spark) the JVM's peak resident
memory, which /usr/bin/time does not see (the JVM is a child of this process).
"""
import sys
import time

import numpy as np
import pyarrow.parquet as pq

LEAD = ["capture", "label", "detailed_label", "time"]


def load(folder):
    table = pq.read_table(folder + "/features.parquet")
    names = [n for n in table.column_names if n not in LEAD]
    x = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(np.float32)
    y = table.column("label").to_numpy(zero_copy_only=False).astype(np.int8)
    return x, y, names


def rates(y, p):
    attacks, benign = (y == 1).sum(), (y == 0).sum()
    recall = float(((p == 1) & (y == 1)).sum() / attacks) if attacks else float("nan")
    far = float(((p == 1) & (y == 0)).sum() / benign) if benign else float("nan")
    return recall, far


def run_sklearn(train_dir, score_dir):
    from sklearn.ensemble import RandomForestClassifier

    x, y, _ = load(train_dir)
    # scikit-learn's forest does not take NaN before 1.4 everywhere; 0 is what the seeds did.
    x = np.nan_to_num(x, nan=0.0)
    model = RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=1)
    start = time.time()
    model.fit(x, y)
    fit = time.time() - start
    rows = len(y)
    del x, y
    xs, ys, _ = load(score_dir)
    xs = np.nan_to_num(xs, nan=0.0)
    start = time.time()
    pred = (model.predict_proba(xs)[:, 1] >= 0.5).astype(np.int8)
    score = time.time() - start
    recall, far = rates(ys, pred)
    print(f"engine=sklearn rows_fitted={rows} fit_s={fit:.1f} rows_scored={len(ys)} score_s={score:.1f} "
          f"recall={recall:.4f} far={far:.4f}")


def jvm_peak_rss_mib(spark):
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_spark(train_dir, score_dir):
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master("local[2]").appName("iot23_scale")
             .config("spark.driver.memory", "12g")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    # Spark reads a dot in a column name as a struct field: the features' names (`proto.tcp`)
    # are renamed, in order, before anything refers to them.
    def read(folder):
        df = spark.read.parquet(folder + "/features.parquet")
        return df.toDF(*[c.replace(".", "_") for c in df.columns])

    train = read(train_dir)
    names = [n for n in train.columns if n not in LEAD]
    # MLlib's assembler refuses NaN unless told to keep it, and its trees do not route missing
    # values: 0, as in the scikit-learn run.
    train = train.na.fill(0.0, subset=names)
    assembler = VectorAssembler(inputCols=names, outputCol="features", handleInvalid="keep")
    rf = RandomForestClassifier(labelCol="label", featuresCol="features", numTrees=100, maxDepth=20,
                                maxBins=32, seed=1, subsamplingRate=1.0)
    data = assembler.transform(train.withColumn("label", F.col("label").cast("double"))).select("label", "features")
    data = data.cache()
    rows = data.count()
    start = time.time()
    model = rf.fit(data)
    fit = time.time() - start
    data.unpersist()
    score_df = read(score_dir).na.fill(0.0, subset=names)
    score_df = assembler.transform(score_df.withColumn("label", F.col("label").cast("double")))
    start = time.time()
    out = model.transform(score_df).select("label", "prediction").toPandas()
    score = time.time() - start
    recall, far = rates(out["label"].to_numpy().astype(np.int8), out["prediction"].to_numpy().astype(np.int8))
    print(f"engine=spark-mllib rows_fitted={rows} fit_s={fit:.1f} rows_scored={len(out)} score_s={score:.1f} "
          f"recall={recall:.4f} far={far:.4f} jvm_peak_rss_mib={jvm_peak_rss_mib(spark):.0f}")
    spark.stop()


if __name__ == "__main__":
    engine, train_dir, score_dir = sys.argv[1:4]
    {"sklearn": run_sklearn, "spark": run_spark}[engine](train_dir, score_dir)
