// Rule unit tests on hand-built traces: each rule's definition, its edge cases
// (cancel racing a wait's end, parent cancelled before the child was created,
// deadline expiring while a wait ends on a value, contexts never used), and the
// words and times of the findings.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "test_util.hpp"
#include "ctxscope/analysis/stats.hpp"
#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/trace_reader.hpp"
#include "trace_builder.hpp"

namespace ctxscope::testing {
namespace {

using analysis::Finding;
using analysis::Report;
using analysis::Severity;

constexpr std::int64_t ms = 1'000'000;

// Copies: callers often pass a temporary report.
std::vector<Finding> of_rule(const Report& r, const std::string& rule) {
  std::vector<Finding> v;
  for (const auto& f : r.findings)
    if (f.rule == rule) v.push_back(f);
  return v;
}

class Rules : public ::testing::Test {
 protected:
  void SetUp() override { path = test_dir() / "trace.db"; }
  std::filesystem::path path;
};

// ---- lost-cancel ----------------------------------------------------------

TEST_F(Rules, DroppedCancelIsAnErrorAtTheCreationSite) {
  {
    TraceBuilder b(path, 200 * ms);
    auto s = b.site("src/lost.cpp", 20, "void leak()", 14);
    b.ctx({.id = 10, .kind = "timeout", .created_ns = 1 * ms, .site = s, .cancel_ns = 100 * ms,
           .cancel_reason = "deadline", .dropped_ns = 2 * ms, .dropped_when_done = 0});
  }
  auto r = analyze_path(path);
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.rule, "lost-cancel");
  EXPECT_EQ(f.subkind, "dropped");
  EXPECT_EQ(f.severity, Severity::error);
  EXPECT_EQ(f.site.file, "src/lost.cpp");
  EXPECT_EQ(f.site.line, 20);
  EXPECT_EQ(f.site.column, 14);
  EXPECT_EQ(f.context, 10u);
  ASSERT_EQ(f.ancestry.size(), 2u);
  EXPECT_EQ(f.ancestry[0].kind, "background");
  EXPECT_EQ(f.ancestry[1].kind, "timeout");
  EXPECT_NE(f.message.find("dropped without being called, 1.0 ms after creation"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("stayed live 98.0 ms more, until it hit its deadline"), std::string::npos) << f.message;
}

TEST_F(Rules, NeverDoneContextWithUncalledCancelIsLeaked) {
  {
    TraceBuilder b(path, 500 * ms);
    auto s0 = b.site("main.cpp", 5);
    auto s1 = b.site("main.cpp", 9);
    b.ctx({.id = 10, .created_ns = 0, .site = s0, .cancel_ns = 400 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 400 * ms});
    b.ctx({.id = 11, .parent = 10, .created_ns = 100 * ms, .site = s1, .registered = 1});
    // Made done later by the parent: not leaked, released by parent.
  }
  auto r = analyze_path(path);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].subkind, "leaked");
  EXPECT_EQ(r.findings[0].site.line, 9);
  EXPECT_NE(r.findings[0].message.find("still live at the end of the run, 400.0 ms after creation"),
            std::string::npos)
      << r.findings[0].message;
  EXPECT_NE(r.findings[0].message.find("registered with ctx#10"), std::string::npos);
}

TEST_F(Rules, ReleasedOnlyByParentOrDeadlineIsAWarning) {
  {
    TraceBuilder b(path, 500 * ms);
    auto s = b.site("main.cpp", 5);
    auto cs = b.site("main.cpp", 30);
    b.ctx({.id = 10, .created_ns = 0, .site = s, .cancel_ns = 50 * ms, .cancel_reason = "explicit",
           .cancel_thread = 1, .cancel_site = cs, .cancel_called_ns = 50 * ms});
    b.ctx({.id = 11, .parent = 10, .created_ns = 1 * ms, .site = b.site("a.cpp", 7), .registered = 1,
           .cancel_ns = 50 * ms, .cancel_reason = "parent", .cancel_parent = 10, .cancel_origin = 10,
           .dropped_ns = 60 * ms, .dropped_when_done = 1});
    b.ctx({.id = 12, .kind = "timeout", .created_ns = 1 * ms, .site = b.site("a.cpp", 8), .cancel_ns = 11 * ms,
           .cancel_reason = "deadline"});
  }
  auto r = analyze_path(path);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].subkind, "released-by-parent");
  EXPECT_EQ(r.findings[0].severity, Severity::warning);
  EXPECT_NE(r.findings[0].message.find("cancelled by parent ctx#10 at main.cpp:30"), std::string::npos)
      << r.findings[0].message;
  EXPECT_EQ(r.findings[1].subkind, "released-by-deadline");
  EXPECT_EQ(r.findings[1].severity, Severity::warning);
}

