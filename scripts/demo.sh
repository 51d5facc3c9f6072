#!/usr/bin/env bash
# The main job: build ctxscope, run the scenario samples traced, and analyze each
# trace (the README's first command).
#   scripts/demo.sh                      # every scenario, buggy mode
#   scripts/demo.sh propagation-tree     # one scenario
#   MODE=fixed scripts/demo.sh           # the fixed modes (expect a clean report)
# Traces are left in build/demo/<scenario>-<mode>.db for `ctxscope` subcommands.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
mode="${MODE:-buggy}"
out=build/demo
mkdir -p "$out"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(propagation-tree ci-job fanout-timeout first-response pipeline http-premature-cancel lost-cancel)
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target ctxscope $(printf 'sample-%s ' "${scenarios[@]}") >/dev/null
status=0
for s in "${scenarios[@]}"; do
  exe="build/dev/samples/sample-$s"
  [ -x "$exe" ] || { echo "demo: unknown scenario '$s' (no $exe)" >&2; exit 2; }
  echo "=== $s (--mode=$mode) ==="
  build/dev/analyzer/ctxscope run --trace "$out/$s-$mode.db" --fail-on=never -- "$exe" --mode="$mode" || status=$?
  echo
done
echo "traces: $out/*.db   (try: build/dev/analyzer/ctxscope stats $out/${scenarios[0]}-$mode.db)"
exit $status
