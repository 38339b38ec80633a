#!/usr/bin/env bash
# The peers of `benches/benches/ingest.rs`, measured in the same session: VictoriaMetrics and
# InfluxDB 1.x ingesting the anchors' workload over HTTP from 20,000-line files, and strata's CLI
# writing the same workload. Writes `key=value` figures to OUT for the harness
# (`STRATA_BENCH_PEERS=OUT cargo bench -p strata-benches --bench ingest`).
#
#   apt-get update && apt-get install -y victoria-metrics influxdb curl
#   benches/peers/ingest_peers.sh [OUT]        # OUT defaults to target/bench-ingest/peers.txt
#
# The per-peer scripts are the anchors' own (shared/peers/ingest_vm.sh and ingest_influx1.sh,
# written for shared/reference/anchors.md) and are run unchanged; PEERS_DIR says where they are.
# STRATA_BENCH_HOSTS (64) scales the workload, PEERS_PARALLEL (4) is the number of curl clients.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
peers_dir=${PEERS_DIR:-$root/../shared/peers}
hosts=${STRATA_BENCH_HOSTS:-64}
par=${PEERS_PARALLEL:-4}
start=1763769600 # START_SECS of the harness: 2025-11-22T00:00:00Z
work=$root/target/bench-ingest
out=${1:-$work/peers.txt}
mkdir -p "$work" "$(dirname "$out")"
for tool in victoria-metrics influxd curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y victoria-metrics influxdb curl" >&2; exit 1; }
done

cargo build --release -q -p strata-cli --manifest-path "$root/Cargo.toml"
strata=$root/target/release/strata

lp=$work/fritz-${hosts}h.lp
chunks=$work/chunks-${hosts}h
# 1.2 GB for 64 hosts; made again in seconds.
trap 'rm -rf "$lp" "$chunks"' EXIT
"$strata" gen --hosts "$hosts" --duration 1h --interval 10s --start "$start" -o "$lp"
rm -rf "$chunks" && mkdir -p "$chunks"
(cd "$chunks" && split -l 20000 -a 4 "$lp" chunk-)
points=$(wc -l <"$lp")
echo "workload: $hosts hosts, $points lines, $(stat -c %s "$lp") bytes, $(ls "$chunks" | wc -l) files; $par curl clients"

# field NAME LINE: the value of NAME=... in LINE, without thousands separators.
field() { sed -E "s/.*$1=([0-9.,]+).*/\1/" <<<"$2" | tr -d ,; }

vm_line=$(bash "$peers_dir/ingest_vm.sh" "$chunks" "$points" "$par" | tee /dev/stderr | grep '^vm ')
influx_line=$(bash "$peers_dir/ingest_influx1.sh" "$chunks" "$points" "$par" | tee /dev/stderr | grep '^influxdb1 ')

# strata's CLI over the whole file: one writer, blocks of 4 MiB, default config (sync), close
# included (it writes the final checkpoint).
data=$(mktemp -d "$work/strata-cli.XXXX")
t0=$(date +%s.%N)
"$strata" write --data-dir "$data" --precision s --cluster fritz --now $((start + 3660)) "$lp"
t1=$(date +%s.%N)
cli_bytes=$(du -sb "$data" | cut -f1)
rm -rf "$data"
cli_line=$(python3 - "$t0" "$t1" "$points" "$cli_bytes" <<'PY'
import sys; t0,t1,n,b=map(float,sys.argv[1:]); print(f"strata-cli ingest_s={t1-t0:.2f} points_per_s={n/(t1-t0):.0f} data_bytes={b:.0f} bytes_per_point={b/n:.3f}")
PY
)
echo "$cli_line"

# Debian's builds print no version of their own; the package's, without its Debian suffix.
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed -E 's/[+~-].*//'; }
vm_version=$(version victoria-metrics)
influx_version=$(version influxdb)
cat >"$out" <<OUT
hosts=$hosts
points=$points
parallel=$par
vm_version=${vm_version:-?}
vm_points_per_s=$(field points_per_s "$vm_line")
vm_bytes_per_point=$(field bytes_per_point "$vm_line")
influx_version=${influx_version:-?}
influx_points_per_s=$(field points_per_s "$influx_line")
influx_bytes_per_point=$(field bytes_per_point "$influx_line")
strata_cli_points_per_s=$(field points_per_s "$cli_line")
strata_cli_bytes_per_point=$(field bytes_per_point "$cli_line")
OUT
echo "peer figures in $out:"
cat "$out"