TEST_F(Rules, CancelCalledAfterParentCancelIsClean) {
  {
    TraceBuilder b(path, 500 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 50 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 50 * ms});
    b.ctx({.id = 11, .parent = 10, .created_ns = 1 * ms, .registered = 1, .cancel_ns = 50 * ms,
           .cancel_reason = "parent", .cancel_origin = 10, .cancel_called_ns = 70 * ms});
  }
  EXPECT_TRUE(analyze_path(path).findings.empty());
}

TEST_F(Rules, ContextsNeverUsedButCancelledReportNothing) {
  {
    TraceBuilder b(path, 500 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 1 * ms, .cancel_reason = "explicit", .cancel_called_ns = 1 * ms});
    b.ctx({.id = 11, .parent = 1, .kind = "value", .created_ns = 0});
    b.ctx({.id = 12, .parent = 1, .kind = "without_cancel", .created_ns = 0});
  }
  EXPECT_TRUE(analyze_path(path).findings.empty());
}

TEST_F(Rules, ParentCancelledBeforeChildCreated) {
  // The child is born done; its cancel called: clean.  A second child whose
  // cancel is dropped after birth: released by parent (warning), not leaked.
  {
    TraceBuilder b(path, 500 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 10 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 10 * ms});
    b.ctx({.id = 11, .parent = 10, .created_ns = 20 * ms, .cancel_ns = 20 * ms, .cancel_reason = "born_done",
           .cancel_called_ns = 30 * ms});
    b.ctx({.id = 12, .parent = 10, .created_ns = 20 * ms, .site = b.site("b.cpp", 3), .cancel_ns = 20 * ms,
           .cancel_reason = "born_done", .dropped_ns = 25 * ms, .dropped_when_done = 1});
    // A thread started under the born-done child, waiting on its done: clean.
    b.thread({.id = 2, .name = "w", .ctx = 11, .spawn_ns = 21 * ms, .exit_ns = 21 * ms + 100});
    b.wait({.id = 100, .thread = 2, .object = "done", .done_ctx = 11, .begin_ns = 21 * ms, .end_ns = 21 * ms,
            .outcome = "done"});
  }
  auto r = analyze_path(path);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].rule, "lost-cancel");
  EXPECT_EQ(r.findings[0].subkind, "released-by-parent");
  EXPECT_NE(r.findings[0].message.find("created from an already-done parent"), std::string::npos);
}

// ---- blind-wait -----------------------------------------------------------

// Thread 2 ("waiter") runs under ctx 10, cancelled at 50 ms on main at handler.cpp:40.
void waiter_setup(TraceBuilder& b) {
  auto cs = b.site("handler.cpp", 40);
  b.ctx({.id = 10, .created_ns = 0, .site = b.site("handler.cpp", 30), .cancel_ns = 50 * ms,
         .cancel_reason = "explicit", .cancel_thread = 1, .cancel_site = cs, .cancel_called_ns = 50 * ms});
  b.thread({.id = 2, .name = "waiter", .ctx = 10, .spawn_ns = 1 * ms, .spawn_site = b.site("handler.cpp", 33),
            .exit_ns = 600 * ms});
}

TEST_F(Rules, BlindWaitStillBlockedAfterCancelIsReported) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.wait({.id = 100, .thread = 2, .object_id = 7, .label = "finished", .site = b.site("job.cpp", 12, "wait", 5),
            .begin_ns = 5 * ms, .end_ns = 500 * ms, .outcome = "value"});
  }
  auto r = analyze_path(path, {.blind_wait_grace_ns = 50 * ms, .late_exit_grace_ns = 10'000 * ms});
  auto v = of_rule(r, "blind-wait");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].site.line, 12);
  EXPECT_EQ(v[0].thread_name, "waiter");
  EXPECT_EQ(v[0].context, 10u);
  EXPECT_EQ(v[0].wait, 100u);
  EXPECT_NE(v[0].message.find("still blocked 450.0 ms after ctx#10 was cancelled at handler.cpp:40"),
            std::string::npos)
      << v[0].message;
  EXPECT_EQ(r.findings.size(), 1u);
}

