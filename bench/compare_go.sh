#!/usr/bin/env bash
# compare_go.sh [build-dir] — runtime benchmarks side by side with Go.
#
# Builds ctxscope_bench_runtime in <build-dir> (default build/bench; configured
# Release if it has no cache yet), runs it and the Go peers in bench/go/ in one
# go, and prints operation, C++ ns/op, peer ns/op, ratio, target, PASS/MISS.
# Raw results and a Markdown copy of the table land in <build-dir>/bench-results/.
#
# Go runs offline (GOPROXY=off, no dependencies) with its caches inside the
# build dir, so it works as root with a fresh HOME.  GOMAXPROCS=2 matches the
# two threads the C++ WithTimeout benchmark uses.
# Each side runs CTXSCOPE_BENCH_REPS interleaved rounds (default 3); the table
# keeps each benchmark's best round (CTXSCOPE_BENCH_STAT=median for medians).
# Environment: CTXSCOPE_BENCH_STRICT=1 makes any MISS exit with status 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build/bench}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
out="$build/bench-results"
mkdir -p "$out"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCTXSCOPE_BUILD_ANALYZER=OFF -DCTXSCOPE_BUILD_LINT=OFF \
    -DCTXSCOPE_BUILD_SAMPLES=OFF -DCTXSCOPE_BUILD_TESTS=OFF >/dev/null
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
if [[ "$build_type" != "Release" ]]; then
  echo "compare_go.sh: note: $build is a '$build_type' build; figures are meant for Release" >&2
fi
cmake --build "$build" --target ctxscope_bench_runtime

bin="$(find "$build" -name ctxscope_bench_runtime -type f -perm -u+x | head -n 1)"
if [[ -z "$bin" ]]; then
  echo "compare_go.sh: ctxscope_bench_runtime not found under $build" >&2
  exit 1
fi
if ! command -v go >/dev/null; then
  echo "compare_go.sh: 'go' not found (Debian: apt-get install golang-go)" >&2
  exit 1
fi

# The machine is shared: the load average around the run says how far to trust it.
cut -d' ' -f1-3 /proc/loadavg >"$out/loadavg_start"
# Interleaved rounds (C++, Go, C++, Go, ...) so both sides see the same machine
# conditions; compare.py keeps each benchmark's fastest round, since load from
# other processes on a shared machine only ever adds time.
reps="${CTXSCOPE_BENCH_REPS:-3}"
rm -f "$out"/runtime_cpp.*.json "$out"/runtime_go.*.txt
for ((r = 1; r <= reps; r++)); do
  echo "== round $r/$reps: C++ ($bin)" >&2
  "$bin" --benchmark_format=json >"$out/runtime_cpp.$r.json"
  echo "== round $r/$reps: Go ($(go version | cut -d' ' -f3))" >&2
  (
    cd "$here/go"
    export GOCACHE="$build/go/cache" GOPATH="$build/go/path" GOPROXY=off GOFLAGS=-mod=mod \
      GO111MODULE=on GOTOOLCHAIN=local GOMAXPROCS=2
    go test -run '^$' -bench . -benchmem -count 1
  ) >"$out/runtime_go.$r.txt"
done

python3 "$here/runtime/compare.py" --out "$out/runtime_compare.md" \
  --cpp "$out"/runtime_cpp.*.json --go "$out"/runtime_go.*.txt
