// The probe's meta-test suite: tests that leak in each way the probe knows and
// clean ones around them.  Built with ctxscope::gtest_main and run by
// tests/probe/probe_test.cpp, which asserts exactly which tests fail, with
// which rule and at which line (the `// LEAK(rule)` markers below).  Not a
// CTest suite of its own: half of it is meant to fail.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"

using namespace ctxscope;

namespace {
CancelFunc g_held;  // keeps a cancel alive, uncalled, past its test

// A plain (non-ctxscope) block: a thread parked here is neither in a ctxscope
// wait nor exited.  Never destroyed (glibc's condition-variable destructor
// waits for its waiters: exit would hang).
std::mutex& g_park_mu = *new std::mutex;
std::condition_variable& g_park_cv = *new std::condition_variable;
void park_forever() {
  std::unique_lock lk(g_park_mu);
  g_park_cv.wait(lk, [] { return false; });
}

void IgnoredHelper() {
  auto [ctx, cancel] = with_cancel(background());  // LEAK(ignored)
  (void)ctx;
}
}  // namespace

TEST(Leaky, DroppedCancel) {
  auto [ctx, cancel] = with_cancel(background());  // LEAK(lost-cancel)
  (void)ctx;
}

TEST(Leaky, HeldButUncalledCancel) {
  auto [ctx, cancel] = with_timeout(background(), std::chrono::hours(1));  // LEAK(lost-cancel)
  (void)ctx;
  g_held = cancel;
}

TEST(Leaky, BlindReceive) {
  auto [ctx, cancel] = with_cancel(background());
  auto _ = defer(cancel);
  Chan<int> never;
  go(ctx, "blind-receiver", [never]() mutable {
    (void)never.recv();  // LEAK(blind-wait)
  });
}

TEST(Clean, AfterALeakyOneWhoseThreadIsStillBlocked) {
  auto [ctx, cancel] = with_cancel(background());
  auto _ = defer(cancel);
  Chan<int> ch(1);
  ch.send(ctx, 1);
  EXPECT_TRUE(ch.recv(ctx).value.has_value());
}

TEST(Clean, ThreadExitsShortlyAfterTheTest) {
  auto [ctx, cancel] = with_cancel(background());
  go(ctx, "exits-on-cancel", [ctx = ctx] { (void)ctx.done().wait(); });
  cancel();  // the thread wakes and exits after the test ended: within the budget
}

TEST(Leaky, ThreadStillRunning) {
  go(background(), "parked", [] { park_forever(); });  // LEAK(late-exit)
}

TEST(Leaky, IgnoredByFunction) { IgnoredHelper(); }

class WorkerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [c, cancel] = with_cancel(background());
    ctx_ = c;
    cancel_ = cancel;
    Chan<int> jobs = jobs_;
    go(ctx_, "fixture-worker", [jobs]() mutable {
      while (jobs.recv()) {  // LEAK(blind-wait)
      }
    });
  }
  void TearDown() override { cancel_(); }
  Context ctx_;
  CancelFunc cancel_;
  Chan<int> jobs_;
};

TEST_F(WorkerFixture, WorkerIgnoresTheFixturesContext) { jobs_.send(ctx_, 1); }

class CleanFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [c, cancel] = with_cancel(background());
    ctx_ = c;
    cancel_ = cancel;
  }
  void TearDown() override { cancel_(); }
  Context ctx_;
  CancelFunc cancel_;
};

TEST_F(CleanFixture, CancelledInTearDown) { EXPECT_FALSE(ctx_.err()); }

TEST(Clean, FailsOnItsOwnAndLeaksNothing) {
  if (std::getenv("CTXSCOPE_META_FAIL")) ADD_FAILURE() << "the test's own failure";
  auto [ctx, cancel] = with_cancel(background());
  cancel();
}

TEST(Leaky, FailsOnItsOwnAndLeaks) {
  if (std::getenv("CTXSCOPE_META_FAIL")) ADD_FAILURE() << "the test's own failure";
  auto [ctx, cancel] = with_cancel(background());  // LEAK(lost-cancel)
  (void)ctx;
}

class SuiteOwned : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto [c, cancel] = with_cancel(background());  // LEAK(suite-lost-cancel)
    suite_ctx_ = new Context(c);
    suite_cancel_ = new CancelFunc(cancel);
  }
  static void TearDownTestSuite() {}  // forgets to call *suite_cancel_
  static Context* suite_ctx_;
  static CancelFunc* suite_cancel_;
};
Context* SuiteOwned::suite_ctx_ = nullptr;
CancelFunc* SuiteOwned::suite_cancel_ = nullptr;

TEST_F(SuiteOwned, UsesTheSuiteContext) {
  auto [ctx, cancel] = with_cancel(*suite_ctx_);
  cancel();
}