TEST_F(Rules, CancelRacingTheWaitsEndIsNotBlind) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    // The value arrives 1 ms after the cancel: the receive did not ignore it.
    b.wait({.id = 100, .thread = 2, .begin_ns = 5 * ms, .end_ns = 51 * ms, .outcome = "value"});
    // Began after the cancel and ended within the grace: clean too.
    b.wait({.id = 101, .thread = 2, .begin_ns = 60 * ms, .end_ns = 61 * ms, .outcome = "value"});
  }
  EXPECT_TRUE(of_rule(analyze_path(path), "blind-wait").empty());
}

TEST_F(Rules, DeadlineExpiringWhileTheWaitEndsOnAValueIsNotBlind) {
  {
    TraceBuilder b(path, 1000 * ms);
    b.ctx({.id = 10, .kind = "timeout", .created_ns = 0, .cancel_ns = 100 * ms, .cancel_reason = "deadline",
           .cancel_called_ns = 120 * ms});
    b.thread({.id = 2, .name = "w", .ctx = 10, .spawn_ns = 0, .exit_ns = 101 * ms});
    b.wait({.id = 100, .thread = 2, .begin_ns = 10 * ms, .end_ns = 100 * ms + 500'000, .outcome = "value"});
  }
  EXPECT_TRUE(analyze_path(path).findings.empty());
}

TEST_F(Rules, WaitObservingItsContextIsNeverBlindEvenWhenWokenLate) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    // A child of the thread's context: cancellation reaches it.
    b.ctx({.id = 11, .parent = 10, .kind = "value", .created_ns = 2 * ms});
    // Woken 300 ms late by a loaded scheduler: still not blind, it observes ctx 10.
    b.wait({.id = 100, .thread = 2, .object = "select", .done_ctx = 11, .begin_ns = 5 * ms, .end_ns = 350 * ms,
            .outcome = "done"});
  }
  EXPECT_TRUE(of_rule(analyze_path(path), "blind-wait").empty());
}

TEST_F(Rules, WaitObservingAnUnrelatedContextIsBlind) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.ctx({.id = 20, .created_ns = 0, .cancel_ns = 900 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 900 * ms});
    // without_cancel below ctx 10: cancelling 10 does not reach 22.
    b.ctx({.id = 21, .parent = 10, .kind = "without_cancel", .created_ns = 1 * ms});
    b.ctx({.id = 22, .parent = 21, .created_ns = 1 * ms, .cancel_ns = 900 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 900 * ms});
    b.wait({.id = 100, .thread = 2, .object = "select", .done_ctx = 20, .site = b.site("x.cpp", 1),
            .begin_ns = 5 * ms, .end_ns = 400 * ms, .outcome = "value"});
    b.wait({.id = 101, .thread = 2, .object = "select", .done_ctx = 22, .site = b.site("x.cpp", 2),
            .begin_ns = 400 * ms, .end_ns = 590 * ms, .outcome = "value"});
  }
  auto v = of_rule(analyze_path(path), "blind-wait");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].site.line, 1);
  EXPECT_NE(v[0].message.find("observes only ctx#20"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[1].site.line, 2);
}

TEST_F(Rules, ThreadUnderAValueContextUsesItsAncestorsDone) {
  {
    TraceBuilder b(path, 1000 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 50 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 50 * ms});
    b.ctx({.id = 11, .parent = 10, .kind = "value", .created_ns = 0});
    b.thread({.id = 2, .name = "w", .ctx = 11, .spawn_ns = 0, .exit_ns = 400 * ms});
    b.wait({.id = 100, .thread = 2, .begin_ns = 1 * ms, .end_ns = 400 * ms, .outcome = "value"});
  }
  auto v = of_rule(analyze_path(path), "blind-wait");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].context, 10u);
}

TEST_F(Rules, SelectDefaultAndThreadsWithoutCancelableContextAreNeverBlind) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.wait({.id = 100, .thread = 2, .object = "select", .begin_ns = 60 * ms, .end_ns = 60 * ms,
            .outcome = "default"});
    b.thread({.id = 3, .name = "bg", .ctx = 1, .spawn_ns = 0, .exit_ns = 900 * ms});
    b.wait({.id = 101, .thread = 3, .begin_ns = 0, .end_ns = 900 * ms, .outcome = "value"});
  }
  EXPECT_TRUE(of_rule(analyze_path(path), "blind-wait").empty());
}

