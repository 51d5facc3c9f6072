// go(), errgroup (Group, ported from golang.org/x/sync/errgroup's tests),
// WaitGroup and sleep_for.
#include <gtest/gtest.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::await_done;
using ctxscope::testing::recv_bounded;
using ctxscope::testing::ScopedRecorder;
using ctxscope::testing::wait_bounded;

namespace {
std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }
std::error_code err_a() { return std::make_error_code(std::errc::connection_refused); }
std::error_code err_b() { return std::make_error_code(std::errc::host_unreachable); }
}  // namespace

// -------------------------------------------------------------------- go

TEST(Go, RunsOnANamedThreadUnderTheGivenContext) {
  static const Key<std::string> k("who");
  Context ctx = with_value(background(), k, std::string("alice"));
  Chan<std::string> name(1);
  Chan<bool> same_ctx(1);
  Chan<std::string> value(1);
  go(ctx, "fetcher", [&, ctx] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name.send(buf);
    same_ctx.send(current_context() == ctx);
    value.send(*current_context().value(k));
  });
  EXPECT_EQ(recv_bounded(name), "fetcher");
  EXPECT_EQ(recv_bounded(same_ctx), true);
  EXPECT_EQ(recv_bounded(value), "alice");
}

TEST(Go, LongNamesAreTruncatedForTheOsButNotForTraces) {
  ScopedRecorder rec;
  Chan<std::string> name(1);
  std::uint64_t tid = go(background(), "a-rather-long-goroutine-name", [&] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name.send(buf);
  });
  EXPECT_EQ(recv_bounded(name), "a-rather-long-g");  // Linux: 15 characters
  EXPECT_STREQ(rec.only(EventType::thread_spawn, tid).text, "a-rather-long-goroutine-name");
}

TEST(Go, OtherThreadsRunUnderBackground) {
  EXPECT_EQ(current_context(), background());
  Chan<bool> r(1);
  std::thread t([&] { r.send(current_context() == background()); });
  EXPECT_EQ(recv_bounded(r), true);
  t.join();
}

TEST(Go, GoroutinesSeeCancellationOfTheirContext) {
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::error_code> r(1);
  go(ctx, "waiter", [&] { r.send(current_context().done().wait()); });
  cancel();
  EXPECT_EQ(recv_bounded(r), std::optional<std::error_code>(errc::canceled));
}

TEST(GoEvents, SpawnAndExitRecordNameContextParentAndSite) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::uint64_t> inside(1);
  std::uint64_t tid = go(ctx, "worker-7", [&] { inside.send(detail::current_thread_id()); }); const auto line = __LINE__;
  EXPECT_EQ(recv_bounded(inside), tid);  // the thread carries the id go() returned
  ASSERT_TRUE(rec.wait_until([&](const Event& e) { return e.type == EventType::thread_exit && e.id == tid; }));
  Event s = rec.only(EventType::thread_spawn, tid);
  EXPECT_EQ(s.ref, ctx.id());
  EXPECT_EQ(s.value, detail::current_thread_id());  // spawned by this thread
  EXPECT_EQ(s.thread, detail::current_thread_id());
  ASSERT_NE(s.text, nullptr);
  EXPECT_STREQ(s.text, "worker-7");
  EXPECT_EQ(s.site.line(), line);
  Event x = rec.only(EventType::thread_exit, tid);
  EXPECT_EQ(x.thread, tid);
  EXPECT_EQ(x.ref, 0u);
  // spawn precedes everything the thread did, exit follows it
  auto all = rec.all();
  auto pos = [&](EventType t) {
    return std::find_if(all.begin(), all.end(), [&](const Event& e) { return e.type == t && e.id == tid; }) -
           all.begin();
  };
  EXPECT_LT(pos(EventType::thread_spawn), pos(EventType::thread_exit));
}

// ----------------------------------------------------------------- Group

