// ctxscope/detail/source_location.hpp — std::source_location for every compiler
// the public headers support.
//
// GCC 12 and Clang >= 15 have std::source_location.  Clang 14 with libstdc++ 12
// (Debian 12's clang++) does not: libstdc++'s <source_location> needs
// __builtin_source_location, which Clang gained in 15, so the header declares
// nothing.  There this header declares the same class, std::source_location,
// with libstdc++'s layout (one pointer to {file, function, line, column}): the
// runtime's functions take a std::source_location by value, so the type must be
// that one, with that mangled name and that layout, for a program built with
// clang++ 14 to call a runtime built with g++ (the Debian packages).
//
// current() builds the record from __builtin_FILE/FUNCTION/LINE/COLUMN, which
// Clang evaluates at the call site when used in a default argument, as
// std::source_location::current() is.  libstdc++'s record has static storage
// (the compiler emits one per call site); here it is interned: one record per
// (file, function, line, column), kept for the life of the program, found
// through a small per-thread cache before a locked map.
#pragma once

#include <source_location>
#include <version>  // __cpp_lib_source_location when the class is declared; __GLIBCXX__

// CTXSCOPE_LINT_SOURCE_LOCATION_SHIM: ctxscope-lint's force-included stand-in
// (analyzer/lint/include/ctxscope_lint/clang14_compat.h) is in already; and
// defining it here makes that stand-in step aside when it comes second.
#if !defined(__cpp_lib_source_location) && defined(__clang__) && !__has_builtin(__builtin_source_location) && \
    defined(__GLIBCXX__) && !defined(CTXSCOPE_LINT_SOURCE_LOCATION_SHIM)
#define CTXSCOPE_SOURCE_LOCATION_FALLBACK 1
#define CTXSCOPE_LINT_SOURCE_LOCATION_SHIM 1
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_set>

namespace std {
struct source_location {
 private:
  struct __impl {  // libstdc++ 12's layout
    const char* _M_file_name;
    const char* _M_function_name;
    unsigned _M_line;
    unsigned _M_column;
  };

  static const __impl* intern(const char* file, const char* func, unsigned line, unsigned column) noexcept {
    struct Hash {
      size_t operator()(const __impl& i) const noexcept {
        return std::hash<const void*>{}(i._M_file_name) ^ (std::hash<const void*>{}(i._M_function_name) << 1) ^
               (size_t{i._M_line} << 16) ^ i._M_column;
      }
    };
    struct Eq {
      bool operator()(const __impl& a, const __impl& b) const noexcept {
        return a._M_file_name == b._M_file_name && a._M_function_name == b._M_function_name &&
               a._M_line == b._M_line && a._M_column == b._M_column;
      }
    };
    const __impl key{file, func, line, column};
    // Direct-mapped per-thread cache: a call site seen before costs one compare.
    static thread_local const __impl* cache[64] = {};
    const __impl*& slot = cache[Hash{}(key) & 63];
    if (slot != nullptr && Eq{}(*slot, key)) return slot;
    // Never destroyed: records outlive every static object that may hold one.
    static auto* mu = new std::mutex;
    static auto* records = new std::unordered_set<__impl, Hash, Eq>;
    try {
      std::lock_guard lock(*mu);
      slot = &*records->insert(key).first;  // node-based: the address is stable
    } catch (...) {
      return nullptr;  // out of memory: an unknown site, as a default-constructed one
    }
    return slot;
  }

 public:
  static source_location current(const char* __file = __builtin_FILE(), const char* __func = __builtin_FUNCTION(),
                                 unsigned __line = __builtin_LINE(), unsigned __col = __builtin_COLUMN()) noexcept {
    source_location r;
    r._M_impl = intern(__file, __func, __line, __col);
    return r;
  }

  constexpr source_location() noexcept {}

  constexpr uint_least32_t line() const noexcept { return _M_impl ? _M_impl->_M_line : 0u; }
  constexpr uint_least32_t column() const noexcept { return _M_impl ? _M_impl->_M_column : 0u; }
  constexpr const char* file_name() const noexcept { return _M_impl ? _M_impl->_M_file_name : ""; }
  constexpr const char* function_name() const noexcept { return _M_impl ? _M_impl->_M_function_name : ""; }

 private:
  const __impl* _M_impl = nullptr;
};
}  // namespace std
#endif
