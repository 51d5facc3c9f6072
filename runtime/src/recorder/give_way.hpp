// The recorder's background threads give way to the program's.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "ctxscope/detail/events.hpp"

namespace ctxscope::trace::detail {

/// Times each of the recorder's own threads gave way (recorder.cpp; read
/// by tests through give_way_yields()).
extern std::atomic<std::uint64_t> g_give_way_yields_drain, g_give_way_yields_sql;

/// A background thread's work comes in bursts: a drain pass, a batch's SQL
/// (a few milliseconds of CPU every 50 ms commit).  Linux's fair scheduler lets
/// the running thread finish its slice (0.75–3 ms) before a thread that wakes up
/// gets its CPU, so a program thread waking from a sleep, a channel or a lock
/// during a burst waited behind the recorder: the fan-out request lost 3–4% to
/// that on two CPUs, far more than the recorder's CPU share.  Lower priority does
/// not help (nice 19 and SCHED_BATCH keep the slice); SCHED_IDLE would, but an
/// unprivileged thread cannot leave it, so a busy program would starve the
/// writer and then block on its full buffers.  Instead the thread offers the CPU
/// every kSliceNs of work: sched_yield() runs whoever is waiting on this CPU
/// and returns at once when nobody is, and the thread keeps its normal weight,
/// so under a CPU-bound program it still gets its fair share.
class GiveWay {
 public:
  static constexpr std::uint64_t kSliceNs = 50'000;

  explicit GiveWay(std::atomic<std::uint64_t>& counter) noexcept : counter_(counter) {}

  /// A fresh slice: after the thread slept (the scheduler just gave it the CPU).
  /// Until the first begin() point() does nothing: the writer's first commit
  /// runs in open(), on the thread that calls trace::start, which is the
  /// program's and must not be made to yield.
  void begin() noexcept { since_ = ctxscope::detail::now_ns(); }
  /// Between two units of work (an SQL statement, a chunk of a ring).
  void point() noexcept {
    if (since_ == 0 || ctxscope::detail::now_ns() - since_ < kSliceNs) return;
    sched_yield();
    counter_.fetch_add(1, std::memory_order_relaxed);
    since_ = ctxscope::detail::now_ns();
  }

 private:
  std::atomic<std::uint64_t>& counter_;
  std::uint64_t since_ = 0;  // 0: not begun
};

}  // namespace ctxscope::trace::detail