// ---- stuck-wait -----------------------------------------------------------

// A wait that never ended under a done context it does not observe is one
// defect: blind-wait (which says it is still blocked), not also stuck-wait
// (the catalogue: blind-wait supersedes stuck-wait).  Run alone, stuck-wait
// still reports it.
TEST_F(Rules, ABlindWaitThatNeverEndedIsOneBlindWaitFinding) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.exec("UPDATE threads SET exit_ns = NULL WHERE id = 2");
    b.wait({.id = 100, .thread = 2, .object = "chan_send", .object_id = 9, .label = "results",
            .site = b.site("first.cpp", 17), .begin_ns = 10 * ms});
  }
  auto r = analyze_path(path);
  EXPECT_TRUE(of_rule(r, "stuck-wait").empty());
  auto blind = of_rule(r, "blind-wait");
  ASSERT_EQ(blind.size(), 1u);
  EXPECT_EQ(blind[0].site.line, 17);
  EXPECT_NE(blind[0].message.find("still blocked at the end of the run"), std::string::npos) << blind[0].message;
  EXPECT_EQ(r.findings.size(), 1u);
  // Blocked at the end: reported as such, not as a late exit.
  EXPECT_TRUE(of_rule(r, "late-exit").empty());

  analysis::Options only_stuck;
  only_stuck.rules = {"stuck-wait"};
  auto s = analyze_path(path, only_stuck);
  auto stuck = of_rule(s, "stuck-wait");
  ASSERT_EQ(stuck.size(), 1u);
  EXPECT_NE(stuck[0].message.find("chan_send 'results' on thread 'waiter' is still blocked at the end of the run, "
                                   "990.0 ms after it began"),
            std::string::npos)
      << stuck[0].message;
}

// Codes are named as the file names them (its `enums` table), so a newer
// recorder's new code reads by its name in the messages and the stats.
TEST_F(Rules, AWaitObjectTheFileNamesIsReportedByTheFilesName) {
  {
    TraceBuilder b(path, 1000 * ms);
    b.exec("INSERT INTO enums(type, value, name) VALUES ('wait_object', 42, 'semaphore')");
    waiter_setup(b);
    b.exec("UPDATE threads SET exit_ns = NULL WHERE id = 2");
    b.wait({.id = 100, .thread = 2, .object_id = 9, .site = b.site("first.cpp", 17), .begin_ns = 10 * ms});
    b.exec("UPDATE waits SET object = 42 WHERE id = 100");
  }
  auto r = analyze_path(path);
  auto blind = of_rule(r, "blind-wait");
  ASSERT_EQ(blind.size(), 1u);
  EXPECT_EQ(blind[0].message.rfind("semaphore (object #9) on thread 'waiter'", 0), 0u) << blind[0].message;
  std::string err;
  auto reader = trace::TraceReader::open(path.string(), &err);
  ASSERT_TRUE(reader) << err;
  const auto st = analysis::compute_stats(reader->db());
  EXPECT_EQ(st.waits_by_object.count("semaphore"), 1u);
  EXPECT_EQ(analysis::TraceModel::load(reader->db()).name_of("wait_object", 42), "semaphore");
}

// ---- use-after-cancel -----------------------------------------------------

TEST_F(Rules, WaitOnAContextItsOwnThreadCancelledIsUseAfterCancel) {
  {
    TraceBuilder b(path, 1000 * ms);
    auto cs = b.site("client.cpp", 22);
    b.ctx({.id = 10, .kind = "timeout", .created_ns = 1 * ms, .site = b.site("client.cpp", 18),
           .cancel_ns = 10 * ms, .cancel_reason = "explicit", .cancel_thread = 1, .cancel_site = cs,
           .cancel_called_ns = 10 * ms});
    b.ctx({.id = 11, .parent = 10, .kind = "value", .created_ns = 2 * ms});
    auto rs = b.site("main.cpp", 50);
    // Two reads of the body at the same line: one finding.
    b.wait({.id = 100, .thread = 1, .label = "body", .done_ctx = 10, .site = rs, .begin_ns = 11 * ms,
            .end_ns = 11 * ms, .outcome = "done"});
    b.wait({.id = 101, .thread = 1, .label = "body", .done_ctx = 10, .site = rs, .begin_ns = 12 * ms,
            .end_ns = 12 * ms, .outcome = "done"});
    // Another thread seeing the cancel is the normal shutdown path.
    b.thread({.id = 2, .name = "worker", .ctx = 10, .spawn_ns = 1 * ms, .exit_ns = 11 * ms});
    b.wait({.id = 102, .thread = 2, .done_ctx = 10, .site = b.site("worker.cpp", 3), .begin_ns = 11 * ms,
            .end_ns = 11 * ms, .outcome = "done"});
  }
  auto v = of_rule(analyze_path(path), "use-after-cancel");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].site.file, "main.cpp");
  EXPECT_EQ(v[0].severity, Severity::warning);
  EXPECT_NE(v[0].message.find("chan_recv 'body' began under ctx#10, which this thread had already cancelled "
                               "1.0 ms earlier at client.cpp:22"),
            std::string::npos)
      << v[0].message;
  EXPECT_NE(v[0].message.find("(2 times)"), std::string::npos);
}

