#!/usr/bin/env bash
# The Debian packages as a user gets them: cpack the build tree (no rebuild),
# lintian (no errors), `apt-get install ./*.deb`, then outside the tree and with
# nothing but the installed files: find_package (g++ and clang++ 14, static and
# shared runtime), pkg-config flags only, a traced run checked by the installed
# `ctxscope check`, a GoogleTest suite on the installed gtest_main whose leaky
# test fails, a screenshot by the installed viewer, the man pages, the
# completion, the desktop entry and the MIME type; `apt-get purge` and no file
# left behind.
#   tests/install/deb.sh BUILD_DIR SOURCE_DIR
# Needs root (it installs into /usr): exits 77 (CTest: skipped) otherwise, or
# when a ctxscope package is already installed (it will not replace a user's).
set -euo pipefail
build="$(cd "$1" && pwd)"; src="$(cd "$2" && pwd)"
step() { echo "== $*"; }
fail() { echo "deb test: $*" >&2; exit 1; }
# grep that reads all its input (grep -q may exit first: SIGPIPE for the writer, a failure under pipefail).
has() { grep "$@" > /dev/null; }
skip() { echo "deb test: SKIPPED: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root to install packages (CI runs it as root)"
command -v apt-get >/dev/null && command -v dpkg-shlibdeps >/dev/null || skip "needs apt-get and dpkg-dev"
packages=(libctxscope0 libctxscope-dev ctxscope ctxscope-viewer)
for p in "${packages[@]}"; do
  ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | has "install ok" ||
    skip "$p is installed already; not replacing it"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ctxscope-deb.XXXXXX")"
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -o DPkg::Lock::Timeout=120 -y -qq "${packages[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "cpack (DEB + TGZ) from $build"
t0=$SECONDS
(cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work/pkgs" > "$work/cpack.txt" 2>&1) ||
  { tail -40 "$work/cpack.txt"; fail "cpack"; }
debs=("$work"/pkgs/*.deb)
[ "${#debs[@]}" = 4 ] || fail "expected 4 .debs, got: ${debs[*]}"
ls "$work"/pkgs/*.tar.gz >/dev/null || fail "no .tar.gz"
echo "   $(cd "$work/pkgs" && ls *.deb *.tar.gz | tr '\n' ' ') ($((SECONDS - t0)) s)"
for p in "${packages[@]}"; do ls "$work/pkgs/${p}_"*.deb >/dev/null 2>&1 || fail "no package $p"; done
for p in "${packages[@]}"; do dpkg-deb -c "$work/pkgs/${p}_"*.deb > "$work/$p.contents"; done
grep -q "libctxscope.so.0 -> libctxscope.so.0.2.0" "$work/libctxscope0.contents" || fail "libctxscope0 lacks the SONAME link"
grep -q "/libctxscope.so -> libctxscope.so.0" "$work/libctxscope-dev.contents" ||
  fail "libctxscope-dev lacks the libctxscope.so development link"
grep -q "/usr/bin/ctxscope-viewer$" "$work/ctxscope-viewer.contents" || fail "ctxscope-viewer lacks its binary"
grep -q "/usr/include/ctxscope/context.hpp$" "$work/libctxscope-dev.contents" || fail "libctxscope-dev lacks the headers"
dpkg-deb -f "$work"/pkgs/ctxscope_*.deb Depends | has "libsqlite3-0" ||
  fail "ctxscope's dependencies were not computed (dpkg-shlibdeps)"
dpkg-deb -f "$work"/pkgs/libctxscope-dev_*.deb Depends | has "libctxscope0 (= " ||
  fail "libctxscope-dev does not depend on its libctxscope0"

if command -v lintian >/dev/null; then
  step "lintian (no errors)"
  t0=$SECONDS
  rc=0; lintian --no-cfg "${debs[@]}" > "$work/lintian.txt" 2>&1 || rc=$?
  grep -q "^E: " "$work/lintian.txt" && { cat "$work/lintian.txt"; fail "lintian reports errors"; }
  [ "$rc" = 0 ] || [ "$rc" = 2 ] || { cat "$work/lintian.txt"; fail "lintian exit $rc"; }
  echo "   $(grep -c '^W: ' "$work/lintian.txt" || true) warnings ($((SECONDS - t0)) s)"
  grep '^W: ' "$work/lintian.txt" | sed 's/^/   /' || true
else
  echo "== lintian not installed: not checked (packaging/install-deps.sh installs it)"
fi

step "apt-get install ./*.deb"
installed=1
(cd "$work/pkgs" && DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=120 -y -qq --no-install-recommends \
   ./libctxscope0_*.deb ./libctxscope-dev_*.deb ./ctxscope_*.deb ./ctxscope-viewer_*.deb) > "$work/apt.txt" 2>&1 ||
  { cat "$work/apt.txt"; fail "apt-get install"; }
files="$work/files.txt"
dpkg -L "${packages[@]}" | sort -u > "$files"
[ "$(command -v ctxscope)" = /usr/bin/ctxscope ] || fail "ctxscope is not /usr/bin/ctxscope"
cd "$work"   # outside the source and build trees from here on

step "find_package(ctxscope) from an outside project, g++: static and shared runtime, analysis, gtest_main"
cmake -S "$src/tests/install/consumer" -B "$work/gcc" -G Ninja -DCMAKE_CXX_COMPILER=g++ > "$work/gcc.txt" 2>&1 ||
  { cat "$work/gcc.txt"; fail "configure against /usr"; }
grep -q "/usr/lib/x86_64-linux-gnu/cmake/ctxscope\|/usr/lib/cmake/ctxscope" "$work/gcc/CMakeCache.txt" ||
  fail "the package was not found in /usr"
cmake --build "$work/gcc" > "$work/gcc-build.txt" 2>&1 || { tail -30 "$work/gcc-build.txt"; fail "build (g++)"; }
for exe in consumer consumer_shared; do
  rm -f "$work/$exe.db"
  CTXSCOPE_TRACE="$work/$exe.db" "$work/gcc/$exe" | has "consumer 0.2" || fail "$exe did not run"
  rc=0; ctxscope check "$work/$exe.db" > "$work/check.txt" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$work/check.txt"; fail "$exe: ctxscope check exit $rc, expected 1 (one lost cancel)"; }
  grep -q "ctxscope-lost-cancel" "$work/check.txt" || fail "$exe: the lost cancel is not reported"
  grep -q "main.cpp:" "$work/check.txt" || fail "$exe: the finding has no creation site"
done
ldd "$work/gcc/consumer_shared" | has -E "libctxscope.so.0 => (/usr)?/lib/x86_64-linux-gnu/libctxscope.so.0" ||
  fail "consumer_shared does not load /usr's libctxscope.so.0"
"$work/gcc/consumer_reader" "$work/consumer.db" | has "findings 1" || fail "installed analysis library"
rc=0; "$work/gcc/consumer_tests" > "$work/tests.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the leaky test passed under the installed gtest_main"
grep -q "Leaky.Test leaked" "$work/tests.txt" || { cat "$work/tests.txt"; fail "no leak report"; }
grep -q "\[       OK \] Clean.Test" "$work/tests.txt" || fail "the clean test failed"

if command -v clang++-14 >/dev/null || command -v clang++ >/dev/null; then
  cxx=$(command -v clang++-14 || command -v clang++)
  step "the same project with $cxx (Clang 14: no std::source_location in libstdc++ 12)"
  cmake -S "$src/tests/install/consumer" -B "$work/clang" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" > "$work/clang.txt" 2>&1 ||
    { cat "$work/clang.txt"; fail "configure (clang++)"; }
  cmake --build "$work/clang" > "$work/clang-build.txt" 2>&1 || { tail -30 "$work/clang-build.txt"; fail "build (clang++)"; }
  CTXSCOPE_TRACE="$work/clang.db" "$work/clang/consumer_shared" >/dev/null
  rc=0; ctxscope check "$work/clang.db" > "$work/check.txt" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$work/check.txt"; fail "clang++ build: ctxscope check exit $rc, expected 1"; }
  # The creation site, recorded through the clang++ 14 std::source_location: main.cpp, the with_cancel line.
  line=$(grep -n "auto \[leaked, leaked_cancel\]" "$src/tests/install/consumer/main.cpp" | cut -d: -f1)
  grep -q "main.cpp:$line" "$work/check.txt" || { cat "$work/check.txt"; fail "clang++ build: the site is not main.cpp:$line"; }
  rc=0; "$work/clang/consumer_tests" > "$work/tests.txt" 2>&1 || rc=$?
  [ "$rc" != 0 ] && grep -q "Leaky.Test leaked" "$work/tests.txt" || { cat "$work/tests.txt"; fail "clang++: leak check"; }
fi

step "pkg-config flags only: static (ctxscope) and shared (ctxscope-shared)"
pkg-config --exists ctxscope ctxscope-shared ctxscope-analysis ctxscope-probe || fail "pkg-config does not find the .pc files"
# shellcheck disable=SC2046
g++ -std=c++20 -o "$work/byhand" "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs ctxscope)
# shellcheck disable=SC2046
g++ -std=c++20 -o "$work/byhand_shared" "$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs ctxscope-shared)
ldd "$work/byhand_shared" | has libctxscope.so.0 || fail "pkg-config ctxscope-shared did not link libctxscope.so.0"
for exe in byhand byhand_shared; do
  CTXSCOPE_TRACE="$work/$exe.db" "$work/$exe" >/dev/null
  rc=0; ctxscope check "$work/$exe.db" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$exe: ctxscope check exit $rc, expected 1 (was tracing started?)"
done

step "the installed viewer renders a screenshot; --version everywhere"
QT_QPA_PLATFORM=offscreen ctxscope-viewer --screenshot "$work/shot.png" "$work/consumer.db" 2> "$work/viewer.txt" ||
  { cat "$work/viewer.txt"; fail "ctxscope-viewer --screenshot"; }
[ "$(head -c 8 "$work/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the screenshot is not a PNG"
for tool in ctxscope ctxscope-lint ctxscope-viewer; do
  "$tool" --version | has "^$tool 0\.2\.0" || fail "$tool --version"
done

step "man pages, bash completion, desktop entry, MIME type"
for tool in ctxscope ctxscope-lint ctxscope-viewer; do
  man -w "$tool" > /dev/null || fail "man -w $tool finds no page"
done
[ "$(man -w ctxscope)" = /usr/share/man/man1/ctxscope.1.gz ] || fail "man -w ctxscope: $(man -w ctxscope)"
man ctxscope 2>/dev/null | has "check" || fail "the ctxscope man page lacks the check subcommand"
[ -f /usr/share/bash-completion/completions/ctxscope ] || fail "no bash completion"
words=$(bash -c 'source /usr/share/bash-completion/completions/ctxscope
  COMP_WORDS=(ctxscope ch); COMP_CWORD=1; _ctxscope; echo "${COMPREPLY[*]}"
  COMP_WORDS=(ctxscope check --fail); COMP_CWORD=2; _ctxscope; echo "${COMPREPLY[*]}"')
[ "$words" = "$(printf 'check\n--fail-on')" ] || fail "bash completion: got '$words'"
[ -f /usr/share/applications/ctxscope-viewer.desktop ] || fail "no desktop entry"
[ -f /usr/share/icons/hicolor/scalable/apps/ctxscope-viewer.svg ] || fail "no icon"
[ -f /usr/share/mime/packages/ctxscope-trace.xml ] || fail "no MIME type"
# dpkg's trigger ran update-mime-database: the compiled database knows the type.
grep -q "application/x-ctxscope-trace" /usr/share/mime/types || fail "the MIME database does not know application/x-ctxscope-trace"
if command -v gio >/dev/null; then
  t=$(gio info -a standard::content-type "$work/consumer.db" | sed -n 's/.*standard::content-type: //p')
  [ "$t" = application/x-ctxscope-trace ] || fail "the system MIME database says a trace is '$t'"
fi

step "apt-get purge: nothing left behind"
DEBIAN_FRONTEND=noninteractive apt-get purge -o DPkg::Lock::Timeout=120 -y -qq "${packages[@]}" > "$work/purge.txt" 2>&1 ||
  { cat "$work/purge.txt"; fail "apt-get purge"; }
installed=0
left=""
while read -r f; do
  [ -d "$f" ] && [ ! -L "$f" ] && continue   # shared directories (/usr/bin, ...) stay
  if [ -e "$f" ] || [ -L "$f" ]; then left+="$f "; fi
done < "$files"
[ -z "$left" ] || fail "left behind after purge: $left"
for d in /usr/include/ctxscope /usr/lib/x86_64-linux-gnu/cmake/ctxscope /usr/share/doc/ctxscope /usr/lib/ctxscope; do
  [ ! -e "$d" ] || fail "left behind after purge: $d"
done
echo "deb test: ok"
