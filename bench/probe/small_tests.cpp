// A suite of N small tests (CTXSCOPE_BENCH_TESTS, default 1000), each deriving
// and cancelling contexts and starting and joining a go() thread: the
// workload of the probe's overhead target.  Built twice by bench/probe: with
// GoogleTest's main (plain) and with ctxscope::gtest_main (probe).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"

namespace {
class Small : public ::testing::Test {
 public:
  void TestBody() override {
    using namespace ctxscope;
    auto [ctx, cancel] = with_cancel(background());
    auto _ = defer(cancel);
    auto [child, child_cancel] = with_timeout(ctx, std::chrono::seconds(5));
    WaitGroup wg;
    wg.add(1);
    go(child, "worker", [wg, child = child]() mutable {
      auto [leaf, leaf_cancel] = with_cancel(child);
      leaf_cancel();
      wg.done();
    });
    wg.wait();
    child_cancel();
  }
};

const int kRegistered = [] {
  const char* n = std::getenv("CTXSCOPE_BENCH_TESTS");
  const int tests = n ? std::atoi(n) : 1000;
  for (int i = 0; i < tests; ++i)
    ::testing::RegisterTest("Small", ("t" + std::to_string(i)).c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            []() -> ::testing::Test* { return new Small; });
  return tests;
}();
}  // namespace

#ifdef CTXSCOPE_BENCH_PROBE
#include <chrono>
#include <cstdio>

#include "ctxscope/probe.hpp"
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
#ifdef CTXSCOPE_BENCH_PROBE
  ctxscope::probe::install_gtest_listener();
#endif
  const int rc = RUN_ALL_TESTS();
#ifdef CTXSCOPE_BENCH_PROBE
  const auto s = ctxscope::probe::stats();
  std::fprintf(stderr, "probe: %llu checks, %llu clean at once, %llu waited, %llu analysed, %.2f us per check\n",
               static_cast<unsigned long long>(s.checked), static_cast<unsigned long long>(s.clean_fast),
               static_cast<unsigned long long>(s.waited), static_cast<unsigned long long>(s.analysed),
               s.checked ? static_cast<double>(s.check_ns) / 1e3 / static_cast<double>(s.checked) : 0.0);
#endif
  return rc;
}
