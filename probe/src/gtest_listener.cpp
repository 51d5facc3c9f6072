// The GoogleTest side of the probe: one ScopedLeakCheck per test suite
// (SetUpTestSuite..TearDownTestSuite) and one per test (fixture constructor to
// destructor), checked when each ends.  A leak becomes a non-fatal failure of
// that test at the leak's site, so it shows in the console, in
// --gtest_output=xml (JUnit) and in CTest like any other failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "ctxscope/probe.hpp"

namespace ctxscope::probe {
namespace {

class LeakListener final : public ::testing::EmptyTestEventListener {
 public:
  explicit LeakListener(Options o) : opts_(std::move(o)) {}

  void OnTestSuiteStart(const ::testing::TestSuite& s) override {
    suite_ = std::make_unique<ScopedLeakCheck>(s.name(), opts_, ScopedLeakCheck::Kind::suite);
  }
  void OnTestStart(const ::testing::TestInfo& t) override {
    test_ = std::make_unique<ScopedLeakCheck>(std::string(t.test_suite_name()) + "." + t.name(), opts_);
  }
  // GoogleTest calls OnTestEnd listeners in reverse order of appending: this
  // one, appended after the default printer, runs first, while the test is
  // still the current one, so a failure added here is the test's own.
  void OnTestEnd(const ::testing::TestInfo& t) override {
    if (!test_) return;
    const auto* r = t.result();
    report(test_->finish(r && r->Failed(), r && r->Skipped()), std::string(t.test_suite_name()) + "." + t.name());
    test_.reset();
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& s) override {
    if (!suite_) return;
    // Recorded as a failure of the suite (its ad-hoc result), like a failing SetUpTestSuite.
    report(suite_->finish(s.Failed(), false), std::string(s.name()) + " (SetUpTestSuite/TearDownTestSuite)");
    suite_.reset();
  }

 private:
  void report(const std::vector<Leak>& leaks, const std::string& who) {
    for (const Leak& l : leaks) {
      const std::string msg = "ctxscope probe: " + who + " leaked:\n" + l.text;
      if (opts_.mode == Mode::fail) {
        const auto& s = l.finding.site.known() ? l.finding.site
                        : !l.finding.ancestry.empty() ? l.finding.ancestry.back().site
                                                      : l.finding.site;
        if (s.known())
          ADD_FAILURE_AT(s.file.c_str(), s.line) << msg;
        else
          ADD_FAILURE() << msg;
      } else {
        std::fprintf(stderr, "%s", msg.c_str());
      }
    }
  }

  Options opts_;
  std::unique_ptr<ScopedLeakCheck> suite_, test_;
};

}  // namespace

void install_gtest_listener(const Options& opts) {
  if (opts.mode == Mode::off) return;
  std::string err;
  if (!start(&err)) {
    std::fprintf(stderr, "ctxscope-probe: cannot record, leaks are not checked: %s\n", err.c_str());
    return;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeakListener(opts));
}

}  // namespace ctxscope::probe