TEST_F(Rules, UseAfterCancelThroughAParentCancel) {
  {
    TraceBuilder b(path, 1000 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 10 * ms, .cancel_reason = "explicit", .cancel_thread = 1,
           .cancel_called_ns = 10 * ms});
    b.ctx({.id = 11, .parent = 10, .created_ns = 0, .cancel_ns = 10 * ms, .cancel_reason = "parent",
           .cancel_origin = 10, .cancel_thread = 1, .cancel_called_ns = 20 * ms});
    b.wait({.id = 100, .thread = 1, .done_ctx = 11, .begin_ns = 15 * ms, .end_ns = 15 * ms, .outcome = "done"});
    // Began before the cancel: an ordinary cancelled wait.
    b.wait({.id = 101, .thread = 1, .done_ctx = 11, .begin_ns = 5 * ms, .end_ns = 10 * ms, .outcome = "done"});
  }
  auto v = of_rule(analyze_path(path), "use-after-cancel");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].wait, 100u);
}

// ---- late-exit ------------------------------------------------------------

TEST_F(Rules, ThreadExitingLongAfterItsContextIsLate) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);  // exits at 600 ms, 550 ms after the cancel
    b.ctx({.id = 20, .created_ns = 0, .cancel_ns = 50 * ms, .cancel_reason = "explicit",
           .cancel_called_ns = 50 * ms});
    b.thread({.id = 3, .name = "prompt", .ctx = 20, .spawn_ns = 1 * ms, .exit_ns = 55 * ms});
  }
  auto v = of_rule(analyze_path(path), "late-exit");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].site.line, 33);  // the go() call
  EXPECT_EQ(v[0].thread_name, "waiter");
  EXPECT_NE(v[0].message.find("thread 'waiter' exited 550.0 ms after its context ctx#10 was cancelled at "
                               "handler.cpp:40 (grace 100.0 ms)"),
            std::string::npos)
      << v[0].message;
}

TEST_F(Rules, GracePeriodsAreOptions) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.wait({.id = 100, .thread = 2, .begin_ns = 5 * ms, .end_ns = 500 * ms, .outcome = "value"});
  }
  analysis::Options wide;
  wide.blind_wait_grace_ns = 1000 * ms;
  wide.late_exit_grace_ns = 1000 * ms;
  EXPECT_TRUE(analyze_path(path, wide).findings.empty());
  EXPECT_EQ(analyze_path(path).findings.size(), 2u);
}

// ---- the run ----------------------------------------------------------------

TEST_F(Rules, IncompleteRunIsAnalysedWithAWarning) {
  {
    TraceBuilder b(path, 300 * ms, /*complete=*/false);
    b.ctx({.id = 10, .created_ns = 0, .site = b.site("m.cpp", 1)});
  }
  auto r = analyze_path(path);
  EXPECT_FALSE(r.run.complete);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("ended abnormally"), std::string::npos);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].subkind, "leaked");
}

TEST_F(Rules, IgnoredRulesAreCountedAsSuppressed) {
  {
    TraceBuilder b(path, 1000 * ms);
    waiter_setup(b);
    b.wait({.id = 100, .thread = 2, .begin_ns = 5 * ms, .end_ns = 500 * ms, .outcome = "value"});
  }
  analysis::Options o;
  o.ignore = {"blind-wait"};
  auto r = analyze_path(path, o);
  EXPECT_TRUE(of_rule(r, "blind-wait").empty());
  EXPECT_EQ(r.suppressed, 1u);
  EXPECT_EQ(r.suppressed_by_rule["blind-wait"], 1u);
}

