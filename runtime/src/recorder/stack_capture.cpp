#include "recorder/stack_capture.hpp"

#include <dlfcn.h>

#include <atomic>
#include <boost/stacktrace/safe_dump_to.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ctxscope::trace::detail {
namespace {

using UnwBacktrace = int (*)(void**, int);

std::once_flag g_load_once;
UnwBacktrace g_unw = nullptr;  // set once, under g_load_once
std::atomic<UnwBacktrace> g_active{nullptr};  // nullptr: Boost.Stacktrace
std::atomic<unsigned> g_libunwind_after{kLibunwindAfter};

// Captures this thread has made (saturating): libunwind only past the threshold.
__attribute__((tls_model("initial-exec"))) thread_local unsigned t_captures = 0;

// Defined when the process runs under a sanitizer.
extern "C" void __asan_init() __attribute__((weak));
extern "C" void __lsan_do_leak_check() __attribute__((weak));
extern "C" void __tsan_init() __attribute__((weak));

// Under the sanitizers, Boost: LeakSanitizer's exit-time scan crashes
// ("Tracer caught signal 11") in a process that has libunwind loaded and
// threads still running at exit (FaultExit.ExitWithThreadsStillCancellingIsSafe
// under ASan), and libunwind's fast path faults walking through
// ThreadSanitizer's runtime frames (the recorder tests under TSan).
bool under_sanitizer() {
  return __asan_init != nullptr || __lsan_do_leak_check != nullptr || __tsan_init != nullptr;
}

void load_libunwind() {
  // The soname of nongnu libunwind (Debian's libunwind8).  RTLD_LOCAL: its
  // _Unwind_* symbols must never interpose libgcc's (the program's exceptions).
  void* h = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  g_unw = reinterpret_cast<UnwBacktrace>(::dlsym(h, "unw_backtrace"));
}

}  // namespace

Unwinder init_unwinder() noexcept {
  static const Unwinder chosen = [] {
    std::call_once(g_load_once, load_libunwind);
    const char* want = std::getenv("CTXSCOPE_UNWINDER");
    if (want && *want && std::strcmp(want, "boost") != 0 && std::strcmp(want, "libunwind") != 0)
      std::fprintf(stderr, "ctxscope: CTXSCOPE_UNWINDER=%s: unknown unwinder (libunwind or boost); using libunwind where installed\n",
                   want);
    const bool boost = (want && std::strcmp(want, "boost") == 0) ||
                       (under_sanitizer() && !(want && std::strcmp(want, "libunwind") == 0));
    return select_unwinder(boost ? Unwinder::boost : Unwinder::libunwind);
  }();
  (void)chosen;
  return g_active.load(std::memory_order_relaxed) ? Unwinder::libunwind : Unwinder::boost;
}

Unwinder select_unwinder(Unwinder u, unsigned libunwind_after) noexcept {
  std::call_once(g_load_once, load_libunwind);
  g_libunwind_after.store(libunwind_after, std::memory_order_relaxed);
  g_active.store(u == Unwinder::libunwind ? g_unw : nullptr, std::memory_order_relaxed);
  return g_active.load(std::memory_order_relaxed) ? Unwinder::libunwind : Unwinder::boost;
}

const char* unwinder_name() noexcept {
  return g_active.load(std::memory_order_relaxed) ? "libunwind" : "boost";
}

// noinline: the first address is then always our caller's, whichever unwinder.
[[gnu::noinline]] int capture_stack(const void** out, int max) noexcept {
  if (max <= 0) return 0;
  UnwBacktrace unw = g_active.load(std::memory_order_relaxed);
  if (unw && t_captures < g_libunwind_after.load(std::memory_order_relaxed)) {
    ++t_captures;
    unw = nullptr;  // a young thread: not worth libunwind's per-thread cache yet
  }
  if (unw) {
    // unw_backtrace's first entry is the return address into its caller (this
    // function); the recorder strips its own leading frames by name.
    const int n = unw(const_cast<void**>(reinterpret_cast<const void* const*>(out)), max);
    return n < 0 ? 0 : n;
  }
  // safe_dump_to's first frame is its own: skip 1 starts here, as
  // unw_backtrace does.  It writes a terminating null when there is room.
  const void* buf[64 + 1];
  const int want = max < 64 ? max : 64;
  const std::size_t n = boost::stacktrace::safe_dump_to(1, buf, (want + 1) * sizeof(void*));
  int k = 0;
  for (std::size_t i = 0; i < n && k < want && buf[i]; ++i) out[k++] = buf[i];
  return k;
}

}  // namespace ctxscope::trace::detail
