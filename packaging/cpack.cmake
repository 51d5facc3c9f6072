# CPack: `cpack --config build/<preset>/CPackConfig.cmake` (or the `package`
# target) makes the Debian packages, one per install component, and a .tar.gz
# of the whole install tree.
#
#   libctxscope0      libs    libctxscope.so.0 (the shared runtime)
#   libctxscope-dev   dev     headers, static libraries, libctxscope.so, CMake and pkg-config files
#   ctxscope          tools   ctxscope, ctxscope-lint, the clang-tidy plugin; man pages, completion, docs
#   ctxscope-viewer   viewer  ctxscope-viewer; man page, desktop entry, icon, MIME type for traces
#
# Run-time dependencies on Debian's own packages are computed by dpkg-shlibdeps
# from the binaries; build-time ones of -dev (what find_package(ctxscope) and
# the .pc files need) are listed here.  Each package carries the Debian
# copyright file and changelog lintian asks for.
set(CTXSCOPE_DEB_MAINTAINER "ctxscope maintainers <maintainers@users.noreply.h-seed-6f455a3a.example>")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(deb_packages "")
foreach(pair "libs|libctxscope0" "dev|libctxscope-dev" "tools|ctxscope" "viewer|ctxscope-viewer")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  if((component STREQUAL "viewer" AND NOT TARGET ctxscope-viewer) OR
     (component STREQUAL "libs" AND NOT TARGET ctxscope_runtime_shared))
    continue()
  endif()
  list(APPEND deb_packages ${component})
  string(TOUPPER ${component} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${package})
  set(CPACK_DEBIAN_${C}_FILE_NAME DEB-DEFAULT)
  # Debian's place for them: /usr/share/doc/<package>/{copyright,changelog.Debian.gz}.
  configure_file(${CMAKE_CURRENT_SOURCE_DIR}/debian/changelog.in ${CMAKE_CURRENT_BINARY_DIR}/debian/${package}/changelog.Debian @ONLY)
  execute_process(COMMAND gzip -9nf ${CMAKE_CURRENT_BINARY_DIR}/debian/${package}/changelog.Debian)
  install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/debian/copyright ${CMAKE_CURRENT_BINARY_DIR}/debian/${package}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
  # Two lintian warnings that do not apply to these packages (debian/lintian-overrides says why).
  file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/debian/lintian-overrides tags REGEX "^[a-z]")
  if(NOT component MATCHES "^(libs|tools)$")   # the packages with a shared object under /usr/lib
    list(REMOVE_ITEM tags maintscript-calls-ldconfig)
  endif()
  list(TRANSFORM tags PREPEND "${package}: ")
  list(JOIN tags "\n" overrides)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/debian/${package}/lintian-overrides "${overrides}\n")
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/debian/${package}/lintian-overrides
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ${package} COMPONENT ${component})
endforeach()

set(CPACK_PACKAGE_NAME ctxscope)
set(CPACK_PACKAGE_VENDOR "ctxscope")
set(CPACK_PACKAGE_CONTACT "${CTXSCOPE_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before every
# package's own summary (the first line of each description below).
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/ctxscope/ctxscope")
set(CPACK_GENERATOR DEB TGZ)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "")
# The .tar.gz: the whole install tree in one archive (ctxscope-0.2.0-Linux.tar.gz).
set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)
set(CPACK_COMPONENTS_ALL ${deb_packages})
set(CPACK_DEB_COMPONENT_INSTALL ON)

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CTXSCOPE_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${CPACK_PACKAGE_HOMEPAGE_URL}")
# Directories 0755 and files 0644/0755 whatever the builder's umask (lintian).
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(ver "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_LIBS_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIBS_DESCRIPTION "Go's context for C++20: shared runtime library
ctxscope gives C++ programs Go's context model (cancellation trees,
deadlines, request values, errgroup, channels, goroutine-like threads) and
records every create, cancel and wait into a SQLite trace when CTXSCOPE_TRACE
names a file.

This package holds the shared runtime, libctxscope.so.0.")
# The shlibs file, so that programs linked with libctxscope.so.0 depend on this package.
# (GENERATE_SHLIBS is global; only libctxscope0 holds a library with a SONAME.)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# ldconfig runs from dpkg's trigger (Debian policy 8.1.1); CPack also adds
# postinst/postrm that call it (lintian: a warning, maintscript-calls-ldconfig).
# libunwind.so.8 is loaded with dlopen only when CTXSCOPE_UNWINDER=libunwind
# asks for it (the default unwinder is the runtime's own): a suggestion.
set(CPACK_DEBIAN_LIBS_PACKAGE_SUGGESTS "libunwind8")
set(CPACK_DEBIAN_LIBS_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_SOURCE_DIR}/debian/libctxscope0/triggers)

set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libctxscope0 (= ${ver}), libsqlite3-dev, libboost-stacktrace-dev, nlohmann-json3-dev, libgtest-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "pkg-config, cmake")
set(CPACK_DEBIAN_DEV_DESCRIPTION "Go's context for C++20: development files
ctxscope gives C++ programs Go's context model (cancellation trees,
deadlines, request values, errgroup, channels, goroutine-like threads) and
records every create, cancel and wait into a SQLite trace.

This package holds the public headers, the static libraries (runtime, trace
format, analysis, probe, gtest_main), the CMake package
(find_package(ctxscope)) and the pkg-config files.")

# ctxscope-lint parses with Clang 14 and needs its builtin headers (stddef.h, ...).
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "libclang-common-14-dev")
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "clang-tidy-14, libstdc++-12-dev")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "ctxscope-viewer, libctxscope-dev")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Go's context for C++20: trace analyzer and linter
ctxscope finds lost cancels, blind waits, stuck waits, uses after cancel and
late exits in the traces the ctxscope runtime records (text, JSON, SARIF,
JUnit; the exit code gates CI), and ctxscope-lint finds lost cancels and
blind waits in C++ sources with Clang 14 LibTooling (also as a clang-tidy
plugin).")

set(CPACK_DEBIAN_VIEWER_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_VIEWER_PACKAGE_DEPENDS "qt6-qpa-plugins")
set(CPACK_DEBIAN_VIEWER_PACKAGE_RECOMMENDS "ctxscope")
set(CPACK_DEBIAN_VIEWER_DESCRIPTION "Go's context for C++20: trace viewer
ctxscope-viewer replays a ctxscope trace, or follows one being written: the
context tree, the threads waiting on it, and the analyzer's findings.")

include(CPack)
