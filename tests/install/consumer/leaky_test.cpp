// A GoogleTest suite on the installed ctxscope::gtest_main: Leaky.Test fails.
#include <gtest/gtest.h>
#include <ctxscope/context.hpp>

TEST(Clean, Test) {
  auto [ctx, cancel] = ctxscope::with_cancel(ctxscope::background());
  cancel();
}
TEST(Leaky, Test) {
  auto [ctx, cancel] = ctxscope::with_cancel(ctxscope::background());
  (void)ctx;
}
