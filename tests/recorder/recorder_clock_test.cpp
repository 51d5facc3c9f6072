// Event timestamps: the TSC event clock converts to CLOCK_MONOTONIC nanoseconds
// (TimeMap), the file holds the right nanoseconds with either clock, and each
// thread's timestamps never go backwards across drain passes.  Also: rings of
// exited threads are reused without losing or mixing events.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "ctxscope/context.hpp"
#include "recorder/recorder_test_util.hpp"
#include "recorder/time_map.hpp"

namespace ctxscope {
namespace {

using rectest::q_int;

// Restores the process's event clock after a test that sets it.
struct ClockGuard {
  bool saved = detail::g_event_clock_tsc.load();
  ~ClockGuard() { detail::g_event_clock_tsc.store(saved); }
};

TEST(TimeMap, IdentityForTheMonotonicClock) {
  ClockGuard g;
  detail::g_event_clock_tsc.store(false);
  trace::detail::TimeMap m;
  m.reset(false);
  m.anchor();
  EXPECT_EQ(m.to_ns(123456789), 123456789u);
}

// A TSC reading taken between two clock_gettime reads converts to a time
// between them (within the anchors' sampling error), and a sequence of readings
// converts to a non-decreasing sequence even as anchors are added in between.
TEST(TimeMap, TscReadingsConvertToTheMonotonicTimeAroundThem) {
  if (!detail::tsc_event_clock_supported()) GTEST_SKIP() << "the kernel's clocksource is not the TSC";
  ClockGuard g;
  detail::g_event_clock_tsc.store(true);
  trace::detail::TimeMap m;
  m.reset(true);
  struct Reading {
    std::uint64_t before, ticks, after;
  };
  std::vector<Reading> rs;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t b = detail::now_ns();
    const std::uint64_t t = detail::event_clock();
    const std::uint64_t a = detail::now_ns();
    rs.push_back({b, t, a});
    if (i % 100 == 99) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      m.anchor();  // as a drain pass: after the readings it will convert
    }
  }
  m.anchor();
  // Generous bound: anchors are sampled in windows of ~1.5 us, retaken when
  // preempted; a misread clock (ticks taken as ns) is off by seconds.
  constexpr std::uint64_t kSlackNs = 100'000;
  std::uint64_t prev = 0;
  for (const Reading& r : rs) {
    const std::uint64_t ns = m.to_ns(r.ticks);
    EXPECT_GE(ns + kSlackNs, r.before);
    EXPECT_LE(ns, r.after + kSlackNs);
    EXPECT_GE(ns, prev) << "conversion went backwards";
    prev = ns;
  }
  EXPECT_GT(m.ns_per_tick(), 0.01);
  EXPECT_LT(m.ns_per_tick(), 100.0);
}

