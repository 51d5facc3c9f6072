#include "recorder/stack_capture.hpp"

#include "recorder/cfi_unwind.hpp"

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
std::atomic<Unwinder> g_mode{Unwinder::boost};
std::atomic<unsigned> g_libunwind_after{kLibunwindAfter};

// Captures this thread has made (saturating): libunwind only past the threshold.
__attribute__((tls_model("initial-exec"))) thread_local unsigned t_captures = 0;

// Defined when the process runs under a sanitizer.
extern "C" void __asan_init() __attribute__((weak));
extern "C" void __lsan_do_leak_check() __attribute__((weak));
extern "C" void __tsan_init() __attribute__((weak));

// Under the sanitizers, never libunwind: LeakSanitizer's exit-time scan crashes
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
    const char* want = std::getenv("CTXSCOPE_UNWINDER");
    auto is = [&](const char* name) { return want && std::strcmp(want, name) == 0; };
    if (want && *want && !is("cfi") && !is("libunwind") && !is("boost"))
      std::fprintf(stderr, "ctxscope: CTXSCOPE_UNWINDER=%s: unknown unwinder (cfi, libunwind or boost); using cfi\n", want);
    if (is("boost")) return select_unwinder(Unwinder::boost);
    // libunwind only when asked for, and never by default under a sanitizer.
    if (is("libunwind")) return select_unwinder(Unwinder::libunwind);
    if (cfi_available()) return select_unwinder(Unwinder::cfi);
    return select_unwinder(under_sanitizer() ? Unwinder::boost : Unwinder::libunwind);
  }();
  (void)chosen;
  return g_mode.load(std::memory_order_relaxed);
}

Unwinder select_unwinder(Unwinder u, unsigned libunwind_after) noexcept {
  // libunwind.so.8 is loaded only for libunwind: LeakSanitizer's exit scan
  // crashes in a process that merely has it loaded.
  if (u == Unwinder::libunwind) std::call_once(g_load_once, load_libunwind);
  if (u == Unwinder::libunwind && !g_unw) u = Unwinder::boost;
  if (u == Unwinder::cfi && !cfi_available()) u = Unwinder::boost;
  g_libunwind_after.store(libunwind_after, std::memory_order_relaxed);
  g_mode.store(u, std::memory_order_relaxed);
  return u;
}

const char* unwinder_name() noexcept {
  switch (g_mode.load(std::memory_order_relaxed)) {
    case Unwinder::cfi: return "cfi";
    case Unwinder::libunwind: return "libunwind";
    case Unwinder::boost: break;
  }
  return "boost";
}

namespace {

// unw_backtrace's first entry is the return address into its caller, as ours
// (always inline: the caller's frame is the one it starts from).
[[gnu::always_inline]] inline int libunwind_backtrace(const void** out, int max) noexcept {
  return g_unw(const_cast<void**>(reinterpret_cast<const void* const*>(out)), max);
}

// safe_dump_to's first frame is its own: skip 1 starts at its caller's return
// address, as unw_backtrace does.  It writes a terminating null when there is room.
[[gnu::noinline]] int boost_backtrace(const void** out, int max) noexcept {
  const void* buf[64 + 1];
  const int want = max < 64 ? max : 64;
  const std::size_t n = boost::stacktrace::safe_dump_to(1, buf, (want + 1) * sizeof(void*));
  int k = 0;
  for (std::size_t i = 0; i < n && k < want && buf[i]; ++i) out[k++] = buf[i];
  return k;
}

}  // namespace

// Keeps the caller's frame on the stack while `n` is computed: a tail call
// would let the unwinder start one frame lower for some paths than others.
inline int no_tail_call(int n) {
  asm volatile("" : "+r"(n));
  return n;
}

// noinline: the first address is then always the return address into this
// function, whichever unwinder.
[[gnu::noinline]] int capture_stack(const void** out, int max) noexcept {
  if (max <= 0) return 0;
  switch (g_mode.load(std::memory_order_relaxed)) {
    case Unwinder::cfi: {
      const int n = cfi_backtrace(out, max);
      if (n >= 0) return n;
      break;  // a frame it cannot walk: Boost for this capture
    }
    case Unwinder::libunwind:
      if (t_captures >= g_libunwind_after.load(std::memory_order_relaxed)) {
        const int n = libunwind_backtrace(out, max);
        return no_tail_call(n < 0 ? 0 : n);
      }
      ++t_captures;  // a young thread: not worth libunwind's per-thread cache yet
      break;
    case Unwinder::boost: break;
  }
  return no_tail_call(boost_backtrace(out, max));
}

[[gnu::noinline]] int backtrace_with(Unwinder u, const void** out, int max) noexcept {
  switch (u) {
    case Unwinder::cfi: return no_tail_call(cfi_backtrace(out, max));
    case Unwinder::libunwind:
      std::call_once(g_load_once, load_libunwind);
      if (!g_unw) return -1;
      return no_tail_call(libunwind_backtrace(out, max));
    case Unwinder::boost: break;
  }
  return no_tail_call(boost_backtrace(out, max));
}

}  // namespace ctxscope::trace::detail
