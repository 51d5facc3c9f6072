#!/usr/bin/env bash
# Installs every Debian/Ubuntu package ctxscope's build, tests and benchmarks need.
# Idempotent and fast when everything is present: it asks dpkg first and only runs
# apt-get for what is missing.  Run as root (or with sudo available).
#
#   packaging/install-deps.sh            # everything (runtime, analyzer, lint, viewer, benches)
#   CTXSCOPE_DEPS_MINIMAL=1 packaging/install-deps.sh   # runtime + tests only
set -euo pipefail

core=(build-essential cmake ninja-build pkg-config
      libsqlite3-dev sqlite3
      libboost-dev libboost-stacktrace-dev
      libunwind8           # CTXSCOPE_UNWINDER=libunwind (dlopen); the tests compare it with the default walker
      libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libcli11-dev
      libxml2-utils time   # analyzer tests (xmllint for JUnit) and bench (GNU time: peak RSS)
      help2man             # man pages generated from the tools' own --help
      dpkg-dev file lintian man-db)  # CPack's .debs (dpkg-shlibdeps), their lintian check, man -w
extra=(clang-14 llvm-14-dev libclang-14-dev libclang-cpp14-dev clang-tidy-14
       libclang-rt-14-dev golang-go python3)
# ctxscope-viewer (Qt 6 Widgets) and its headless tests/screenshots (offscreen, or under xvfb-run).
viewer=(qt6-base-dev qt6-svg-dev libgl-dev fonts-dejavu-core xvfb xauth
        libglib2.0-bin)  # gio: the install tests check the trace MIME type

pkgs=("${core[@]}")
[ "${CTXSCOPE_DEPS_MINIMAL:-0}" = 1 ] || pkgs+=("${extra[@]}" "${viewer[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
