// A clean suite registered with CTest through ctxscope_add_leak_checks(): it
// must pass under the probe — fixtures that cancel in TearDown, workers that
// exit on cancel just after the test, an errgroup, a death test (its child is
// not checked; the parent is).
#include <gtest/gtest.h>

#include <cstdlib>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"

using namespace ctxscope;

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [c, cancel] = with_cancel(background());
    ctx_ = c;
    cancel_ = cancel;
    Chan<int> jobs = jobs_;
    go(ctx_, "service-worker", [ctx = ctx_, jobs]() mutable {
      for (;;) {
        auto r = jobs.recv(ctx);
        if (r.err || !r.ok()) return;
      }
    });
  }
  void TearDown() override { cancel_(); }
  Context ctx_;
  CancelFunc cancel_;
  Chan<int> jobs_{4};
};

TEST_F(Service, HandlesAJob) { EXPECT_FALSE(jobs_.send(ctx_, 1)); }
TEST_F(Service, HandlesNothing) {}

TEST(CleanGroup, FirstErrorCancelsTheRest) {
  auto [g, gctx] = Group::with_context(background());
  g.go([gctx = gctx]() -> std::error_code { return gctx.done().wait(); });
  g.go([]() -> std::error_code { return std::make_error_code(std::errc::io_error); });
  EXPECT_TRUE(g.wait());
}

[[noreturn]] void leak_and_die() {
  auto [ctx, cancel] = with_cancel(background());
  (void)ctx;
  std::abort();
}

TEST(CleanDeath, ADeathTestsChildIsNotChecked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(leak_and_die(), "");
}
