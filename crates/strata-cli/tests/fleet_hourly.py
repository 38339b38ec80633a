#!/usr/bin/env python3
"""Per-host hourly aggregates of a fleet's tiers, read without strata by Spark or DuckDB.

Usage: fleet_hourly.py ROOT METRIC spark|duckdb

ROOT holds one tier store per node, ROOT/nodes/<node>/ (its `_manifest/` and tier folders).
Each node's snapshot is its highest manifest generation; its files are read with the row rule
of docs/FORMATS.md ("Reading a snapshot"): every row of every cold file; of a warm file, the
rows from the manifest's `cold_until` on, or all of them when its `flush` is above
`cold_flushes`. Rows of one host and hour (warm minutes, cold hours, partial rows of late
points) then add up: counts and sums add, min of mins, max of maxes, avg = sum / count.

Prints one JSON array of [hostname, hour (Unix seconds), count, sum, min, max, avg], sorted.

Spark runs in local mode (`local[2]`, 512 MiB driver, no UI, a JVM tuned to start fast). It reads tier files of schema
version 3 (`time` as TIMESTAMP(MICROS)) with an explicit schema that leaves out `first_time`
and `last_time`, which are TIMESTAMP(NANOS): a schema inferred from the files fails on them.

Exit status 3 when the engine cannot run here (a python module or java is missing, or Spark
does not start), so the caller may skip; 1 on any other error.
"""

import glob
import json
import os
import shutil
import sys

# The columns the aggregates need, with their types in Spark's DDL. Naming them keeps Spark
# from inferring a schema from the files, which fails on the nanosecond columns.
SPARK_SCHEMA = (
    "metric string, field string, cluster string, hostname string, type string, "
    "type_id string, stype string, stype_id string, tags string, "
    "time timestamp, count bigint, sum double, sum_lo double, min double, max double"
)


class Unavailable(Exception):
    """The engine cannot run on this machine."""


def snapshot(node_dir):
    """A node's snapshot: (files read whole, files read from cold_until on, cold_until in ns)."""
    manifests = sorted(glob.glob(os.path.join(node_dir, "_manifest", "*.json")))
    if not manifests:
        raise SystemExit(f"{node_dir}: no manifest")
    with open(manifests[-1]) as f:
        manifest = json.load(f)
    cold_until = manifest["cold_until"] if manifest["cold_until"] is not None else -(2**63)
    whole, from_cold_until = [], []
    for file in manifest["files"]:
        path = os.path.join(node_dir, file["path"])
        if file["tier"] == "cold" or file["flush"] > manifest["cold_flushes"]:
            whole.append(path)
        else:
            from_cold_until.append(path)
    return whole, from_cold_until, cold_until


def spark_hourly(snapshots, metric):
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise Unavailable("no java on PATH and no JAVA_HOME (apt-get install openjdk-17-jre-headless)")
    try:
        from functools import reduce

        from pyspark.sql import DataFrame, SparkSession
        from pyspark.sql import functions as F
    except ImportError as e:
        raise Unavailable(f"missing python module: {e} (pip install pyspark)")
    # A container's host name may not resolve: Spark binds to the loopback address.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("strata-fleet-hourly")
            .config("spark.driver.memory", "512m")
            # A JVM that lives seconds: the C1 compiler only and a serial collector leave the
            # two cores of CI to the query (its part took 40% less time, 10-11 s against 16-20 s).
            .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except Exception as e:  # the JVM did not start: no usable java, too little memory
        raise Unavailable(f"Spark does not start: {e}")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        parts = []
        for whole, from_cold_until, cold_until in snapshots:
            if whole:
                parts.append(spark.read.schema(SPARK_SCHEMA).parquet(*whole))
            if from_cold_until:
                rows = spark.read.schema(SPARK_SCHEMA).parquet(*from_cold_until)
                # cold_until is a whole hour: exact in microseconds.
                parts.append(rows.where(F.unix_micros("time") >= cold_until // 1000))
        rows = reduce(DataFrame.unionByName, parts).where(F.col("metric") == metric)
        hourly = (
            rows.groupBy("hostname", F.unix_seconds(F.date_trunc("HOUR", "time")).alias("hour"))
            .agg(
                F.sum("count").alias("count"),
                F.sum("sum").alias("sum"),
                F.min("min").alias("min"),
                F.max("max").alias("max"),
            )
            .withColumn("avg", F.col("sum") / F.col("count"))
            .orderBy("hostname", "hour")
        )
        return [[r["hostname"], r["hour"], r["count"], r["sum"], r["min"], r["max"], r["avg"]] for r in hourly.collect()]
    finally:
        spark.stop()


def duckdb_hourly(snapshots, metric):
    try:
        import duckdb
    except ImportError as e:
        raise Unavailable(f"missing python module: {e} (pip install duckdb)")
    quote = lambda paths: "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    parts = []
    for whole, from_cold_until, cold_until in snapshots:
        if whole:
            parts.append(f"SELECT hostname, metric, time, count, sum, min, max FROM read_parquet({quote(whole)})")
        if from_cold_until:
            # epoch_ns reads `time` in either unit (microseconds from schema version 3).
            parts.append(
                f"SELECT hostname, metric, time, count, sum, min, max FROM read_parquet({quote(from_cold_until)}) "
                f"WHERE epoch_ns(time) >= {cold_until}"
            )
    query = f"""
        SELECT hostname, epoch_ns(time) // 3600000000000 * 3600 AS hour,
               sum(count)::BIGINT AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
               sum(sum) / sum(count) AS avg
        FROM ({" UNION ALL ".join(parts)})
        WHERE metric = '{metric.replace("'", "''")}'
        GROUP BY ALL ORDER BY ALL"""
    return [list(r) for r in duckdb.connect().execute(query).fetchall()]


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("spark", "duckdb"):
        print(__doc__, file=sys.stderr)
        return 1
    root, metric, engine = sys.argv[1:]
    nodes = sorted(glob.glob(os.path.join(root, "nodes", "*")))
    if not nodes:
        print(f"{root}/nodes holds no node", file=sys.stderr)
        return 1
    snapshots = [snapshot(node) for node in nodes]
    try:
        rows = (spark_hourly if engine == "spark" else duckdb_hourly)(snapshots, metric)
    except Unavailable as e:
        print(e, file=sys.stderr)
        return 3
    json.dump(rows, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