TEST(Group, ZeroGroupCollectsTheFirstErrorAndCancelsNothing) {
  // errgroup's TestZeroGroup: wait() after each go(), so err_a is the first
  // error the group saw.  (Ordering the two goroutines with a channel sent to
  // before `return err_a()` was a race: the receiver could return err_b while
  // the sender was still between its send and its return — hidden while every
  // wake-up cost microseconds, exposed once a spinning receiver wakes at once.)
  Group g;
  g.go([] { return err_a(); });
  EXPECT_EQ(g.wait(), err_a());
  g.go([] { return err_b(); });
  g.go([] { return std::error_code{}; });
  EXPECT_EQ(g.wait(), err_a());
  Group empty;
  EXPECT_FALSE(empty.wait());
}

TEST(Group, WaitReturnsTheFirstErrorAndCancelsTheGroupContext) {
  // errgroup's TestWithContext, and Go 1.20's cause: the error is the cause.
  auto [parent, cancel] = with_cancel(background());
  auto [g, gctx] = Group::with_context(parent);
  EXPECT_EQ(gctx.parent(), parent);
  g.go([] { return err_a(); });
  g.go([gctx = gctx] {
    gctx.done().wait();  // cancelled by the first error
    return err_b();
  });
  EXPECT_EQ(g.wait(), err_a());
  EXPECT_EQ(gctx.err(), errc::canceled);
  EXPECT_EQ(gctx.cause(), err_a());
  EXPECT_FALSE(parent.err());  // never the parent
}

TEST(Group, GroupContextIsCancelledWhenWaitReturnsWithoutError) {
  auto [g, gctx] = Group::with_context(background());
  Chan<int> release;
  g.go([&] {
    recv_bounded(release);
    return std::error_code{};
  });
  EXPECT_FALSE(gctx.err());
  release.send(1);
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(gctx.err(), errc::canceled);
  EXPECT_EQ(gctx.cause(), errc::canceled);
}

TEST(Group, GoroutinesRunUnderTheGroupContext) {
  auto [g, gctx] = Group::with_context(background());
  Chan<bool> r(1);
  g.go("grouped", [&, gctx = gctx] {
    r.send(current_context() == gctx);
    return std::error_code{};
  });
  EXPECT_EQ(recv_bounded(r), true);
  EXPECT_FALSE(g.wait());
}

TEST(Group, SetLimitBoundsConcurrency) {
  // errgroup's TestGoLimit, ordered with channels: both slots fill, the third
  // go() blocks, and each release admits exactly one more.
  constexpr int kLimit = 2, kTasks = 8;
  Group g;
  g.set_limit(kLimit);
  std::atomic<int> active{0}, max_active{0};
  Chan<int> started(kTasks);
  Chan<int> gate;
  std::thread launcher([&] {
    for (int i = 0; i < kTasks; ++i)
      g.go([&, i] {
        const int now = active.fetch_add(1) + 1;
        int m = max_active.load();
        while (now > m && !max_active.compare_exchange_weak(m, now)) {
        }
        started.send(i);
        recv_bounded(gate);
        active.fetch_sub(1);
        return std::error_code{};
      });
  });
  for (int i = 0; i < kLimit; ++i) ASSERT_TRUE(recv_bounded(started).has_value());
  EXPECT_EQ(active.load(), kLimit);
  EXPECT_FALSE(g.try_go([] { return std::error_code{}; }));  // at the limit
  for (int i = kLimit; i < kTasks; ++i) {
    gate.send(1);  // finish one ...
    ASSERT_TRUE(recv_bounded(started).has_value());  // ... and exactly one more starts
    EXPECT_LE(active.load(), kLimit);
  }
  for (int i = 0; i < kLimit; ++i) gate.send(1);
  launcher.join();
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(max_active.load(), kLimit);
  EXPECT_EQ(started.try_recv(), std::nullopt);
}

