// Force-included (-include) by ctxscope-lint before every translation unit.
//
// Why: libstdc++ 12 defines std::source_location only when the compiler has
// __builtin_source_location, which Clang 14 lacks, so every ctxscope header
// (each API takes a defaulted std::source_location) fails to parse under
// Clang 14 LibTooling.  This stand-in exists only for the analysis: it has the
// same interface and the same size as libstdc++'s (one pointer, so static
// layout checks such as sizeof(ctxscope::Event) == 64 hold), but its values
// are not meaningful.  Compilers that have the builtin never see it.
//
// clang-tidy users add it themselves:
//   clang-tidy --extra-arg-before=-include<this file> ...
#pragma once
#if defined(__clang__) && defined(__cplusplus) && __cplusplus > 201703L && \
    !__has_builtin(__builtin_source_location) && !defined(CTXSCOPE_LINT_SOURCE_LOCATION_SHIM)
#define CTXSCOPE_LINT_SOURCE_LOCATION_SHIM 1
namespace std {
struct source_location {
  static constexpr source_location current(const char* file = __builtin_FILE()) noexcept {
    source_location s;
    s.file_ = file;
    return s;
  }
  constexpr source_location() noexcept = default;
  constexpr unsigned line() const noexcept { return 0; }
  constexpr unsigned column() const noexcept { return 0; }
  constexpr const char* file_name() const noexcept { return file_ ? file_ : ""; }
  constexpr const char* function_name() const noexcept { return ""; }

 private:
  const char* file_ = nullptr;
};
}  // namespace std
#endif
