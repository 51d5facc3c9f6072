#!/bin/sh
# The fan-out request with each stack unwinder, side by side in one script:
# N rounds (default 5) of untraced, traced with stacks (cfi, the default),
# traced with stacks under CTXSCOPE_UNWINDER=libunwind, traced without stacks,
# each its own process, interleaved; prints every round and the medians.
#   bench/recorder/fanout_unwinders.sh BUILD_DIR [N]
set -eu
build=${1:?usage: bench/recorder/fanout_unwinders.sh BUILD_DIR [N]}
rounds=${2:-5}
bin="$build/bench/recorder/ctxscope_bench_recorder"
cmake --build "$build" --target ctxscope_bench_recorder >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-bench-unwinders-XXXXXX")
run() {  # NAME FILTER [ENV...]
  name=$1 filter=$2
  shift 2
  env "$@" "$bin" --benchmark_filter="$filter" --benchmark_min_time=2 --benchmark_format=json >"$dir/$name-$i.json"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$rounds" ]; do
  run untraced '^FanOut_untraced/'
  run cfi '^FanOut_traced/' CTXSCOPE_UNWINDER=cfi
  run libunwind '^FanOut_traced/' CTXSCOPE_UNWINDER=libunwind
  run nostacks '^FanOut_traced_nostacks/'
  i=$((i + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$dir" "$rounds" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
def us(v, i):
    with open(f"{d}/{v}-{i}.json") as f:
        r = [b for b in json.load(f)["benchmarks"] if b.get("run_type") != "aggregate"][0]
    return r["real_time"] * {"ns": 1e-3, "us": 1.0, "ms": 1e3}[r.get("time_unit", "ns")]
names = ("untraced", "cfi", "libunwind", "nostacks")
cols = {k: [us(k, i) for i in range(1, n + 1)] for k in names}
print("| round | untraced us/request | stacks on, cfi (default) | stacks on, libunwind | stacks off |\n|---|---|---|---|---|")
def cell(v, u):
    return f"{v:.0f} ({100 * (v / u - 1):+.1f}%)"
for i in range(n):
    u = cols["untraced"][i]
    print(f"| {i + 1} | {u:.0f} | " + " | ".join(cell(cols[k][i], u) for k in names[1:]) + " |")
m = {k: statistics.median(v) for k, v in cols.items()}
print(f"| median | {m['untraced']:.0f} | " + " | ".join(cell(m[k], m["untraced"]) for k in names[1:]) + " |")
PY
rm -rf "$dir"