TEST(Group, TryGoRunsWhenUnderTheLimit) {
  // errgroup's TestTryGo
  Group g;
  g.set_limit(1);
  Chan<int> gate, ran(2);
  EXPECT_TRUE(g.try_go([&] {
    ran.send(1);
    recv_bounded(gate);
    return std::error_code{};
  }));
  EXPECT_EQ(recv_bounded(ran), 1);
  EXPECT_FALSE(g.try_go([] { return err_a(); }));
  gate.send(1);
  EXPECT_FALSE(g.wait());
  EXPECT_TRUE(g.try_go([&] {
    ran.send(2);
    return err_b();
  }));
  EXPECT_EQ(g.wait(), err_b());
  EXPECT_EQ(recv_bounded(ran), 2);
}

TEST(Group, SetLimitWhileActiveThrows) {
  Group g;
  Chan<int> gate;
  g.go([&] {
    recv_bounded(gate);
    return std::error_code{};
  });
  EXPECT_THROW(g.set_limit(1), std::logic_error);
  gate.send(1);
  EXPECT_FALSE(g.wait());
  EXPECT_NO_THROW(g.set_limit(1));  // idle again
  EXPECT_NO_THROW(g.set_limit(-1));
}

TEST(Group, NoLimitRunsAllConcurrently) {
  constexpr int kTasks = 6;
  Group g;
  WaitGroup all_started;
  all_started.add(kTasks);
  for (int i = 0; i < kTasks; ++i)
    g.go([all_started]() mutable {
      all_started.done();
      wait_bounded(all_started);  // only returns once every task is running at once
      return std::error_code{};
    });
  EXPECT_FALSE(g.wait());
}

TEST(GroupEvents, WaitIsRecordedAsAGroupWait) {
  ScopedRecorder rec;
  auto [g, gctx] = Group::with_context(background());
  Chan<int> gate;
  g.go([&] {
    recv_bounded(gate);
    return std::error_code{};
  });
  Chan<std::error_code> res(1);
  std::thread waiter([&, g = g]() mutable { res.send(g.wait()); });
  ASSERT_TRUE(rec.wait_until([&](const Event& e) {
    return e.type == EventType::wait_begin && e.kind == u8(WaitObject::group);
  }));
  gate.send(1);
  EXPECT_EQ(recv_bounded(res), std::optional<std::error_code>(std::error_code{}));
  waiter.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.kind == u8(WaitObject::group); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(rec.only(EventType::wait_end, begins[0].id).kind, u8(WaitOutcome::value));
  // the group's goroutines ran under gctx
  EXPECT_FALSE(rec.where(EventType::thread_spawn, [&](const Event& e) { return e.ref == gctx.id(); }).empty());
}

// ------------------------------------------------------------- WaitGroup

TEST(WaitGroup, WaitReturnsWhenTheCounterReachesZero) {
  ScopedRecorder rec;
  WaitGroup wg;
  wg.wait();  // zero: returns at once
  wg.add(2);
  Chan<int> gate;
  for (int i = 0; i < 2; ++i)
    go(background(), "wg-worker", [wg, &gate]() mutable {
      recv_bounded(gate);
      wg.done();
    });
  Chan<int> waited(1);
  std::thread waiter([&] {
    wg.wait();
    waited.send(1);
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::waitgroup, wg.id()));
  gate.send(1);
  EXPECT_EQ(waited.try_recv(), std::nullopt);  // one worker still outstanding
  gate.send(1);
  EXPECT_EQ(recv_bounded(waited), 1);
  waiter.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == wg.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].kind, u8(WaitObject::waitgroup));
  EXPECT_EQ(begins[0].ref, 0u);
  EXPECT_EQ(rec.only(EventType::wait_end, begins[0].id).kind, u8(WaitOutcome::value));
}

TEST(WaitGroup, WaitWithContextReturnsCtxErrIfCancelledFirst) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  WaitGroup wg;
  wg.add(1);
  Chan<std::error_code> r(1);
  std::thread t([&, ctx = ctx] { r.send(wg.wait(ctx)); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::waitgroup, wg.id()));
  cancel();
  EXPECT_EQ(recv_bounded(r), std::optional<std::error_code>(errc::canceled));
  t.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == wg.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].ref, ctx.id());
  EXPECT_EQ(rec.only(EventType::wait_end, begins[0].id).kind, u8(WaitOutcome::done));
  wg.done();
  wg.wait();  // zero now
}

