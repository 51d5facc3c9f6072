// Stack capture on the hot path: return addresses only, nothing symbolized.
//
// Stacks are on by default (8 frames), so the capture at every context
// creation and explicit cancel has to cost about what a cache miss does, not
// microseconds.  The unwinder is chosen once, when a recording starts (never
// on a producer's path):
//
//   libunwind  nongnu libunwind's unw_backtrace (libunwind.so.8, loaded with
//              dlopen RTLD_LOCAL): its x86-64 fast path caches each return
//              address's frame layout per thread, so a warm capture is a few
//              loads per frame (≈ 100-200 ns for 12 frames) and needs no frame
//              pointers.  Loaded, not linked: linking -lunwind would put its
//              _Unwind_* symbols in front of libgcc's and route the program's
//              own C++ exceptions through it; RTLD_LOCAL keeps them private.
//   boost      Boost.Stacktrace's safe_dump_to (glibc's _Unwind_Backtrace,
//              which re-reads .eh_frame per frame: ≈ 2-4 µs per capture) —
//              the fallback where libunwind.so.8 is not installed, in a
//              process under a sanitizer (LeakSanitizer's exit scan crashes
//              with libunwind loaded; libunwind faults walking ThreadSanitizer's
//              frames), or when CTXSCOPE_UNWINDER=boost asks for it
//              (CTXSCOPE_UNWINDER=libunwind insists on libunwind).  Boost is
//              also the safer of the two: libunwind's fast path trusts the
//              frames it walks, so code without unwind tables (hand-written
//              assembly, JIT code) above a context's creation can fault it.
//
// libunwind's cache is per thread: its first capture on a thread maps and
// fills 256 KiB (measured ≈ 0.7 ms of page faults and an munmap at exit on
// the reference VM) — far more than a short-lived goroutine-like thread that
// creates a context or two would ever save.  So a thread captures with Boost
// until it has made kLibunwindAfter captures, and with libunwind from then on:
// a busy thread gets the fast path, a short one never pays for the cache.
//
// Symbolization (function, file, line) happens on the recorder thread, once
// per distinct address (TraceWriter::frame_id), never on the thread that captured.
#pragma once

namespace ctxscope::trace::detail {

enum class Unwinder : unsigned char { boost, libunwind };

/// Captures a thread makes with Boost before it switches to libunwind.
inline constexpr unsigned kLibunwindAfter = 32;

/// Chooses and loads the unwinder (idempotent, thread-safe).  Reads
/// CTXSCOPE_UNWINDER (libunwind | boost) the first time.
Unwinder init_unwinder() noexcept;
/// "libunwind" or "boost": the unwinder init_unwinder() chose.
const char* unwinder_name() noexcept;
/// Test and bench hook: use `u` from now on (libunwind only if it loaded),
/// on every thread past its first `libunwind_after` captures; returns what is
/// in use afterwards.
Unwinder select_unwinder(Unwinder u, unsigned libunwind_after = kLibunwindAfter) noexcept;

/// Writes up to `max` return addresses of the calling thread into `out`, the
/// caller of capture_stack first.  Returns how many.  Async-signal-unsafe but
/// lock-free once warm; never allocates on the calling thread after the
/// first capture of each distinct return address (libunwind's per-thread cache).
int capture_stack(const void** out, int max) noexcept;

}  // namespace ctxscope::trace::detail
