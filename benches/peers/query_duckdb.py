#!/usr/bin/env python3
"""DuckDB's side of `benches/benches/query`: the same aggregations over strata's Parquet files.

usage: query_duckdb.py SPEC.json      (SPEC is written by the harness; pip install duckdb)

For each query of the spec with Parquet files (the warm or cold files of strata's manifest
that overlap its range), runs the SQL below in one in-process DuckDB connection at its default
threads (one per core), with the Parquet metadata cache on (strata keeps parsed footers too).
Partial rows of a series and bucket are merged by GROUP BY over the series key columns, as
docs/FORMATS.md says; a bucket's average is sum(sum) / sum(count). The files' resolution is
the query's step, so no re-bucketing is needed.

Timed with time.perf_counter around `execute` (DuckDB materializes the whole result there);
the conversion to Python objects by `fetchall` is timed apart and printed, not counted.
Prints `timing engine=duckdb query=Q runs=N p50_us=.. p90_us=.. min_us=..` and writes the
values to DIR/values-duckdb-Q.csv. Then its first runs: FIRST_RUNS times a fresh connection
(no metadata cache yet) runs the query once, timed alike: `first engine=duckdb query=Q ...`.
"""
import json
import math
import statistics
import sys
import time

import duckdb

FIRST_RUNS = 7
KEY = "metric, field, cluster, hostname, type, type_id, stype, stype_id, tags"


def sql_of(q):
    files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in q["files"]) + "]"
    # `time` is TIMESTAMP(MICROS, UTC) from tier schema version 3 (TIMESTAMPTZ here), NANOS
    # before it (TIMESTAMPTZ_NS): to_timestamp's TIMESTAMPTZ compares with both.
    where = (f"metric = '{q['metric']}' AND time >= to_timestamp({q['from']}) "
             f"AND time < to_timestamp({q['to']})")
    if q["host"]:
        where += f" AND hostname = '{q['host']}'"
    if q["kind"] == "scope":
        # Per series and minute its average, then the mean across the node's hwthreads.
        return (f"SELECT '' AS series, epoch_ns(time) // 1000000000 AS t, avg(v) AS v FROM ("
                f" SELECT time, sum(sum) / sum(count) AS v FROM read_parquet({files})"
                f" WHERE {where} GROUP BY {KEY}, time)"
                f" GROUP BY time ORDER BY time")
    if q["kind"] == "per_host":
        return (f"SELECT hostname AS series, epoch_ns(time) // 1000000000 AS t, sum(sum) / sum(count) AS v"
                f" FROM read_parquet({files}) WHERE {where}"
                f" GROUP BY {KEY}, time ORDER BY series, t")
    return None


def pct(xs, p):
    s = sorted(xs)
    return s[max(1, math.ceil(len(s) * p / 100)) - 1]


def main():
    spec = json.load(open(sys.argv[1]))
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"duckdb {duckdb.__version__}, {threads} threads, parquet_metadata_cache on")
    for q in spec["queries"]:
        sql = sql_of(q)
        if sql is None or not q["files"]:
            print(f"skip engine=duckdb query={q['name']}: its data is in strata's hot store, not in Parquet")
            continue
        for _ in range(3):
            con.execute(sql).fetchall()
        times, fetch = [], []
        for _ in range(q["runs"]):
            t0 = time.perf_counter()
            con.execute(sql)
            t1 = time.perf_counter()
            rows = con.fetchall()
            fetch.append(time.perf_counter() - t1)
            times.append(t1 - t0)
        us = [t * 1e6 for t in times]
        print(f"timing engine=duckdb query={q['name']} runs={len(us)} p50_us={statistics.median(us):.1f} "
              f"p90_us={pct(us, 90):.1f} min_us={min(us):.1f} fetchall_p50_us={statistics.median(fetch) * 1e6:.1f} "
              f"rows={len(rows)} files={len(q['files'])}")
        with open(f"{spec['dir']}/values-duckdb-{q['name']}.csv", "w") as out:
            for series, t, v in rows:
                if v is not None:
                    out.write(f"{series},{t},{v!r}\n")
    for q in spec["queries"]:
        sql = sql_of(q)
        if sql is None or not q["files"]:
            continue
        firsts = []
        for _ in range(FIRST_RUNS):
            fresh = duckdb.connect()
            fresh.execute("SET parquet_metadata_cache = true")
            t0 = time.perf_counter()
            fresh.execute(sql)
            firsts.append((time.perf_counter() - t0) * 1e6)
            fresh.close()
        print(f"first engine=duckdb query={q['name']} runs={len(firsts)} p50_us={statistics.median(firsts):.1f} "
              f"p90_us={pct(firsts, 90):.1f} min_us={min(firsts):.1f}")


if __name__ == "__main__":
    main()
