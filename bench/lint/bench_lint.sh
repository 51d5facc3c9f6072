#!/usr/bin/env bash
# ctxscope-lint vs clang-tidy on the same generated project, side by side.
#
#   bench/lint/bench_lint.sh [build-dir] [translation-units]
#   bench/lint/bench_lint.sh <build-dir> project   the project's own sources (runtime/, samples/)
#
# Generates N translation units (default 100) that use the ctxscope API and
# the standard library, writes their compile_commands.json, then times, one
# after the other and each on one core:
#   ctxscope-lint -p <dir>                                       (both rules)
#   clang-tidy-14 -p <dir> -checks='-*,readability-braces-around-statements'
# Both are bound by parsing; the figure of merit is the ratio lint / tidy
# (target: at most 1.0, issue 15).  Each tool runs REPEAT times (default 3); the best
# time counts, to keep noise from other users of the machine out.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/lint}
n=${2:-100}
repeat=${REPEAT:-3}
lint=$build/analyzer/lint/ctxscope-lint
tidy=${CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy)}
compat=$root/analyzer/lint/include/ctxscope_lint/clang14_compat.h

[[ -x $lint ]] || { echo "bench_lint: $lint not built (cmake --build $build --target ctxscope-lint)" >&2; exit 2; }
[[ -x $tidy ]] || { echo "bench_lint: clang-tidy-14 not found" >&2; exit 2; }

# CPU time (user + sys of the tool and its children) is what the ratio uses:
# the machine is shared, and wall time would also measure the neighbours.
# Best of $repeat runs.
best() {
  local best_cpu="" best_wall=""
  for ((r = 0; r < repeat; ++r)); do
    local line u s w cpu
    line=$( { TIMEFORMAT='%U %S %R'; time "$@" > /dev/null 2>&1; } 2>&1 | tail -1 || true)
    read -r u s w <<< "$line"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    if [[ -z $best_cpu ]] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
      best_cpu=$cpu best_wall=$w
    fi
  done
  echo "$best_cpu $best_wall"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-bench-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ $n == project ]]; then
  # The project's own sources that use the ctxscope API (runtime/, samples/),
  # with the build's compile_commands.json.
  [[ -f $build/compile_commands.json ]] || { echo "bench_lint: no $build/compile_commands.json" >&2; exit 2; }
  mapfile -t files < <(python3 - "$build/compile_commands.json" "$root" <<'PY'
import json, sys
db, root = sys.argv[1], sys.argv[2]
seen = []
for e in json.load(open(db)):
    f = e["file"]
    if (f.startswith(root + "/runtime/") or f.startswith(root + "/samples/")) and f not in seen:
        seen.append(f)
print("\n".join(seen))
PY
)
  echo "bench_lint: the project's sources under runtime/ and samples/: ${#files[@]} translation units, best of $repeat, one process each ($(nproc) cores on the machine)"
  read -r c_lint w_lint <<< "$(best "$lint" -p "$build" "${files[@]}")"
  printf '  %-54s cpu %7.2f s   wall %7.2f s\n' "ctxscope-lint (lost-cancel, blind-wait)" "$c_lint" "$w_lint"
  read -r c_tidy w_tidy <<< "$(best "$tidy" -p "$build" --quiet -checks='-*,readability-braces-around-statements' \
    --extra-arg-before=-include"$compat" "${files[@]}")"
  printf '  %-54s cpu %7.2f s   wall %7.2f s\n' "clang-tidy-14 (readability-braces-around-statements)" "$c_tidy" "$w_tidy"
  awk -v a="$c_lint" -v b="$c_tidy" -v c="$w_lint" -v d="$w_tidy" \
    'BEGIN { printf "  ratio ctxscope-lint / clang-tidy: %.2f (cpu), %.2f (wall); target <= 1.0\n", a / b, c / d }'
  exit 0
fi

for ((i = 0; i < n; ++i)); do
  cat > "$work/tu$i.cpp" <<CPP
#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace cs = ctxscope;

namespace tu$i {
struct Request { int id; std::string body; };

int handle(const cs::Context& parent, cs::Chan<Request>& in, std::map<int, std::string>& out) {
  auto [ctx, cancel] = cs::with_timeout(parent, 50ms);
  auto guard = cs::defer(cancel);
  int served = 0;
  for (;;) {
    auto r = in.recv(ctx);
    if (r.err) break;
    if (r.value) {
      out[r.value->id] = r.value->body;
      ++served;
    }
  }
  return served;
}

void fan_out(const cs::Context& parent, std::vector<cs::Chan<int>>& chans) {
  cs::WaitGroup wg;
  for (auto& ch : chans) {
    wg.add(1);
    cs::go(parent, "worker-$i", [&] {
      auto [ctx, cancel] = cs::with_cancel(parent);
      (void)ch.send(ctx, $i);
      cancel();
      wg.done();
    });
  }
  (void)wg.wait(parent);
}

std::string describe(const cs::Context& ctx) {
  if (ctx.err()) return "done: " + ctx.err().message();
  if (auto d = ctx.deadline()) return "deadline in " + std::to_string((*d - cs::Clock::now()).count());
  return "live";
}
}  // namespace tu$i
CPP
done

{
  echo "["
  for ((i = 0; i < n; ++i)); do
    sep=","; ((i == n - 1)) && sep=""
    printf '  {"directory": "%s", "file": "%s", "command": "/usr/bin/c++ -std=c++20 -include %s -I%s -I%s -O2 -c %s"}%s\n' \
      "$work" "$work/tu$i.cpp" "$compat" "$root/runtime/include" "$root/runtime/trace_format/include" "$work/tu$i.cpp" "$sep"
  done
  echo "]"
} > "$work/compile_commands.json"

files=("$work"/tu*.cpp)

echo "bench_lint: $n translation units, best of $repeat, one process each ($(nproc) cores on the machine)"
read -r c_lint w_lint <<< "$(best "$lint" -p "$work")"
printf '  %-54s cpu %7.2f s   wall %7.2f s\n' "ctxscope-lint (lost-cancel, blind-wait)" "$c_lint" "$w_lint"
read -r c_tidy w_tidy <<< "$(best "$tidy" -p "$work" --quiet -checks='-*,readability-braces-around-statements' "${files[@]}")"
printf '  %-54s cpu %7.2f s   wall %7.2f s\n' "clang-tidy-14 (readability-braces-around-statements)" "$c_tidy" "$w_tidy"
awk -v a="$c_lint" -v b="$c_tidy" -v c="$w_lint" -v d="$w_tidy" \
  'BEGIN { printf "  ratio ctxscope-lint / clang-tidy: %.2f (cpu), %.2f (wall); target <= 1.0\n", a / b, c / d }'
