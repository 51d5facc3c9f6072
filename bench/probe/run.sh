#!/usr/bin/env bash
# The probe's overhead, side by side in one run: a suite of N small tests
# (each derives and cancels contexts and starts and joins a go() thread) with
# GoogleTest's main and with the probe's listener, alternating, R rounds.
#   bench/probe/run.sh [BUILD_DIR] [ROUNDS] [TESTS]     (default build/release 7 1000)
set -euo pipefail
build="${1:-build/release}"; rounds="${2:-7}"; tests="${3:-1000}"
plain="$build/bench/probe/ctxscope-bench-probe-plain"; probe="$build/bench/probe/ctxscope-bench-probe"
[ -x "$plain" ] && [ -x "$probe" ] || { echo "run.sh: build the targets ctxscope-bench-probe-plain and ctxscope-bench-probe in $build first" >&2; exit 2; }
export CTXSCOPE_BENCH_TESTS="$tests"
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>>"$tmp"; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
p=(); q=()
for ((i = 0; i < rounds; i++)); do
  p+=("$(ms "$plain")"); q+=("$(ms "$probe")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${p[@]}"); mq=$(median "${q[@]}")
echo "tests: $tests, rounds: $rounds"
echo "without the probe: median ${mp} ms   (${p[*]})"
echo "with the probe:    median ${mq} ms   (${q[*]})"
awk -v a="$mp" -v b="$mq" -v n="$tests" 'BEGIN { printf "ratio: %.3fx   overhead per test: %.1f us\n", b / a, (b - a) * 1000 / n }'
grep '^probe:' "$tmp" | tail -1
