// after_func (Go's AfterFunc tests) and stop_token() interop with the standard
// library's cooperative cancellation (std::jthread, condition_variable_any).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <source_location>
#include <stop_token>
#include <string_view>
#include <thread>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"
#include "runtime/tree_probe.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::recv_bounded;

// ------------------------------------------------------------ after_func

TEST(AfterFunc, RunsOnceOnItsOwnThreadAfterCancel) {
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::thread::id> ran(4);
  std::atomic<int> runs{0};
  StopFunc stop = after_func(ctx, [&] {
    runs.fetch_add(1);
    ran.send(std::this_thread::get_id());
  });
  EXPECT_EQ(ran.try_recv(), std::nullopt);  // not before cancel
  cancel();
  cancel();
  auto who = recv_bounded(ran);
  ASSERT_TRUE(who.has_value());
  EXPECT_NE(*who, std::this_thread::get_id());  // not on the cancelling thread
  EXPECT_FALSE(stop());  // already started
  // A second callback registered now runs at once; by the time it has run,
  // a second run of the first (if any) would have had its chance too.
  Chan<int> second(1);
  (void)after_func(ctx, [&] { second.send(1); });
  EXPECT_EQ(recv_bounded(second), 1);
  EXPECT_EQ(runs.load(), 1);
}

// Traced, an after_func thread is announced like a go() thread: spawned by the
// cancelling thread under the context it waited on, at the after_func call, and
// its exit once f has returned.
TEST(AfterFunc, ThreadIsAnnouncedWithSpawnAndExit) {
  ctxscope::testing::ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::uint64_t> ran(1);
  const unsigned line = std::source_location::current().line() + 1;
  StopFunc stop = after_func(ctx, [&] { ran.send(detail::current_thread_id()); });
  cancel();
  auto tid = recv_bounded(ran);
  ASSERT_TRUE(tid.has_value());
  const Event spawn = rec.only(EventType::thread_spawn, *tid);
  EXPECT_EQ(spawn.ref, ctx.id());
  EXPECT_EQ(spawn.value, detail::current_thread_id());
  EXPECT_STREQ(spawn.text, "after_func");
  EXPECT_EQ(spawn.site.line(), line);
  EXPECT_TRUE(std::string_view(spawn.site.file_name()).ends_with("context_callbacks_test.cpp"));
  EXPECT_TRUE(rec.wait_until([&](const Event& e) { return e.type == EventType::thread_exit && e.id == *tid; }));
  (void)stop;
}

TEST(AfterFunc, RunsWhenAnAncestorIsCancelled) {
  auto [parent, cancel] = with_cancel(background());
  static const Key<int> k("k");
  auto [child, cc] = with_timeout(with_value(parent, k, 1), 1h);
  Chan<int> ran(1);
  (void)after_func(child, [&] { ran.send(1); });
  cancel();
  EXPECT_EQ(recv_bounded(ran), 1);
}

TEST(AfterFunc, RunsWhenTheDeadlineFires) {
  auto [ctx, cancel] = with_timeout(background(), 5ms);
  Chan<std::error_code> ran(1);
  (void)after_func(ctx, [&, c = ctx] { ran.send(c.err()); });
  EXPECT_EQ(recv_bounded(ran), std::optional<std::error_code>(errc::deadline_exceeded));
}

TEST(AfterFunc, StopBeforeCancelPreventsIt) {
  auto [ctx, cancel] = with_cancel(background());
  std::atomic<bool> ran{false};
  StopFunc stop = after_func(ctx, [&] { ran = true; });
  EXPECT_EQ(ctxscope::testing::listeners(ctx), 1u);
  EXPECT_TRUE(stop());
  EXPECT_FALSE(stop());  // stopping twice reports false, as Go does
  cancel();
  // Fences the check: a callback registered after cancel runs at once.
  Chan<int> later(1);
  (void)after_func(ctx, [&] { later.send(1); });
  EXPECT_EQ(recv_bounded(later), 1);
  EXPECT_FALSE(ran.load());
}

TEST(AfterFunc, StopAfterItStartedReturnsFalse) {
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> started, release;
  StopFunc stop = after_func(ctx, [&] {
    started.send(1);
    release.recv();
  });
  cancel();
  EXPECT_EQ(recv_bounded(started), 1);
  EXPECT_FALSE(stop());
  release.send(1);
}

TEST(AfterFunc, OnAnAlreadyDoneContextRunsAtOnce) {
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  Chan<std::thread::id> ran(1);
  StopFunc stop = after_func(ctx, [&] { ran.send(std::this_thread::get_id()); });
  auto who = recv_bounded(ran);
  ASSERT_TRUE(who.has_value());
  EXPECT_NE(*who, std::this_thread::get_id());
  EXPECT_FALSE(stop());
}

TEST(AfterFunc, OnANeverDoneContextNeverRunsAndStopSucceeds) {
  std::atomic<bool> ran{false};
  StopFunc stop = after_func(background(), [&] { ran = true; });
  EXPECT_TRUE(stop());
  EXPECT_FALSE(ran.load());
}

