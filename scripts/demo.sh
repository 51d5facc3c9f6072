#!/usr/bin/env bash
# The main job: build ctxscope, run the scenario samples traced, and analyze each
# trace (the README's first command).
#   scripts/demo.sh                      # every scenario, buggy mode
#   scripts/demo.sh propagation-tree     # one scenario
#   MODE=fixed scripts/demo.sh           # the fixed modes (expect a clean report)
#   scripts/demo.sh --gui                # then open the viewer on the first trace (needs a display)
# Traces are left in build/demo/<scenario>-<mode>.db for `ctxscope` subcommands;
# when the viewer is configured (CTXSCOPE_BUILD_VIEWER), a screenshot of each
# run is written beside them: build/demo/<scenario>.png (buggy mode) or
# build/demo/<scenario>-<mode>.png (offscreen when there is no display).
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
mode="${MODE:-buggy}"
out=build/demo
mkdir -p "$out"
gui=0
scenarios=()
for a in "$@"; do
  if [ "$a" = --gui ]; then gui=1; else scenarios+=("$a"); fi
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(propagation-tree ci-job fanout-timeout first-response pipeline http-premature-cancel lost-cancel)
cmake --preset dev >/dev/null
viewer=0
grep -q '^CTXSCOPE_BUILD_VIEWER:BOOL=ON' build/dev/CMakeCache.txt && viewer=1
targets=(ctxscope $(printf 'sample-%s ' "${scenarios[@]}"))
[ $viewer = 0 ] || targets+=(ctxscope-viewer)
cmake --build --preset dev -j "$(nproc)" --target "${targets[@]}" >/dev/null
status=0
for s in "${scenarios[@]}"; do
  exe="build/dev/samples/sample-$s"
  [ -x "$exe" ] || { echo "demo: unknown scenario '$s' (no $exe)" >&2; exit 2; }
  echo "=== $s (--mode=$mode) ==="
  build/dev/analyzer/ctxscope run --trace "$out/$s-$mode.db" --fail-on=never -- "$exe" --mode="$mode" || status=$?
  echo
done
echo "traces: $out/*.db   (try: build/dev/analyzer/ctxscope stats $out/${scenarios[0]}-$mode.db)"
if [ $viewer = 1 ]; then
  shots=()
  for s in "${scenarios[@]}"; do
    png="$out/$s.png"
    [ "$mode" = buggy ] || png="$out/$s-$mode.png"
    # The viewer renders offscreen by itself when there is no display.
    if build/dev/viewer/ctxscope-viewer --screenshot "$png" "$out/$s-$mode.db" 2>"$out/$s-$mode.viewer.log"; then
      shots+=("$png")
    else
      echo "demo: no screenshot of $s: $(tail -n 1 "$out/$s-$mode.viewer.log")" >&2
    fi
  done
  [ ${#shots[@]} -eq 0 ] || echo "screenshots (ctxscope-viewer): ${shots[*]}"
  if [ $gui = 1 ]; then
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      build/dev/viewer/ctxscope-viewer "$out/${scenarios[0]}-$mode.db" &
      echo "viewer: opened $out/${scenarios[0]}-$mode.db (pid $!)"
    else
      echo "demo: --gui needs a display (DISPLAY or WAYLAND_DISPLAY); the screenshots above show the same window" >&2
    fi
  fi
elif [ $gui = 1 ]; then
  echo "demo: --gui: the viewer is not configured (CTXSCOPE_BUILD_VIEWER=OFF: install Qt 6, packaging/install-deps.sh)" >&2
fi
exit $status
