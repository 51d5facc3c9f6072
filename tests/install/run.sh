#!/usr/bin/env bash
# Installs a build into a temporary prefix and uses it from outside the tree
# as a user would: find_package (static and shared runtime; g++ and clang++ 14),
# pkg-config only, the installed CLI, the installed gtest_main; checks the
# shared runtime's SONAME and exported symbols, the man pages, the completion
# and the desktop files; then embeds the source tree with add_subdirectory.
#   tests/install/run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"; src="$(cd "$2" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step() { echo "== $*"; }
fail() { echo "install test: $*" >&2; exit 1; }
# grep that reads all its input (grep -q may exit first: SIGPIPE for the writer, a failure under pipefail).
has() { grep "$@" > /dev/null; }

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/ctxscope/context.hpp include/ctxscope/version.hpp include/ctxscope/probe.hpp \
         lib/cmake/ctxscope/ctxscopeConfig.cmake lib/pkgconfig/ctxscope.pc bin/ctxscope; do
  [ -e "$prefix/$f" ] || [ -e "$prefix/${f/lib\//lib/x86_64-linux-gnu/}" ] || fail "missing $f"
done
libdir=$(dirname "$(find "$prefix" -name ctxscope.pc | head -1)"); libdir="${libdir%/pkgconfig}"
for f in share/man/man1/ctxscope.1.gz share/man/man1/ctxscope-lint.1.gz share/man/man1/ctxscope-viewer.1.gz \
         share/bash-completion/completions/ctxscope share/applications/ctxscope-viewer.desktop \
         share/icons/hicolor/scalable/apps/ctxscope-viewer.svg share/mime/packages/ctxscope-trace.xml; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
MANPATH="$prefix/share/man" man -w ctxscope | has "^$prefix/share/man/man1/ctxscope.1.gz$" || fail "man -w ctxscope"
# The man pages are the tools' own help: every ctxscope subcommand is in its page.
zcat "$prefix/share/man/man1/ctxscope.1.gz" | has "analyze" || fail "the ctxscope man page lacks its subcommands"
for tool in ctxscope ctxscope-lint ctxscope-viewer; do
  [ -x "$prefix/bin/$tool" ] || continue
  "$prefix/bin/$tool" --version | has "^$tool $(sed -n 's/^project(ctxscope VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ||
    fail "$tool --version does not print the project version"
done

step "libctxscope.so.0: SONAME, version, exported symbols"
[ "$(readlink "$libdir/libctxscope.so")" = libctxscope.so.0 ] || fail "libctxscope.so -> $(readlink "$libdir/libctxscope.so")"
[ "$(readlink "$libdir/libctxscope.so.0")" = libctxscope.so.0.2.0 ] || fail "libctxscope.so.0 -> $(readlink "$libdir/libctxscope.so.0")"
objdump -p "$libdir/libctxscope.so.0" | has "SONAME *libctxscope.so.0$" || fail "no SONAME libctxscope.so.0"
# Only the ctxscope namespace is exported (libctxscope.map): no SQLite, Boost or std:: instantiations.
nm -D --defined-only "$libdir/libctxscope.so.0" | awk '{print $3}' | sed 's/@.*//' | grep -v '^CTXSCOPE_0$' | c++filt > "$work/exports.txt"
grep -q "^ctxscope::with_cancel" "$work/exports.txt" || fail "libctxscope.so.0 does not export ctxscope::with_cancel"
grep -q "^ctxscope::trace::schema::" "$work/exports.txt" || fail "libctxscope.so.0 does not carry the trace format"
if grep -v -E "^((typeinfo|typeinfo name|vtable|VTT|guard variable|TLS init function|TLS wrapper function) for |(non-)?virtual thunk to )?ctxscope::" \
     "$work/exports.txt" > "$work/foreign.txt"; then
  head -20 "$work/foreign.txt"; fail "libctxscope.so.0 exports symbols outside the ctxscope namespace"
fi

step "find_package(ctxscope 0.2 CONFIG) from an outside project"
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
CTXSCOPE_TRACE="$work/run.db" "$work/consumer/consumer" | has "consumer 0.2" || fail "consumer did not run"
rc=0; "$prefix/bin/ctxscope" check "$work/run.db" > "$work/check.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$work/check.txt"; fail "installed ctxscope check: exit $rc, expected 1 (one lost cancel)"; }
grep -q "ctxscope-lost-cancel" "$work/check.txt" || fail "the lost cancel is not reported"
"$work/consumer/consumer_reader" "$work/run.db" | has "findings 1" || fail "installed analysis library"
CTXSCOPE_TRACE="$work/shared.db" "$work/consumer/consumer_shared" | has "consumer 0.2" || fail "consumer_shared did not run"
ldd "$work/consumer/consumer_shared" | has "libctxscope.so.0 => $libdir/libctxscope.so.0" ||
  fail "consumer_shared does not load the installed libctxscope.so.0"
rc=0; "$prefix/bin/ctxscope" check "$work/shared.db" > "$work/check.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "ctxscope-lost-cancel" "$work/check.txt" ||
  { cat "$work/check.txt"; fail "shared runtime: ctxscope check exit $rc, expected 1 (did tracing autostart?)"; }
