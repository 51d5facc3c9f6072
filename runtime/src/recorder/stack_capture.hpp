// Stack capture on the hot path: return addresses only, nothing symbolized.
//
// Stacks are on by default (8 frames), so the capture at every context
// creation and explicit cancel has to cost about what a cache miss does, not
// microseconds.  The unwinder is chosen once, when a recording starts (never
// on a producer's path), by CTXSCOPE_UNWINDER:
//
//   cfi        (the default) the runtime's own walker (cfi_unwind.hpp): each
//              code address's frame rule is read from .eh_frame once and kept
//              in one table shared by every thread, so a capture is a hash
//              probe and a load or two per frame, on a thread's first capture
//              as on its thousandth, with or without frame pointers.  A frame
//              it cannot walk (a signal frame, code without unwind tables)
//              sends that one capture to Boost.
//   libunwind  nongnu libunwind's unw_backtrace (libunwind.so.8, loaded with
//              dlopen RTLD_LOCAL, only when asked for): its x86-64 fast path
//              caches each return address's frame layout per thread.  That
//              cache costs a new thread ≈ 0.7 ms (256 KiB mapped and filled),
//              so a thread captures with Boost until it has made
//              kLibunwindAfter captures.  Never the default under a sanitizer
//              (LeakSanitizer's exit scan crashes with it loaded; its fast
//              path faults walking ThreadSanitizer's frames).
//   boost      Boost.Stacktrace's safe_dump_to (glibc's _Unwind_Backtrace,
//              which re-reads .eh_frame per frame: ≈ 2-5 µs per capture).
//
// Every unwinder returns the same addresses: the return address of its own
// call inside capture_stack first (the recorder strips its frames by name).
//
// Symbolization (function, file, line) happens on the recorder thread, once
// per distinct address (TraceWriter::frame_id), never on the thread that captured.
#pragma once

namespace ctxscope::trace::detail {

enum class Unwinder : unsigned char { boost, libunwind, cfi };

/// Captures a thread makes with Boost before it switches to libunwind.
inline constexpr unsigned kLibunwindAfter = 32;

/// Chooses and loads the unwinder (idempotent, thread-safe).  Reads
/// CTXSCOPE_UNWINDER (cfi | libunwind | boost) the first time.
Unwinder init_unwinder() noexcept;
/// "cfi", "libunwind" or "boost": the unwinder in use.
const char* unwinder_name() noexcept;
/// Test and bench hook: use `u` from now on (libunwind only if it loads, cfi
/// only where the walker is built; Boost otherwise),
/// on every thread past its first `libunwind_after` captures; returns what is
/// in use afterwards.
Unwinder select_unwinder(Unwinder u, unsigned libunwind_after = kLibunwindAfter) noexcept;

/// Writes up to `max` return addresses of the calling thread into `out`: the
/// unwinder's return address into capture_stack first, then its caller's.  Returns how many.
/// Async-signal-unsafe but lock-free once warm: no lock and no allocation
/// once every return address on the way has been met (by any thread, with cfi).
int capture_stack(const void** out, int max) noexcept;

/// Test hook: the same with unwinder `u` alone, no fallback (-1 when cfi
/// gives up or libunwind is not installed); the unwinder's return address
/// into backtrace_with first.
int backtrace_with(Unwinder u, const void** out, int max) noexcept;

}  // namespace ctxscope::trace::detail
