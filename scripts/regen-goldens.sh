#!/usr/bin/env bash
# Regenerates every analyzer golden file and shows what changed, for review:
#   tests/analysis/golden/*.findings.json, *.txt   synthetic traces (golden_test.cpp)
#   tests/analysis/golden/recorded/*.json          the seven samples, recorded (recorded_golden_test.cpp)
# and the generated rule table of docs/rules.md.
#
#   scripts/regen-goldens.sh [BUILD_DIR]     default: build/dev (the dev preset's)
#
# Builds only what the goldens need, then runs the golden tests with
# CTXSCOPE_UPDATE_GOLDEN=1 (they rewrite their files instead of comparing),
# then runs them again normally: a golden that does not reproduce on a second
# run (a non-deterministic finding) fails here rather than in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/dev}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "regen-goldens: $build is not a configured build directory (run cmake first, or pass one)" >&2
  exit 2
fi
cmake --build "$build" --target ctxscope_analysis_tests ctxscope-gen-rules-doc
"$build/analyzer/rules/ctxscope-gen-rules-doc" --update docs/rules.md
filter='Scenarios/Golden.*:Samples/RecordedGolden.*'
CTXSCOPE_UPDATE_GOLDEN=1 CTXSCOPE_TEST_TMP="$build/tests/analysis/tmp" \
  "$build/tests/analysis/ctxscope_analysis_tests" --gtest_filter="$filter" --gtest_brief=1
CTXSCOPE_TEST_TMP="$build/tests/analysis/tmp" \
  "$build/tests/analysis/ctxscope_analysis_tests" --gtest_filter="$filter:GoldenCitations.*:RulesDoc.*" --gtest_brief=1
git status --short -- tests/analysis/golden docs/rules.md
git --no-pager diff --stat -- tests/analysis/golden docs/rules.md
