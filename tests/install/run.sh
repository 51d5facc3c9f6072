#!/usr/bin/env bash
# Installs a build into a temporary prefix and uses it from outside the tree
# as a user would: find_package, pkg-config only, the installed CLI, the
# installed gtest_main; then embeds the source tree with add_subdirectory.
#   tests/install/run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"; src="$(cd "$2" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step() { echo "== $*"; }
fail() { echo "install test: $*" >&2; exit 1; }

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/ctxscope/context.hpp include/ctxscope/version.hpp include/ctxscope/probe.hpp \
         lib/cmake/ctxscope/ctxscopeConfig.cmake lib/pkgconfig/ctxscope.pc bin/ctxscope; do
  [ -e "$prefix/$f" ] || [ -e "$prefix/${f/lib\//lib/x86_64-linux-gnu/}" ] || fail "missing $f"
done
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1); libdir="${libdir%/pkgconfig}"

step "find_package(ctxscope 0.2 CONFIG) from an outside project"
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
CTXSCOPE_TRACE="$work/run.db" "$work/consumer/consumer" | grep -q "consumer 0.2" || fail "consumer did not run"
rc=0; "$prefix/bin/ctxscope" check "$work/run.db" > "$work/check.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$work/check.txt"; fail "installed ctxscope check: exit $rc, expected 1 (one lost cancel)"; }
grep -q "ctxscope-lost-cancel" "$work/check.txt" || fail "the lost cancel is not reported"
"$work/consumer/consumer_reader" "$work/run.db" | grep -q "findings 1" || fail "installed analysis library"
rc=0; "$work/consumer/consumer_tests" > "$work/tests.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the leaky test passed under the installed gtest_main"
grep -q "Leaky.Test leaked" "$work/tests.txt" || { cat "$work/tests.txt"; fail "no leak report"; }
grep -q "\[       OK \] Clean.Test" "$work/tests.txt" || fail "the clean test failed"

step "pkg-config flags only (a static link by hand; tracing must still start)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
g++ -std=c++20 -o "$work/byhand" "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs ctxscope)
CTXSCOPE_TRACE="$work/byhand.db" "$work/byhand" >/dev/null
rc=0; "$prefix/bin/ctxscope" check "$work/byhand.db" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "hand-linked program: ctxscope check exit $rc, expected 1 (was tracing started?)"

step "add_subdirectory of the source tree with -Wshadow -Wconversion -Werror"
cmake -S "$src/tests/install/embed" -B "$work/embed" -G Ninja -DCTXSCOPE_SOURCE="$src" > "$work/embed.txt" 2>&1 ||
  { cat "$work/embed.txt"; fail "embedding configure"; }
cmake --build "$work/embed" > "$work/embed-build.txt" 2>&1 || { tail -30 "$work/embed-build.txt"; fail "embedded build"; }
n=$(ctest --test-dir "$work/embed" -N | sed -n 's/^Total Tests: //p')
[ "$n" = 1 ] || fail "the embedding project's CTest has $n tests (ctxscope's must not join it)"
echo "install test: ok"
