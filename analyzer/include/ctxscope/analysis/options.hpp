// ctxscope/analysis/options.hpp — thresholds of the rules.
//
// Grace periods absorb scheduling noise: they are the time a thread may take
// to notice `done` before a rule calls it blind or late.  The defaults are far
// above the wake-up latency of a loaded 2-core machine (a few ms, tens of ms
// under heavy contention) and far below what a real bug shows (a goroutine
// that ignores cancellation stays blocked until its value arrives, usually
// hundreds of ms, or forever).  See docs/rules.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace ctxscope::analysis {

struct Options {
  /// blind-wait: the wait must still be blocked this long after its thread's
  /// context was done (so a wait that ends on a value racing the cancel is clean).
  std::int64_t blind_wait_grace_ns = 50'000'000;    // 50 ms
  /// late-exit: a thread may run this long after its context was done.
  std::int64_t late_exit_grace_ns = 100'000'000;    // 100 ms
  /// Rules to run (ids of the catalogue); empty: every rule.  A rule left out
  /// is not run and not counted.
  std::set<std::string> rules;
  /// Rules not to report (their findings are counted as suppressed).
  std::set<std::string> ignore;
  /// The moment the verdicts are for (ns since the run start): "still blocked
  /// at the end" means at this time.  Unset: the end of the run (its end
  /// marker, or the last commit of an incomplete run).  The probe analyses a
  /// running test binary at a test's end.
  std::optional<std::int64_t> end_ns;
  /// Cancellation, for a caller on another thread (the viewer's loader): once
  /// `*cancel` is true, analyze() stops within a few milliseconds — inside a
  /// rule's query too — and throws AnalysisCancelled.  Not owned; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

}  // namespace ctxscope::analysis