TEST(AfterFunc, OnWithoutCancelOfACancelledParentNeverRuns) {
  auto [ctx, cancel] = with_cancel(background());
  std::atomic<bool> ran{false};
  StopFunc stop = after_func(without_cancel(ctx), [&] { ran = true; });
  cancel();
  EXPECT_TRUE(stop());  // still pending: it can never run
  EXPECT_FALSE(ran.load());
}

TEST(AfterFunc, ManyCallbacksEachRunOnce) {
  auto [ctx, cancel] = with_cancel(background());
  constexpr int kN = 20;
  Chan<int> ran(kN);
  std::vector<StopFunc> stops;
  for (int i = 0; i < kN; ++i) stops.push_back(after_func(ctx, [&, i] { ran.send(i); }));
  cancel();
  std::vector<int> seen(kN, 0);
  for (int i = 0; i < kN; ++i) {
    auto v = recv_bounded(ran);
    ASSERT_TRUE(v.has_value());
    ++seen[static_cast<std::size_t>(*v)];
  }
  for (int i = 0; i < kN; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], 1) << i;
}

// ------------------------------------------------------------ stop_token

TEST(StopToken, FiresWithDone) {
  auto [ctx, cancel] = with_cancel(background());
  std::stop_token tok = ctx.stop_token();
  EXPECT_TRUE(tok.stop_possible());
  EXPECT_FALSE(tok.stop_requested());
  std::atomic<int> calls{0};
  std::stop_callback cb(tok, [&] { calls.fetch_add(1); });
  cancel();
  EXPECT_TRUE(tok.stop_requested());
  EXPECT_EQ(calls.load(), 1);  // stop callbacks run on the cancelling thread, before cancel returns
}

TEST(StopToken, FiresWhenAnAncestorIsCancelledOrTheDeadlineFires) {
  auto [parent, cancel] = with_cancel(background());
  static const Key<int> k("k");
  Context v = with_value(parent, k, 1);
  std::stop_token tok = v.stop_token();
  cancel();
  EXPECT_TRUE(tok.stop_requested());

  auto [timed, tc] = with_timeout(background(), 5ms);
  std::stop_token t2 = timed.stop_token();
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lk(m);
  EXPECT_FALSE(cv.wait(lk, t2, [] { return false; }));  // returns only on stop
  EXPECT_EQ(timed.err(), errc::deadline_exceeded);
}

TEST(StopToken, OfADoneContextIsAlreadyStopped) {
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  std::stop_token tok = ctx.stop_token();
  EXPECT_TRUE(tok.stop_requested());
  bool ran = false;
  std::stop_callback cb(tok, [&] { ran = true; });
  EXPECT_TRUE(ran);  // registered on a stopped token: runs at once
}

TEST(StopToken, TokensOfOneContextShareOneSource) {
  auto [ctx, cancel] = with_cancel(background());
  EXPECT_EQ(ctx.stop_token(), ctx.stop_token());
  EXPECT_EQ(ctxscope::testing::listeners(ctx), 1u);  // one stop listener, not one per call
}

TEST(StopToken, WakesAConditionVariableAnyWait) {
  auto [ctx, cancel] = with_cancel(background());
  std::mutex m;
  std::condition_variable_any cv;
  bool ready = false;
  Chan<bool> result(1);
  std::thread t([&, ctx = ctx] {
    std::unique_lock lk(m);
    result.send(cv.wait(lk, ctx.stop_token(), [&] { return ready; }));
  });
  // No event announces "blocked in cv.wait"; cancelling before or after it
  // blocks must both end the wait with pred false.
  cancel();
  EXPECT_EQ(recv_bounded(result), std::optional<bool>(false));
  t.join();
}

TEST(StopToken, StopsAStdJthreadLoop) {
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> started(1), stopped(1);
  std::jthread worker([tok = ctx.stop_token(), &started, &stopped] {
    started.send(1);
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lk(m);
    while (!tok.stop_requested()) cv.wait(lk, tok, [] { return false; });
    stopped.send(1);
  });
  EXPECT_EQ(recv_bounded(started), 1);
  cancel();
  EXPECT_EQ(recv_bounded(stopped), 1);
}

TEST(StopToken, JthreadStopCallbackCanCancelAContext) {
  // The reverse direction: a jthread's own stop request cancels a context.
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::error_code> seen(1);
  std::jthread worker([ctx = ctx, cancel = cancel, &seen](std::stop_token st) {
    std::stop_callback cb(st, [&] { cancel(); });
    seen.send(ctx.done().wait());
  });
  worker.request_stop();
  EXPECT_EQ(recv_bounded(seen), std::optional<std::error_code>(errc::canceled));
}

TEST(StopToken, NeverDoneContextsHaveNoStopPossible) {
  EXPECT_FALSE(background().stop_token().stop_possible());
  EXPECT_FALSE(todo().stop_token().stop_possible());
  static const Key<int> k("k");
  EXPECT_FALSE(with_value(background(), k, 1).stop_token().stop_possible());
  auto [ctx, cancel] = with_cancel(background());
  EXPECT_FALSE(without_cancel(ctx).stop_token().stop_possible());
}
