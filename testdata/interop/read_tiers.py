#!/usr/bin/env python3
"""Reads strata's warm and cold tier folders without strata, with DuckDB and with pyarrow.

Usage: read_tiers.py TIERS_DIR   (TIERS_DIR is <data_dir>/tiers by default)

Prints one JSON object: {"duckdb": {"warm": [row, ...], "cold": [...]}, "pyarrow": {...}},
each row {"metric", "hostname", "time" (Unix seconds of the bucket start), "count", "sum",
"min", "max"}, sorted by metric, hostname and time.

A bucket of a series may have partial rows in several files (late points, backfill), so a
reader groups by the series columns and time and merges: counts and sums add, min of mins,
max of maxes. `sum_lo` is the rounding error of `sum` (a double-double); adding it is optional.

Exit status 3 when python modules are missing (the caller may skip), 1 on other errors.
"""

import json
import os
import sys

SERIES = ["metric", "field", "cluster", "hostname", "type", "type_id", "stype", "stype_id", "tags"]
TIERS = ["warm", "cold"]


def duckdb_rows(duckdb, tiers_dir, tier):
    folder = os.path.join(tiers_dir, tier)
    if not os.path.isdir(folder):
        return []
    pattern = os.path.join(folder, "**", "*.parquet").replace("'", "''")
    keys = ", ".join(SERIES)
    query = f"""
        SELECT metric, hostname, epoch_ns(time) // 1000000000 AS time,
               SUM(count) AS count, SUM(sum) + SUM(sum_lo) AS sum, MIN(min) AS min, MAX(max) AS max
        FROM read_parquet('{pattern}', hive_partitioning = true)
        GROUP BY {keys}, time
        ORDER BY metric, hostname, time
    """
    con = duckdb.connect()
    columns = ["metric", "hostname", "time", "count", "sum", "min", "max"]
    return [dict(zip(columns, row)) for row in con.execute(query).fetchall()]


def pyarrow_rows(pa, ds, tiers_dir, tier):
    folder = os.path.join(tiers_dir, tier)
    if not os.path.isdir(folder):
        return []
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    grouped = table.group_by(SERIES + ["time"]).aggregate(
        [("count", "sum"), ("sum", "sum"), ("sum_lo", "sum"), ("min", "min"), ("max", "max")]
    )
    # `time` is in microseconds from tier schema version 3, nanoseconds before: as nanoseconds.
    times = grouped.column("time").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()
    rows = []
    for i, row in enumerate(grouped.to_pylist()):
        rows.append(
            {
                "metric": row["metric"],
                "hostname": row["hostname"],
                "time": times[i] // 1_000_000_000,
                "count": row["count_sum"],
                "sum": row["sum_sum"] + row["sum_lo_sum"],
                "min": row["min_min"],
                "max": row["max_max"],
            }
        )
    rows.sort(key=lambda r: (r["metric"], r["hostname"] or "", r["time"]))
    return rows


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        import duckdb
        import pyarrow as pa
        import pyarrow.dataset as ds
    except ImportError as e:
        print(f"missing python module: {e} (pip install duckdb pyarrow)", file=sys.stderr)
        return 3
    tiers_dir = sys.argv[1]
    out = {
        "duckdb": {t: duckdb_rows(duckdb, tiers_dir, t) for t in TIERS},
        "pyarrow": {t: pyarrow_rows(pa, ds, tiers_dir, t) for t in TIERS},
    }
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
