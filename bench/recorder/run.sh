#!/bin/sh
# Runs the recorder benchmarks once and prints the table of docs/performance.md#recorder.
#   bench/recorder/run.sh BUILD_DIR            (configured with -DCTXSCOPE_BUILD_BENCH=ON)
#   bench/recorder/run.sh BUILD_DIR fanout [N]
#       the fan-out request traced (stacks on, the default), traced without stacks
#       and untraced, N rounds (default 5) interleaved, each its own process; prints
#       every round and the medians (issue 16: stacks on <= +5%, stacks off <= +3%,
#       medians of 5)
set -eu
build=${1:?usage: bench/recorder/run.sh BUILD_DIR [fanout [N]]}
here=$(dirname "$0")
bin="$build/bench/recorder/ctxscope_bench_recorder"
cmake --build "$build" --target ctxscope_bench_recorder >/dev/null
if [ "${2:-}" = fanout ]; then
  rounds=${3:-5}
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-bench-fanout-XXXXXX")
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  i=1
  while [ "$i" -le "$rounds" ]; do
    for v in untraced traced traced_nostacks; do
      "$bin" --benchmark_filter="^FanOut_$v/" --benchmark_min_time=2 --benchmark_format=json \
        --benchmark_out="$dir/$v-$i.json" --benchmark_out_format=json >/dev/null
    done
    i=$((i + 1))
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$dir" "$rounds" <<'EOF'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
def us(v, i):
    with open(f"{d}/{v}-{i}.json") as f:
        r = [b for b in json.load(f)["benchmarks"] if b.get("run_type") != "aggregate"][0]
    return r["real_time"] * {"ns": 1e-3, "us": 1.0, "ms": 1e3}[r.get("time_unit", "ns")]
u = [us("untraced", i) for i in range(1, n + 1)]
t = [us("traced", i) for i in range(1, n + 1)]
s = [us("traced_nostacks", i) for i in range(1, n + 1)]
print("| round | untraced us/request | traced, stacks on (default) | traced, stacks off |\n|---|---|---|---|")
for i in range(n):
    print(f"| {i + 1} | {u[i]:.0f} | {t[i]:.0f} ({100 * (t[i] / u[i] - 1):+.1f}%) | {s[i]:.0f} ({100 * (s[i] / u[i] - 1):+.1f}%) |")
mu, mt, ms = statistics.median(u), statistics.median(t), statistics.median(s)
rt, rs = 100 * (mt / mu - 1), 100 * (ms / mu - 1)
print(f"| median | {mu:.0f} | {mt:.0f} ({rt:+.1f}%; target <= +5%: {'PASS' if rt <= 5 else 'MISS'}) "
      f"| {ms:.0f} ({rs:+.1f}%; target <= +3%: {'PASS' if rs <= 3 else 'MISS'}) |")
EOF
  rm -rf "$dir"
  exit 0
fi
out=${TMPDIR:-/tmp}/ctxscope-bench-recorder-$$.json
"$bin" --benchmark_format=json --benchmark_out="$out" --benchmark_out_format=json >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/compare.py" "$out"
rm -f "$out"