TEST_F(Rules, StacksAreAttachedWhenRecorded) {
  {
    TraceBuilder b(path, 100 * ms);
    auto st = b.stack({"leak()", "main"});
    b.ctx({.id = 10, .created_ns = 0, .site = b.site("m.cpp", 1), .dropped_ns = 1 * ms, .stack = st});
  }
  auto r = analyze_path(path);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].stack, (std::vector<std::string>{"leak()", "main"}));
}

// Options::cancel: set before, nothing runs; set while the first rule runs,
// the rule's own query is interrupted (no later rule starts), and analyze()
// throws AnalysisCancelled rather than returning part of a report.
TEST_F(Rules, CancellingStopsTheRulesInsideTheirQueries) {
  {
    TraceBuilder b(path, 1000 * ms);
    auto s = b.site("src/many.cpp", 7, "void many()", 3);
    b.exec("BEGIN");
    for (std::int64_t i = 0; i < 3000; ++i)
      b.ctx({.id = 10 + i, .kind = "cancel", .created_ns = 1 * ms, .site = s, .dropped_ns = 2 * ms});
    b.exec("COMMIT");
  }
  std::atomic<bool> cancel{true};
  analysis::Options o;
  o.cancel = &cancel;
  EXPECT_THROW(analyze_path(path, o), analysis::AnalysisCancelled);

  cancel = false;
  std::vector<std::string> started;
  Report r;
  std::string err;
  EXPECT_THROW(analysis::analyze_file(path.string(), o, r, &err,
                                      [&](std::string_view what, int step, int) {
                                        started.emplace_back(what);
                                        if (step == 1) cancel = true;  // as the first rule begins
                                      }),
               analysis::AnalysisCancelled);
  ASSERT_EQ(started.size(), 2u) << "no rule after the first may start: 'preparing', then the first rule";
  cancel = false;
  EXPECT_EQ(of_rule(analyze_path(path, o), "lost-cancel").size(), 3000u) << "uncancelled, the same options run whole";
}

// A chain of 5,000 contexts, none cancelled: 5,000 lost-cancel findings.  Each
// finding's ancestry is the root and the 31 contexts nearest it, with the
// number left out between — the report grows with the findings, not with
// findings × depth (it was quadratic: such a trace took minutes).
TEST_F(Rules, AVeryDeepChainKeepsEachAncestryShortAndSaysHowManyAreLeftOut) {
  constexpr std::int64_t kDepth = 5000;
  {
    TraceBuilder b(path, 1000 * ms);
    auto s = b.site("src/deep.cpp", 9, "void nest()", 5);
    b.exec("BEGIN");
    for (std::int64_t i = 0; i < kDepth; ++i)
      b.ctx({.id = 10 + i, .parent = i == 0 ? 1 : 9 + i, .kind = "cancel", .created_ns = 1 * ms + i, .site = s,
             .registered = 1});
    b.exec("COMMIT");
  }
  const auto r = analyze_path(path);
  const auto lost = of_rule(r, "lost-cancel");
  ASSERT_EQ(lost.size(), static_cast<std::size_t>(kDepth));
  const auto by_ctx = [&](std::uint64_t id) {
    auto it = std::find_if(lost.begin(), lost.end(), [&](const Finding& f) { return f.context == id; });
    EXPECT_NE(it, lost.end()) << id;
    return *it;
  };
  // ctx#10 is depth 1 (root background, then it); ctx#(9+d) is depth d.
  const Finding shallow = by_ctx(10), edge = by_ctx(9 + 31), first_cut = by_ctx(9 + 32), deepest = by_ctx(9 + kDepth);
  EXPECT_EQ(shallow.ancestry.size(), 2u);
  EXPECT_EQ(shallow.ancestry_elided, 0u);
  EXPECT_EQ(edge.ancestry.size(), analysis::kAncestryKept);
  EXPECT_EQ(edge.ancestry_elided, 0u);
  EXPECT_EQ(first_cut.ancestry.size(), analysis::kAncestryKept);
  EXPECT_EQ(first_cut.ancestry_elided, 1u);
  EXPECT_EQ(first_cut.ancestry[1].context, 11u) << "depth 1 (ctx#10) is the one left out";
  ASSERT_EQ(deepest.ancestry.size(), analysis::kAncestryKept);
  EXPECT_EQ(deepest.ancestry.front().context, 1u);
  EXPECT_EQ(deepest.ancestry.front().kind, "background");
  EXPECT_EQ(deepest.ancestry.back().context, static_cast<std::uint64_t>(9 + kDepth));
  EXPECT_EQ(deepest.ancestry[1].context, static_cast<std::uint64_t>(9 + kDepth - 30));
  EXPECT_EQ(deepest.ancestry_elided, static_cast<std::uint64_t>(kDepth - 31));
  const std::string text = analysis::finding_to_text(deepest);
  EXPECT_NE(text.find("ctx#1 background → … 4969 more … → ctx#" + std::to_string(9 + kDepth - 30)), std::string::npos)
      << text;
}

