// The runtime's own stack walker: DWARF call-frame information, read once per
// code address into one process-wide table, then a few loads per frame.
//
// Every function the compiler emits has a frame description (.eh_frame, the
// table C++ exceptions unwind with, present whether or not the code keeps a
// frame pointer).  For a return address it says where the caller's frame
// starts (the CFA: rsp or rbp plus an offset), where the return address is
// saved (CFA - 8 on x86-64) and where the caller's rbp is.  libunwind caches
// that per thread; glibc's _Unwind_Backtrace (Boost.Stacktrace) re-reads it on
// every frame.  This walker interprets the frame description of a code address
// the first time any thread meets it and keeps the result — 8 bytes — in a
// lock-free table shared by every thread:
//
//   hot path   per frame: a hash probe, the CFA, one load for the return
//              address and at most one for rbp.  No lock, no allocation, no
//              per-thread cache to fill (a young thread walks at full speed).
//   first time per code address: libgcc's _Unwind_Find_FDE finds the frame
//              description, and the walker runs its call-frame instructions up
//              to the address; a CAS puts the rule in the table (no lock
//              anywhere, so a fork() mid-insert leaves nothing held).
//
// It follows the rules compilers emit for ordinary code (CFA = rsp|rbp +
// offset, return address at CFA - 8, rbp unchanged or saved at CFA + n).  A
// frame with anything else — a signal frame, a CFA computed by a DWARF
// expression (a realigned main), code with no frame description (JIT,
// hand-written assembly) — makes the walk give up (-1) and the caller use
// Boost.Stacktrace for that capture.  Every read is checked against the
// calling thread's stack bounds, so a wrong rule yields wrong frames, never a
// fault.  Code unloaded with dlclose and another library loaded at the same
// addresses within one process keeps the old rules (the frames may be wrong;
// the reads stay safe).
#pragma once

#include <cstddef>

namespace ctxscope::trace::detail {

/// True where the walker is built (x86-64 Linux, libgcc's unwinder).
bool cfi_available() noexcept;

/// Like libunwind's unw_backtrace: up to `max` return addresses of the calling
/// thread, the return address into cfi_backtrace's caller first.  Returns how
/// many, or -1 when a frame on the way cannot be walked (see above).
int cfi_backtrace(const void** out, int max) noexcept;

/// Test and bench hooks: code addresses whose rule the table holds, and walks
/// that gave up.
std::size_t cfi_rules_cached() noexcept;
std::size_t cfi_walks_given_up() noexcept;

}  // namespace ctxscope::trace::detail
