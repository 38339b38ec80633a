#!/usr/bin/env python3
"""VictoriaMetrics' side of `benches/benches/query`: the same points, the same questions.

usage: query_vm.py SPEC.json      (SPEC is written by the harness; apt-get install victoria-metrics)

Starts `victoria-metrics` on loopback (port $VM_PORT, 18428 by default) with a temporary
storage dir next to the spec, posts the harness's chunk files (the same line protocol strata
took, about 4 MiB each) to /write?precision=s from 4 clients, waits until every point is
searchable, forces a merge and waits for it, then times each query over one kept-alive HTTP
connection (request sent to body read, time.perf_counter; JSON decoding not counted) with
nocache=1, so the rollup result cache does not answer repeats. Then its first runs: FIRST_RUNS
times per query, VictoriaMetrics is restarted on the same storage and the query runs once
(`first engine=vm query=Q ...`). Stops VictoriaMetrics at the end.

Influx lines `cpu_user,... value=47.3` become the series `cpu_user_value{...}` (measurement
_field); the tag `type-id` keeps its name and is written `type\\-id` in MetricsQL.

VictoriaMetrics evaluates `f_over_time(m[w])` at t over (t - w, t]; strata's bucket starting at
b holds [b, b + step). So a query over [from, to) at step s runs from `from + s - 1` to `to - 1`,
and each result time t maps back to the bucket t - s + 1: the same points in every bucket.
"""
import concurrent.futures
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

PORT = int(os.environ.get("VM_PORT", "18428"))
FIRST_RUNS = 5


def get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status}: {body[:300]!r}")
    return body


def promql(q):
    """The query's path and how its result times map back to bucket starts."""
    if q["kind"] == "raw":
        sel = f'cpu_user_value{{hostname="{q["host"]}",type\\-id="{q["type_id"]}"}}'
        # Every raw point in (to - 1 - span, to - 1] = [from, to) for whole-second points.
        args = {"query": f"{sel}[{q['to'] - q['from']}s]", "time": q["to"] - 1, "nocache": 1}
        return "/api/v1/query?" + urllib.parse.urlencode(args), 0
    step = q["step"]
    metric = f"{q['metric']}_value"
    if q["kind"] == "scope":
        expr = f'avg(avg_over_time({metric}{{hostname="{q["host"]}"}}[{step}s]))'
    else:
        expr = f"avg_over_time({metric}[{step}s])"
    args = {"query": expr, "start": q["from"] + step - 1, "end": q["to"] - 1, "step": f"{step}s", "nocache": 1}
    return "/api/v1/query_range?" + urllib.parse.urlencode(args), step - 1


def pct(xs, p):
    s = sorted(xs)
    return s[max(1, math.ceil(len(s) * p / 100)) - 1]


def wait_searchable(conn, spec):
    """Polls a count of every point until it is the number the harness wrote."""
    days = (spec["end"] - spec["start"]) // 86400 + 1
    expr = 'sum(count_over_time({__name__=~"cpu_user_value|cpu_load_value"}[%dd]))' % days
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": spec["end"], "nocache": 1})
    seen = None
    for _ in range(240):
        get(conn, "/internal/force_flush")
        result = json.loads(get(conn, path))["data"]["result"]
        seen = int(float(result[0]["value"][1])) if result else 0
        if seen == spec["points"]:
            return
        time.sleep(0.5)
    raise RuntimeError(f"VictoriaMetrics shows {seen} points, {spec['points']} were posted")


def wait_merged(conn):
    get(conn, "/internal/force_merge")
    for _ in range(600):
        time.sleep(0.5)
        metrics = get(conn, "/metrics").decode()
        active = [l for l in metrics.splitlines() if l.startswith("vm_active_force_merges")]
        if active and active[0].split()[-1] == "0":
            return
    raise RuntimeError("the forced merge did not finish in 5 minutes")


def post(path):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
    with open(path, "rb") as f:
        conn.request("POST", "/write?precision=s", body=f.read())
    resp = conn.getresponse()
    resp.read()
    if resp.status not in (200, 204):
        raise RuntimeError(f"/write {path}: HTTP {resp.status}")
    conn.close()


def start(data, log):
    return subprocess.Popen(["victoria-metrics", "-storageDataPath", data, "-httpListenAddr",
                             f"127.0.0.1:{PORT}", "-retentionPeriod", "100y", "-loggerLevel", "ERROR"],
                            stdout=log, stderr=log)


def connect():
    """A connection to a started VictoriaMetrics, once it answers /health."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
    for _ in range(300):
        try:
            get(conn, "/health")
            return conn
        except (OSError, http.client.HTTPException, RuntimeError):
            conn.close()
            time.sleep(0.1)
    raise RuntimeError("victoria-metrics did not answer /health within 30 s")


def main():
    spec = json.load(open(sys.argv[1]))
    data = tempfile.mkdtemp(prefix="vm-", dir=spec["dir"])
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                             capture_output=True, text=True).stdout or "?"
    log = open(f"{data}.log", "w")
    vm = start(data, log)
    try:
        conn = connect()
        print(f"victoria-metrics {version} (Debian package) on 127.0.0.1:{PORT}, pid {vm.pid}")
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(post, spec["chunks"]))
        secs = time.perf_counter() - t0
        print(f"ingest engine=vm points={spec['points']} secs={secs:.2f} points_per_s={spec['points'] / secs:.0f} (4 clients)")
        t0 = time.perf_counter()
        wait_searchable(conn, spec)
        wait_merged(conn)
        print(f"searchable and merged after {time.perf_counter() - t0:.1f} s more")
        floor = []
        for _ in range(2000):
            t0 = time.perf_counter()
            get(conn, "/health")
            floor.append((time.perf_counter() - t0) * 1e6)
        print(f"http floor: GET /health over the same connection p50_us={statistics.median(floor):.1f} "
              f"p90_us={pct(floor, 90):.1f}")
        for q in spec["queries"]:
            path, shift = promql(q)
            print(f"query {q['name']}: {urllib.parse.unquote_plus(path)}")
            for _ in range(3):
                get(conn, path)
            times = []
            for _ in range(q["runs"]):
                t0 = time.perf_counter()
                body = get(conn, path)
                times.append(time.perf_counter() - t0)
            result = json.loads(body)["data"]["result"]
            us = [t * 1e6 for t in times]
            n = 0
            with open(f"{spec['dir']}/values-vm-{q['name']}.csv", "w") as out:
                for s in result:
                    series = s["metric"].get("hostname", "") if q["kind"] == "per_host" else ""
                    for t, v in s.get("values") or [s["value"]]:
                        out.write(f"{series},{round(float(t)) - shift},{v}\n")
                        n += 1
            print(f"timing engine=vm query={q['name']} runs={len(us)} p50_us={statistics.median(us):.1f} "
                  f"p90_us={pct(us, 90):.1f} min_us={min(us):.1f} series={len(result)} values={n} "
                  f"response_bytes={len(body)}")
        for q in spec["queries"]:
            path, _ = promql(q)
            firsts = []
            for _ in range(FIRST_RUNS):
                conn.close()
                vm.terminate()
                vm.wait()
                vm = start(data, log)
                conn = connect()
                t0 = time.perf_counter()
                get(conn, path)
                firsts.append((time.perf_counter() - t0) * 1e6)
            print(f"first engine=vm query={q['name']} runs={len(firsts)} p50_us={statistics.median(firsts):.1f} "
                  f"p90_us={pct(firsts, 90):.1f} min_us={min(firsts):.1f}")
    finally:
        vm.terminate()
        vm.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)
        os.remove(f"{data}.log")


if __name__ == "__main__":
    main()
