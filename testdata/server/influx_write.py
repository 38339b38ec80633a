"""Writes points with InfluxData's Python client (influxdb-client) to strata serve's /api/v2/write.

Usage: influx_write.py URL < points.json, where points.json is a list of
{"measurement": str, "tags": {str: str}, "value": float, "time": unix seconds}.
Exit status 3 when the module is missing (the test skips outside CI).
"""

import json
import sys

try:
    from influxdb_client import InfluxDBClient, Point, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS
except ImportError as e:
    print(f"python module influxdb-client missing ({e}); pip install influxdb-client", file=sys.stderr)
    sys.exit(3)


def main():
    url = sys.argv[1]
    points = json.load(sys.stdin)
    batch = []
    for p in points:
        point = Point(p["measurement"]).field("value", float(p["value"])).time(p["time"], WritePrecision.S)
        for key, value in p["tags"].items():
            point = point.tag(key, value)
        batch.append(point)
    # Two requests, the first plain, the second gzip-compressed by the client.
    half = len(batch) // 2
    for part, gzip in ((batch[:half], False), (batch[half:], True)):
        with InfluxDBClient(url=url, token="unused", org="hpc", enable_gzip=gzip) as client:
            write = client.write_api(write_options=SYNCHRONOUS)
            write.write(bucket="fritz", org="hpc", record=part, write_precision=WritePrecision.S)
    print(len(points))


main()
