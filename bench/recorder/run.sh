#!/bin/sh
# Runs the recorder benchmarks once and prints the table of docs/performance.md#recorder.
#   bench/recorder/run.sh BUILD_DIR            (configured with -DCTXSCOPE_BUILD_BENCH=ON)
#   bench/recorder/run.sh BUILD_DIR fanout [N [unwinders]]
#       the fan-out request traced (stacks on, the default), traced without stacks
#       and untraced, N rounds (default 5) interleaved, each its own process; prints
#       every round and the medians (issue 16: stacks on <= +5%, stacks off <= +3%,
#       medians of 5).  `unwinders` adds the request traced with stacks under
#       CTXSCOPE_UNWINDER=libunwind (the default before the runtime's own walker).
set -eu
build=${1:?usage: bench/recorder/run.sh BUILD_DIR [fanout [N [unwinders]]]}
here=$(dirname "$0")
bin="$build/bench/recorder/ctxscope_bench_recorder"
cmake --build "$build" --target ctxscope_bench_recorder >/dev/null
if [ "${2:-}" = fanout ]; then
  rounds=${3:-5}
  # unwinders: also the request traced with stacks under CTXSCOPE_UNWINDER=libunwind
  variants="untraced traced traced_nostacks"
  [ "${4:-}" = unwinders ] && variants="untraced traced traced_libunwind traced_nostacks"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-bench-fanout-XXXXXX")
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  i=1
  while [ "$i" -le "$rounds" ]; do
    for v in $variants; do
      bench=$v unwinder=
      [ "$v" = traced_libunwind ] && bench=traced unwinder=libunwind
      env ${unwinder:+CTXSCOPE_UNWINDER=$unwinder} "$bin" --benchmark_filter="^FanOut_$bench/" --benchmark_min_time=2 \
        --benchmark_format=json --benchmark_out="$dir/$v-$i.json" --benchmark_out_format=json >/dev/null
    done
    i=$((i + 1))
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  # shellcheck disable=SC2086
  python3 - "$dir" "$rounds" $variants <<'EOF'
import json, statistics, sys
d, n, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def us(v, i):
    with open(f"{d}/{v}-{i}.json") as f:
        r = [b for b in json.load(f)["benchmarks"] if b.get("run_type") != "aggregate"][0]
    return r["real_time"] * {"ns": 1e-3, "us": 1.0, "ms": 1e3}[r.get("time_unit", "ns")]
title = {"traced": "traced, stacks on (default)", "traced_libunwind": "traced, stacks on, CTXSCOPE_UNWINDER=libunwind",
         "traced_nostacks": "traced, stacks off"}
target = {"traced": 5, "traced_nostacks": 3}
cols = {v: [us(v, i) for i in range(1, n + 1)] for v in variants}
traced = variants[1:]
print("| round | untraced us/request | " + " | ".join(title[v] for v in traced) + " |\n|---|---|" + "---|" * len(traced))
for i in range(n):
    u = cols["untraced"][i]
    print(f"| {i + 1} | {u:.0f} | " + " | ".join(f"{cols[v][i]:.0f} ({100 * (cols[v][i] / u - 1):+.1f}%)" for v in traced) + " |")
mu = statistics.median(cols["untraced"])
def median_cell(v):
    m = statistics.median(cols[v])
    r = 100 * (m / mu - 1)
    verdict = f"; target <= +{target[v]}%: {'PASS' if r <= target[v] else 'MISS'}" if v in target else ""
    return f"{m:.0f} ({r:+.1f}%{verdict})"
print(f"| median | {mu:.0f} | " + " | ".join(median_cell(v) for v in traced) + " |")
EOF
  rm -rf "$dir"
  exit 0
fi
out=${TMPDIR:-/tmp}/ctxscope-bench-recorder-$$.json
"$bin" --benchmark_format=json --benchmark_out="$out" --benchmark_out_format=json >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/compare.py" "$out"
rm -f "$out"
