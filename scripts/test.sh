#!/usr/bin/env bash
# Builds everything and runs every test suite (the README's test command).
#   scripts/test.sh              # dev build (RelWithDebInfo): runtime, recorder, analyzer, lint, samples, viewer (offscreen)
#   scripts/test.sh asan|tsan    # the same suites under AddressSanitizer+UBSan / ThreadSanitizer
#                                # (lint and benches are not built under sanitizers)
# Installs missing Debian packages itself (packaging/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"
packaging/install-deps.sh
jobs="$(nproc)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"
