#!/bin/sh
# Runs the recorder benchmarks once and prints the table of docs/performance.md#recorder.
#   bench/recorder/run.sh BUILD_DIR     (configured with -DCTXSCOPE_BUILD_BENCH=ON)
set -eu
build=${1:?usage: bench/recorder/run.sh BUILD_DIR}
here=$(dirname "$0")
out=${TMPDIR:-/tmp}/ctxscope-bench-recorder-$$.json
cmake --build "$build" --target ctxscope_bench_recorder >/dev/null
"$build/bench/recorder/ctxscope_bench_recorder" --benchmark_format=json --benchmark_out="$out" \
  --benchmark_out_format=json >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/compare.py" "$out"
rm -f "$out"
