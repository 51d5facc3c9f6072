// ctxscope/probe.hpp — fail the test that leaks a context or a go() thread.
//
// Link `ctxscope::gtest_main` instead of `GTest::gtest_main` (or call
// install_gtest_listener() from your own main) and every test is checked when
// it ends: a cancelable context it created whose cancel was never called
// (lost-cancel), a go() thread it started that is still blocked when the grace
// budget runs out (stuck-wait, or blind-wait when its context was done), or
// still running (late-exit).  The failure is an ordinary GoogleTest failure of
// that test, at the creation site, with the analyzer's text: rule, site,
// ancestry, thread, wait.
//
// Ownership, not set differences: the runtime stamps every context creation
// and go() with the test running on the creating thread (go() threads inherit
// their starter's), so a leak is reported under the test that made it, never
// under the test that happens to be running when it is noticed.  A clean test
// pays two counter lookups; a test with threads still running waits for their
// exit events (not sleeps) up to the grace budget; only a test that still has
// something outstanding is analysed, by the one rule engine (ctxscope::analysis).
//
// Without CTXSCOPE_TRACE the probe records into memory and writes no file; with
// it, the run is written there with test boundaries (table `tests`), so a
// failure can be opened in the viewer and the CLI.
//
// Environment (read by Options::from_environment):
//   CTXSCOPE_PROBE=fail|warn|off     fail the test (default), print only, or do nothing
//   CTXSCOPE_PROBE_GRACE_MS=N        grace budget for threads still running (default 1000)
//   CTXSCOPE_PROBE_IGNORE=list       comma-separated ignores: rule:ID, site:GLOB ("file:line"),
//                                    func:GLOB (creation/go() site's function or any stack frame),
//                                    thread:GLOB (go() thread name)
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ctxscope/analysis/finding.hpp"

namespace ctxscope::probe {

enum class Mode { fail, warn, off };

struct Options {
  Mode mode = Mode::fail;
  /// How long a test's go() threads that are still running may take to finish
  /// after the test ended before they are reported.  A clean test never waits.
  std::chrono::milliseconds grace{1000};
  std::set<std::string> ignore_rules;          ///< rule ids ("late-exit")
  std::vector<std::string> ignore_sites;       ///< globs on "file:line" of the finding's site or context's creation
  std::vector<std::string> ignore_functions;   ///< globs on the site's function or any frame of its stack
  std::vector<std::string> ignore_threads;     ///< globs on the go() thread's name
  /// Read CTXSCOPE_PROBE, CTXSCOPE_PROBE_GRACE_MS and CTXSCOPE_PROBE_IGNORE over
  /// these defaults.  A malformed value is reported on stderr and ignored.
  static Options from_environment(Options defaults);
  static Options from_environment();
};

/// One leak: the rule engine's finding (or, for a thread still running when
/// the budget ran out with nothing else wrong, the probe's late-exit) and the
/// text that the failure shows.
struct Leak {
  analysis::Finding finding;
  std::string text;
};

/// Starts the probe once per process (idempotent): begins recording (into
/// CTXSCOPE_TRACE if the recorder already records there, else into memory)
/// and counts what each scope owns.  False with `*err` if recording cannot start.
bool start(std::string* err = nullptr);

/// A scope that owns what is created in it (on this thread, on plain threads,
/// and in go() threads started from it) until finish().  GoogleTest's listener
/// opens one per test and per test suite; other frameworks use it directly:
///   { ctxscope::probe::ScopedLeakCheck check("MySuite.MyTest");
///     ... test ...
///     for (auto& l : check.finish()) report(l.text); }
class ScopedLeakCheck {
 public:
  enum class Kind : std::uint8_t { test = 0, suite = 1 };
  explicit ScopedLeakCheck(std::string_view name, Options opts = Options::from_environment(), Kind kind = Kind::test);
  ScopedLeakCheck(const ScopedLeakCheck&) = delete;
  ScopedLeakCheck& operator=(const ScopedLeakCheck&) = delete;
  /// Calls finish() if not called, and prints any leak on stderr.
  ~ScopedLeakCheck();

  /// Ends the scope (`failed`: the framework's own verdict, recorded in the
  /// trace) and checks it.  Empty when nothing leaked or the mode is off.
  std::vector<Leak> finish(bool failed = false, bool skipped = false);
  std::uint32_t id() const noexcept { return id_; }

 private:
  std::uint32_t id_ = 0;
  std::uint32_t outer_ = 0;  // the scope it nested in (a suite), restored by finish()
  Options opts_;
  const char* name_ = "";
  Kind kind_ = Kind::test;
  bool finished_ = false;
};

/// Checks everything created since the probe started outside any finished
/// scope (goleak's VerifyNone): every pending cancel and running go() thread,
/// after the grace budget, except what was outstanding when ignore_current() was
/// last called.
std::vector<Leak> verify_none(const Options& opts = Options::from_environment());
/// Marks everything outstanding now as the baseline verify_none() ignores
/// (goleak's IgnoreCurrent).
void ignore_current();

/// Appends the GoogleTest listener (after InitGoogleTest, before RUN_ALL_TESTS):
/// starts the probe and checks after every test and every test suite.  A leak
/// is a non-fatal failure of that test (fail mode) or a line on stderr (warn).
void install_gtest_listener(const Options& opts = Options::from_environment());

/// Counters for benches: scopes checked, of them clean without waiting, waited,
/// analysed; time spent in the checks (ns, grace waits included).
struct Stats {
  std::uint64_t checked = 0, clean_fast = 0, waited = 0, analysed = 0, check_ns = 0;
};
Stats stats() noexcept;

}  // namespace ctxscope::probe