rc=0; "$work/consumer/consumer_tests" > "$work/tests.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the leaky test passed under the installed gtest_main"
grep -q "Leaky.Test leaked" "$work/tests.txt" || { cat "$work/tests.txt"; fail "no leak report"; }
grep -q "\[       OK \] Clean.Test" "$work/tests.txt" || fail "the clean test failed"

if command -v gio >/dev/null && command -v update-mime-database >/dev/null && command -v sqlite3 >/dev/null; then
  step "the installed MIME type tells a trace from another SQLite file (gio, a private MIME database)"
  mkdir -p "$work/xdg/mime/packages"
  cp "$prefix/share/mime/packages/ctxscope-trace.xml" "$work/xdg/mime/packages/"
  update-mime-database "$work/xdg/mime" 2>/dev/null
  sqlite3 "$work/other.db" "CREATE TABLE t(x)"
  type_of() { XDG_DATA_HOME="$work/xdg" gio info -a standard::content-type "$1" | sed -n 's/.*standard::content-type: //p'; }
  [ "$(type_of "$work/run.db")" = application/x-ctxscope-trace ] || fail "a trace is $(type_of "$work/run.db")"
  [ "$(type_of "$work/other.db")" = application/vnd.sqlite3 ] || fail "another SQLite file is $(type_of "$work/other.db")"
fi

step "pkg-config flags only (a static link by hand; tracing must still start)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
g++ -std=c++20 -o "$work/byhand" "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs ctxscope)
CTXSCOPE_TRACE="$work/byhand.db" "$work/byhand" >/dev/null
rc=0; "$prefix/bin/ctxscope" check "$work/byhand.db" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "hand-linked program: ctxscope check exit $rc, expected 1 (was tracing started?)"

# shellcheck disable=SC2046
g++ -std=c++20 -o "$work/byhand_shared" "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs ctxscope-shared) \
    -Wl,-rpath,"$libdir"
CTXSCOPE_TRACE="$work/byhand_shared.db" "$work/byhand_shared" >/dev/null
rc=0; "$prefix/bin/ctxscope" check "$work/byhand_shared.db" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "hand-linked shared program: ctxscope check exit $rc, expected 1 (was tracing started?)"

if cxx=$(command -v clang++-14 || command -v clang++); then
  step "find_package with $cxx (Clang 14 and libstdc++ 12: no std::source_location of their own)"
  cmake -S "$src/tests/install/consumer" -B "$work/clang" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" > "$work/clang.txt" 2>&1 ||
    { cat "$work/clang.txt"; fail "configure with clang++"; }
  cmake --build "$work/clang" > "$work/clang-build.txt" 2>&1 || { tail -30 "$work/clang-build.txt"; fail "build with clang++"; }
  # The lost cancel's creation site went through clang++ 14's std::source_location into
  # the g++-built runtime: it must be main.cpp at the with_cancel line.
  line=$(grep -n "auto \[leaked, leaked_cancel\]" "$src/tests/install/consumer/main.cpp" | cut -d: -f1)
  for exe in consumer consumer_shared; do
    CTXSCOPE_TRACE="$work/clang-$exe.db" "$work/clang/$exe" >/dev/null
    rc=0; "$prefix/bin/ctxscope" check --source-root=none "$work/clang-$exe.db" > "$work/check.txt" 2>&1 || rc=$?
    [ "$rc" = 1 ] || { cat "$work/check.txt"; fail "clang++ $exe: ctxscope check exit $rc, expected 1"; }
    grep -q "consumer/main.cpp:$line:" "$work/check.txt" || { cat "$work/check.txt"; fail "clang++ $exe: the site is not main.cpp:$line"; }
  done
  rc=0; "$work/clang/consumer_tests" > "$work/tests.txt" 2>&1 || rc=$?
  [ "$rc" != 0 ] && grep -q "Leaky.Test leaked" "$work/tests.txt" || { cat "$work/tests.txt"; fail "clang++: the leak check"; }
fi

step "add_subdirectory of the source tree with -Wshadow -Wconversion -Werror"
cmake -S "$src/tests/install/embed" -B "$work/embed" -G Ninja -DCTXSCOPE_SOURCE="$src" > "$work/embed.txt" 2>&1 ||
  { cat "$work/embed.txt"; fail "embedding configure"; }
cmake --build "$work/embed" > "$work/embed-build.txt" 2>&1 || { tail -30 "$work/embed-build.txt"; fail "embedded build"; }
n=$(ctest --test-dir "$work/embed" -N | sed -n 's/^Total Tests: //p')
[ "$n" = 1 ] || fail "the embedding project's CTest has $n tests (ctxscope's must not join it)"
[ ! -e "$work/embed/ctxscope/runtime/libctxscope.so.0" ] || fail "embedded, ctxscope built its shared runtime unasked"
[ -e "$work/embed/ctxscope/runtime/libctxscope_runtime.a" ] || fail "embedded: no static runtime at the expected place"
echo "install test: ok"