TEST(RuleSql, EveryRuleIsCompiledInOnceInCatalogueOrder) {
  auto rules = analysis::rule_sql();
  ASSERT_EQ(rules.size(), std::size(analysis::kRules));
  for (std::size_t i = 0; i < rules.size(); ++i) {
    EXPECT_EQ(rules[i].id, analysis::kRules[i]);
    EXPECT_NE(rules[i].sql.find("SELECT"), std::string_view::npos);
  }
  EXPECT_NE(analysis::prelude_sql().find("thread_ctx"), std::string_view::npos);
}

// The rules compare enumeration codes and name each one in a comment
// ("kind = 7 /* value */"): every such pair must be a code of that name in the
// trace's enumerations (table `enums`), and no rule compares names as text.
TEST(RuleSql, EnumerationCodesMatchTheirCommentedNames) {
  const auto values = trace::schema::enum_values();
  const std::regex pair(R"((-?\d+) /\* (\w+) \*/)");
  std::vector<std::pair<std::string, std::string_view>> sqls = {{"prelude", analysis::prelude_sql()}};
  for (const auto& r : analysis::rule_sql()) sqls.push_back({std::string(r.id), r.sql});
  int pairs = 0;
  for (const auto& [id, sql] : sqls) {
    const std::string text(sql);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pair); it != std::sregex_iterator(); ++it) {
      ++pairs;
      const int code = std::stoi((*it)[1]);
      const std::string name = (*it)[2];
      EXPECT_TRUE(std::any_of(values.begin(), values.end(),
                              [&](const auto& v) { return v.value == code && v.name == name; }))
          << id << ": " << it->str() << " is not a code of that name";
    }
    for (const char* old : {"'cancel'", "'value'", "'explicit'", "'parent'", "'born_done'", "'done'", "'default'",
                            "'without_cancel'", "'deadline'"})
      EXPECT_EQ(text.find(std::string("= ") + old), std::string::npos) << id << " compares a name: " << old;
  }
  EXPECT_GT(pairs, 10);
}

}  // namespace
}  // namespace ctxscope::testing

namespace ctxscope::testing {
namespace {

TEST_F(Rules, UseAfterCancelThroughValueAndBornDoneContexts) {
  {
    TraceBuilder b(path, 1000 * ms);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 10 * ms, .cancel_reason = "explicit", .cancel_thread = 1,
           .cancel_called_ns = 10 * ms});
    // A value context shares ctx 10's done; a child created after the cancel is born done.
    b.ctx({.id = 11, .parent = 10, .kind = "value", .created_ns = 1 * ms});
    b.ctx({.id = 12, .parent = 11, .created_ns = 12 * ms, .cancel_ns = 12 * ms, .cancel_reason = "born_done",
           .cancel_called_ns = 20 * ms});
    b.wait({.id = 100, .thread = 1, .done_ctx = 11, .site = b.site("a.cpp", 1), .begin_ns = 11 * ms,
            .end_ns = 11 * ms, .outcome = "done"});
    b.wait({.id = 101, .thread = 1, .done_ctx = 12, .site = b.site("a.cpp", 2), .begin_ns = 13 * ms,
            .end_ns = 13 * ms, .outcome = "done"});
  }
  auto v = of_rule(analyze_path(path), "use-after-cancel");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].site.line, 1);
  EXPECT_NE(v[0].message.find("(through ancestor ctx#10)"), std::string::npos) << v[0].message;
  EXPECT_EQ(v[1].site.line, 2);
}

}  // namespace
}  // namespace ctxscope::testing