// A reading older than every anchor (an event stamped long before the pass that
// drains it) extrapolates with the whole history's slope, still within bounds.
TEST(TimeMap, ReadingsBeforeTheFirstAnchorExtrapolate) {
  if (!detail::tsc_event_clock_supported()) GTEST_SKIP() << "the kernel's clocksource is not the TSC";
  ClockGuard g;
  detail::g_event_clock_tsc.store(true);
  const std::uint64_t b = detail::now_ns();
  const std::uint64_t t = detail::event_clock();
  const std::uint64_t a = detail::now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  trace::detail::TimeMap m;
  m.reset(true);
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    m.anchor();
  }
  const std::uint64_t ns = m.to_ns(t);
  EXPECT_GE(ns + 100'000, b);
  EXPECT_LE(ns, a + 100'000);
}

class RecorderClock : public ::testing::TestWithParam<bool> {};

// With either clock, the file's times are the CLOCK_MONOTONIC times at which the
// runtime did the work; with the monotonic clock exactly within the bounds.
TEST_P(RecorderClock, FileTimesAreTheMonotonicTimesOfTheOperations) {
  const bool fast = GetParam();
  if (fast && !detail::tsc_event_clock_supported()) GTEST_SKIP() << "the kernel's clocksource is not the TSC";
  ClockGuard g;
  const std::string path = rectest::temp_trace(fast ? "clock-tsc" : "clock-mono");
  trace::Options o;
  o.fast_clock = fast;
  std::string err;
  ASSERT_TRUE(trace::start(path, o, &err)) << err;
  std::vector<std::uint64_t> ids;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> bounds;
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t b = detail::now_ns();
    auto [c, cancel] = with_cancel(background());
    const std::uint64_t a = detail::now_ns();
    cancel();
    ids.push_back(c.id());
    bounds.emplace_back(b, a);
    if (i % 50 == 49) trace::flush();  // several drain passes, several anchors
  }
  trace::stop();
  auto r = rectest::must_open(path);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run().clock, fast ? "CLOCK_MONOTONIC (TSC)" : "CLOCK_MONOTONIC");
  const auto start = static_cast<std::uint64_t>(r->run().start_steady_ns);
  const std::uint64_t slack = fast ? 100'000 : 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto created = q_int(r->db(), "SELECT created_ns FROM contexts WHERE id=" + std::to_string(ids[i]));
    ASSERT_TRUE(created) << ids[i];
    const std::uint64_t abs = start + static_cast<std::uint64_t>(*created);
    EXPECT_GE(abs + slack, bounds[i].first) << i;
    EXPECT_LE(abs, bounds[i].second + slack) << i;
  }
}

// Each thread's events, in the order it emitted them, have non-decreasing times,
// across many drain passes (each pass takes a new clock anchor).
TEST_P(RecorderClock, EachThreadsTimesNeverGoBackwards) {
  const bool fast = GetParam();
  if (fast && !detail::tsc_event_clock_supported()) GTEST_SKIP() << "the kernel's clocksource is not the TSC";
  ClockGuard g;
  const std::string path = rectest::temp_trace("clock-order");
  trace::Options o;
  o.fast_clock = fast;
  std::string err;
  ASSERT_TRUE(trace::start(path, o, &err)) << err;
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([] {
      for (int i = 0; i < 3000; ++i) {
        auto [c, cancel] = with_cancel(background());
        cancel();
      }
    });
  for (int i = 0; i < 20; ++i) trace::flush();
  for (auto& t : ts) t.join();
  trace::stop();
  auto r = rectest::must_open(path);
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM (SELECT t_ns, LAG(t_ns) OVER (PARTITION BY thread ORDER BY seq) AS p "
                           "FROM events) WHERE t_ns < p"),
            0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE type IN (1, 2)"), 3 * 3000 * 2);
}

INSTANTIATE_TEST_SUITE_P(Clocks, RecorderClock, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Tsc") : std::string("Monotonic"); });

// Threads that exit hand their (drained) rings to later threads: every event of
// every generation arrives once, attributed to the thread that emitted it.
TEST(RecorderRings, RingsOfExitedThreadsAreReusedWithoutLoss) {
  const std::string path = rectest::temp_trace("ring-reuse");
  std::string err;
  ASSERT_TRUE(trace::start(path, {}, &err)) << err;
  constexpr int kGenerations = 6, kThreads = 8, kContexts = 200;
  for (int gen = 0; gen < kGenerations; ++gen) {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([] {
        for (int i = 0; i < kContexts; ++i) {
          auto [c, cancel] = with_cancel(background());
          cancel();
        }
      });
    for (auto& t : ts) t.join();
    trace::flush();  // a pass after the exits: the rings go back to the pool
  }
  trace::stop();
  auto r = rectest::must_open(path);
  ASSERT_TRUE(r);
  // Each context (a child of background: never registered, so no release): one
  // create and one cancel, both by one thread.
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM contexts WHERE id > 2"), kGenerations * kThreads * kContexts);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM (SELECT id FROM events WHERE type IN (1,2) GROUP BY id "
                           "HAVING count(*) != 2 OR count(DISTINCT thread) != 1)"),
            0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(DISTINCT thread) FROM events WHERE type = 1"), kGenerations * kThreads);
}

}  // namespace
}  // namespace ctxscope
