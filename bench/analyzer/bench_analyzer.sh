#!/usr/bin/env bash
# Analyzer benchmark: for synthetic traces of 1M, 3M and 10M events, times
# `ctxscope analyze` and, in the same run, the baseline
#   ctxscope-bench-model --scan FILE
# (one scan of the stored events: every block read and its events decoded, as
# the model and viewer benches do (bench_util.hpp); schema 5 scanned
# `sqlite3 FILE 'SELECT count(*), sum(dt) FROM event_log'`, schema 4 table events), alternating the two, and prints the median
# wall times and CPU (user+sys) times, their ratios, peak RSS, and the cost
# per million events (linearity).  On a shared machine the CPU ratio is the
# steadier figure; both are printed.
#
#   bench/analyzer/bench_analyzer.sh [BUILD_DIR] [REPEATS]     (default build/release, 5)
#
# Needs: the `ctxscope`, `ctxscope-gen-trace` and `ctxscope-bench-model` targets built in BUILD_DIR
# (configure with -DCTXSCOPE_BUILD_BENCH=ON), sqlite3, and GNU time (package
# `time`, installed by packaging/install-deps.sh).  Traces are generated once
# into BUILD_DIR/bench-traces (about 1 GB for the three).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build/release}"
reps="${2:-5}"
cli="$build/analyzer/ctxscope"
gen="$build/bench/analyzer/ctxscope-gen-trace"
scan="$build/bench/model/ctxscope-bench-model"
for b in "$cli" "$gen" "$scan"; do
  [ -x "$b" ] || { echo "bench_analyzer: $b not built (cmake --build $build --target ctxscope ctxscope-gen-trace ctxscope-bench-model)" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "bench_analyzer: sqlite3 not installed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_analyzer: /usr/bin/time not installed (package 'time')" >&2; exit 2; }
dir="$build/bench-traces"
mkdir -p "$dir"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "analyzer benchmark: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $reps runs each, medians"
printf '%-10s %11s %9s %7s %11s %9s %7s %12s %14s %9s\n' events "analyze(s)" "scan(s)" ratio \
  "analyze-cpu" "scan-cpu" ratio "analyze-RSS" "analyze-s/Mev" findings
for n in 1000000 3000000 10000000; do
  f="$dir/synthetic-$n.db"
  # (Re)generated when missing or written in another schema version.
  if [ ! -f "$f" ] || [ "$(sqlite3 "$f" 'PRAGMA user_version')" != "$("$gen" --schema-version)" ]; then
    "$gen" "$f" "$n" 1 >/dev/null 2>&1
  fi
  # Warm the page cache once so neither side pays the first read from disk.
  "$scan" --scan "$f" >/dev/null
  a_times=(); s_times=(); a_cpu=(); s_cpu=(); rss=0
  for ((i = 0; i < reps; i++)); do
    read -r e u sy r < <( { /usr/bin/time -f '%e %U %S %M' "$cli" analyze "$f" --format json --no-progress \
                            >"$dir/report.json"; } 2>&1 | tail -1)
    a_times+=("$e"); a_cpu+=("$(awk -v u="$u" -v s="$sy" 'BEGIN {print u + s}')"); [ "$r" -gt "$rss" ] && rss=$r
    read -r e u sy < <( { /usr/bin/time -f '%e %U %S' "$scan" --scan "$f" \
                          >/dev/null; } 2>&1 | tail -1)
    s_times+=("$e"); s_cpu+=("$(awk -v u="$u" -v s="$sy" 'BEGIN {print u + s}')")
  done
  a=$(printf '%s\n' "${a_times[@]}" | median)
  s=$(printf '%s\n' "${s_times[@]}" | median)
  ac=$(printf '%s\n' "${a_cpu[@]}" | median)
  sc=$(printf '%s\n' "${s_cpu[@]}" | median)
  findings=$(grep -m1 -o '"findings": [0-9]*' "$dir/report.json" | grep -o '[0-9]*$')
  awk -v n="$n" -v a="$a" -v s="$s" -v ac="$ac" -v sc="$sc" -v rss="$rss" -v f="$findings" 'BEGIN {
    printf "%-10d %11.2f %9.2f %6.2fx %11.2f %9.2f %6.2fx %9.0f MB %14.3f %9d\n", n, a, s, (s > 0 ? a / s : 0),
           ac, sc, (sc > 0 ? ac / sc : 0), rss / 1024, a / (n / 1e6), f }'
done
echo "targets: ratio <= 3x at 10M events, analyze RSS <= 500 MB, s/Mev roughly constant (linear)"