TEST(WaitGroup, WaitWithLiveContextReturnsEmptyAtZero) {
  auto [ctx, cancel] = with_cancel(background());
  WaitGroup wg;
  wg.add(3);
  wg.add(-3);
  EXPECT_FALSE(wg.wait(ctx));
}

TEST(WaitGroup, NegativeCounterThrowsAndLeavesTheCounterUnchanged) {
  WaitGroup wg;
  EXPECT_THROW(wg.done(), std::logic_error);
  wg.add(1);
  EXPECT_THROW(wg.add(-2), std::logic_error);
  wg.done();  // the counter was still 1
  wg.wait();
  EXPECT_THROW(wg.done(), std::logic_error);
}

TEST(WaitGroup, CopiesShareOneCounter) {
  WaitGroup a;
  WaitGroup b = a;
  EXPECT_EQ(a.id(), b.id());
  a.add(1);
  b.done();
  a.wait();
}

// ------------------------------------------------------------------ sleep

TEST(SleepFor, ReturnsEmptyAfterTheFullSleep) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  const auto start = Clock::now();
  EXPECT_FALSE(sleep_for(ctx, 10ms));
  EXPECT_GE(Clock::now() - start, 10ms);  // never short
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) {
    return e.kind == u8(WaitObject::sleep) && e.ref == ctx.id();
  });
  ASSERT_EQ(begins.size(), 1u);
  Event e = rec.only(EventType::wait_end, begins[0].id);
  EXPECT_EQ(e.kind, u8(WaitOutcome::timeout));
  EXPECT_EQ(e.value, 1u);  // past the last case
  EXPECT_FALSE(sleep_for(background(), 1ms));
}

TEST(SleepFor, ReturnsCtxErrWhenCutShort) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::error_code> r(1);
  std::thread t([&, ctx = ctx] { r.send(sleep_for(ctx, 1h)); });
  ASSERT_TRUE(rec.wait_blocked_on_ctx(ctx.id()));
  cancel();
  EXPECT_EQ(recv_bounded(r), std::optional<std::error_code>(errc::canceled));
  t.join();
  auto [timed, tc] = with_timeout(background(), 5ms);
  EXPECT_EQ(sleep_for(timed, 1h), errc::deadline_exceeded);
}

TEST(SleepFor, OnADoneContextReturnsAtOnce) {
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  EXPECT_EQ(sleep_for(ctx, 1h), errc::canceled);
  EXPECT_EQ(sleep_for(ctx, 0s), errc::canceled);
  EXPECT_FALSE(sleep_for(background(), 0s));
}

namespace ctxscope {
namespace {

// Go's pattern: goroutines call `wg.Done()` on a group captured by
// reference, and the waiter's frame (and the group with it) is gone as soon
// as `wg.Wait()` returns — while the last done() may still be inside the
// group, waking the waiter.  done() must not touch the group after that
// wake-up (a use-after-free found by TraceModel.ATwoConnectionLoad... under load:
// the waiter destroyed the group under the waker's lock).  ASan and TSan see
// any access to the dead group; the rounds make the interleaving likely.
TEST(WaitGroup, TheWaiterMayDestroyTheGroupAsSoonAsWaitReturns) {
  constexpr int kRounds = 1000;
  std::atomic<int> exited{0};
  for (int r = 0; r < kRounds; ++r) {
    auto wg = std::make_unique<WaitGroup>();  // on the heap: ASan names a late access
    wg->add(2);
    for (int k = 0; k < 2; ++k)
      go(background(), "wg-done", [g = wg.get(), &exited] {
        g->done();
        exited.fetch_add(1, std::memory_order_release);
      });
    wg->wait();
    wg.reset();  // at once, as a returning Go function drops its group
  }
  // The threads' own last step touches only `exited`.
  while (exited.load(std::memory_order_acquire) < 2 * kRounds) std::this_thread::yield();
}

}  // namespace
}  // namespace ctxscope
