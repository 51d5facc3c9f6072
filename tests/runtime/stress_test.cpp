// Stress: cancel racing with derive and with select, many senders and
// receivers, timers created and cancelled concurrently.  Sized to finish well
// under 2 s each under ThreadSanitizer, which must find nothing.  Outcomes are
// checked exactly; no test depends on how the threads interleave.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <latch>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"
#include "runtime/tree_probe.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::await_done;
using ctxscope::testing::kSanitized;
using ctxscope::testing::registered_children;

namespace {
constexpr int scaled(int normal, int sanitized) { return kSanitized ? sanitized : normal; }
}  // namespace

TEST(Stress, CancelRacingWithDeriveLeavesEveryChildDone) {
  static const Key<int> key("i");
  const int rounds = scaled(200, 30);
  const int per_thread = scaled(300, 150);
  constexpr int kThreads = 3;
  for (int round = 0; round < rounds; ++round) {
    auto [parent, cancel] = with_cancel_cause(background());
    std::vector<std::vector<Context>> derived(kThreads);
    std::vector<std::vector<CancelFunc>> cancels(kThreads);
    std::atomic<int> made{0};
    std::latch start(kThreads + 1);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t, parent = parent] {
        auto& mine = derived[static_cast<std::size_t>(t)];
        auto& ks = cancels[static_cast<std::size_t>(t)];
        start.arrive_and_wait();
        for (int i = 0; i < per_thread; ++i) {
          // mostly children of parent, some grandchildren through our own children
          const Context& base = (i % 5 == 4 && !mine.empty()) ? mine.back() : parent;
          std::pair<Context, CancelFunc> c;
          switch (i % 4) {
            case 0: c = with_cancel(base); break;
            case 1: c = with_timeout(base, 1h); break;
            case 2: c = with_cancel(with_value(base, key, i)); break;
            default: {
              auto [cc, kc] = with_cancel_cause(base);
              c = {cc, kc};
            }
          }
          if (i % 7 == 0) c.second();  // some cancel themselves, racing with the parent
          mine.push_back(c.first);
          ks.push_back(c.second);
          made.fetch_add(1, std::memory_order_relaxed);
        }
      });
    start.arrive_and_wait();
    // cancel somewhere in the middle of the derivation
    ASSERT_TRUE(ctxscope::testing::eventually([&] { return made.load() >= kThreads * per_thread / 2; }));
    cancel(std::make_error_code(std::errc::io_error));
    for (auto& t : ts) t.join();
    for (const auto& v : derived)
      for (const Context& c : v) {
        ASSERT_EQ(c.err(), errc::canceled) << "round " << round << " ctx " << c.id();
        const auto cause = c.cause();
        // its own cancel (cause canceled) or the parent's (io_error) came first
        ASSERT_TRUE(cause == errc::canceled || cause == std::errc::io_error) << cause.message();
        ASSERT_EQ(registered_children(c), 0u);
      }
    EXPECT_EQ(registered_children(parent), 0u);
  }
}

TEST(Stress, CancelRacingWithSelectHasExactlyOneWinner) {
  const int rounds = scaled(2000, 300);
  for (int round = 0; round < rounds; ++round) {
    auto [ctx, cancel] = with_cancel(background());
    Chan<int> ch(static_cast<std::size_t>(round % 2));  // unbuffered and buffered(1)
    std::size_t won = 99;
    std::optional<int> got;
    std::error_code send_err;
    std::latch start(3);
    std::thread selector([&, ctx = ctx] {
      start.arrive_and_wait();
      won = select(ch.on_recv(got), ctx.done());
    });
    std::thread sender([&, ctx = ctx] {
      start.arrive_and_wait();
      send_err = ch.send(ctx, round);
    });
    start.arrive_and_wait();
    if (round % 3 == 0) std::this_thread::yield();  // vary the interleaving, not order it
    cancel();
    selector.join();
    sender.join();
    ASSERT_TRUE(won == 0 || won == 1) << won;
    if (won == 0) {
      ASSERT_EQ(got, round);
      ASSERT_FALSE(send_err);
    } else {
      ASSERT_FALSE(got.has_value());
      if (send_err) {
        ASSERT_EQ(send_err, errc::canceled);
        ASSERT_EQ(ch.try_recv(), std::nullopt);
      } else {
        ASSERT_EQ(ch.try_recv(), round);  // delivered into the buffer, not lost
      }
    }
  }
}

TEST(Stress, ManySendersAndReceiversLoseNothing) {
  const int per_sender = scaled(3000, 1500);
  constexpr int kSenders = 4, kReceivers = 4;
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
    Chan<long> ch(cap);
    std::atomic<long> sum{0}, count{0};
    WaitGroup senders, receivers;
    senders.add(kSenders);
    receivers.add(kReceivers);
    for (int s = 0; s < kSenders; ++s)
      go(background(), "sender", [=]() mutable {
        for (int i = 1; i <= per_sender; ++i) ch.send(i);
        senders.done();
      });
    for (int r = 0; r < kReceivers; ++r)
      go(background(), "receiver", [&, ch, receivers]() mutable {
        long local = 0, n = 0;
        while (auto v = ch.recv()) {
          local += *v;
          ++n;
        }
        sum.fetch_add(local);
        count.fetch_add(n);
        receivers.done();
      });
    ctxscope::testing::wait_bounded(senders);
    ch.close();
    ctxscope::testing::wait_bounded(receivers);
    const long per = static_cast<long>(per_sender) * (per_sender + 1) / 2;
    EXPECT_EQ(count.load(), static_cast<long>(kSenders) * per_sender) << "cap " << cap;
    EXPECT_EQ(sum.load(), kSenders * per) << "cap " << cap;
  }
}

TEST(Stress, SelectAcrossChannelsLosesNothing) {
  // Senders choose between two channels with select; receivers select over
  // both and a quit channel.  The channels are unbuffered, so once every send
  // returned every value has been received.
  const int per_sender = scaled(2000, 1200);
  constexpr int kSenders = 3, kReceivers = 3;
  Chan<long> a, b;
  Chan<int> quit;
  std::atomic<long> sum{0}, count{0};
  WaitGroup senders, receivers;
  senders.add(kSenders);
  receivers.add(kReceivers);
  for (int s = 0; s < kSenders; ++s)
    go(background(), "sel-sender", [=]() mutable {
      for (int i = 1; i <= per_sender; ++i) select(a.on_send(i), b.on_send(i));
      senders.done();
    });
  for (int r = 0; r < kReceivers; ++r)
    go(background(), "sel-receiver", [&, a, b, quit, receivers]() mutable {
      long local = 0, n = 0;
      for (;;) {
        std::optional<long> va, vb;
        std::size_t k = select(a.on_recv(va), b.on_recv(vb), quit.on_recv());
        if (k == 2) break;
        local += k == 0 ? *va : *vb;
        ++n;
      }
      sum.fetch_add(local);
      count.fetch_add(n);
      receivers.done();
    });
  ctxscope::testing::wait_bounded(senders);
  quit.close();
  ctxscope::testing::wait_bounded(receivers);
  const long per = static_cast<long>(per_sender) * (per_sender + 1) / 2;
  EXPECT_EQ(count.load(), static_cast<long>(kSenders) * per_sender);
  EXPECT_EQ(sum.load(), kSenders * per);
}

TEST(Stress, TimersCreatedAndCancelledConcurrently) {
  const int per_thread = scaled(2000, 400);
  constexpr int kThreads = 4;
  auto [parent, cancel_parent] = with_timeout(background(), 1h);
  std::vector<std::vector<Context>> expiring(kThreads), cancelled(kThreads), raced(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t, parent = parent] {
      const auto ti = static_cast<std::size_t>(t);
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const Context& base = i % 2 ? parent : background();
        switch (i % 4) {
          case 0: {  // long timer, cancelled at once: must report canceled
            auto [c, k] = with_timeout(base, 1h);
            k();
            cancelled[ti].push_back(c);
            break;
          }
          case 1: {  // short timer left to fire
            auto [c, k] = with_timeout(base, std::chrono::microseconds(50 * (i % 7)));
            expiring[ti].push_back(c);
            break;
          }
          case 2: {  // short timer cancelled while it may be firing
            auto [c, k] = with_timeout(base, 100us);
            std::this_thread::yield();
            k();
            raced[ti].push_back(c);
            break;
          }
          default: {  // short timer dropped (destroyed) while it may be firing
            auto [c, k] = with_deadline(base, Clock::now() + 20us);
            break;
          }
        }
      }
    });
  for (auto& t : ts) t.join();
  for (int t = 0; t < kThreads; ++t) {
    const auto ti = static_cast<std::size_t>(t);
    for (const Context& c : cancelled[ti]) ASSERT_EQ(c.err(), errc::canceled);
    for (const Context& c : expiring[ti]) ASSERT_EQ(await_done(c), errc::deadline_exceeded);
    for (const Context& c : raced[ti]) {
      const auto e = c.err();
      ASSERT_TRUE(e == errc::canceled || e == errc::deadline_exceeded) << e.message();
    }
  }
  EXPECT_FALSE(parent.err());
  EXPECT_EQ(registered_children(parent), 0u);  // every child released one way or another
}

TEST(Stress, WaitGroupAddDoneWaitFromManyThreads) {
  const int rounds = scaled(200, 150);
  for (int round = 0; round < rounds; ++round) {
    WaitGroup wg;
    constexpr int kWorkers = 4;
    wg.add(kWorkers);
    std::atomic<int> finished{0};
    for (int i = 0; i < kWorkers; ++i)
      go(background(), "wg", [wg, &finished]() mutable {
        finished.fetch_add(1);
        wg.done();
      });
    std::thread second_waiter([wg] { ctxscope::testing::wait_bounded(wg); });
    ctxscope::testing::wait_bounded(wg);
    ASSERT_EQ(finished.load(), kWorkers);
    second_waiter.join();
  }
}

TEST(Stress, CauseIsConsistentWithErrWhileCancelling) {
  // Go's TestCauseRace: a reader polling cause() while another thread cancels
  // with a cause never sees a cause without err, nor any other cause.
  const int rounds = scaled(2000, 150);
  const auto want = std::make_error_code(std::errc::io_error);
  for (int round = 0; round < rounds; ++round) {
    auto [ctx, cancel] = with_cancel_cause(background());
    std::latch start(2);
    std::thread reader([&, ctx = ctx] {
      start.arrive_and_wait();
      for (;;) {
        const auto cause = ctx.cause();
        if (!cause) {
          std::this_thread::yield();
          continue;
        }
        EXPECT_EQ(cause, want);
        EXPECT_EQ(ctx.err(), errc::canceled);
        break;
      }
    });
    start.arrive_and_wait();
    cancel(want);
    reader.join();
  }
}

TEST(Stress, NonblockingRecvOfAReadyChannelNeverTakesDefault) {
  // Go's TestNonblockRecvRace: a buffered value (or a close) makes the receive
  // ready; a concurrent close must not make a non-blocking receive miss it.
  const int rounds = scaled(2000, 200);
  for (int round = 0; round < rounds; ++round) {
    Chan<int> c(1);
    c.send(1);
    std::atomic<bool> took_default{false};
    std::thread t([&, c]() mutable {
      if (select(c.on_recv(), DefaultCase{}) == 1) took_default = true;
    });
    c.close();
    t.join();
    ASSERT_FALSE(took_default.load()) << "round " << round;
  }
}

TEST(Stress, SelectNeverMatchesItsOwnSendWithItsOwnRecv) {
  // Go's TestSelfSelect: two threads each select over sending and receiving
  // on one unbuffered channel; a thread must never receive its own value.
  const int iters = scaled(2000, 600);
  Chan<int> c;
  std::atomic<int> self_receives{0};
  WaitGroup wg;
  wg.add(2);
  for (int p = 0; p < 2; ++p)
    go(background(), "self-select", [&, c, wg, p]() mutable {
      for (int i = 0; i < iters; ++i) {
        std::optional<int> v;
        if (select(c.on_send(p), c.on_recv(v)) == 1 && v == p) self_receives.fetch_add(1);
      }
      wg.done();
    });
  // Every completed select pairs one of each thread's, so both loops end
  // together (a self-match would leave the other thread waiting: a hang).
  ctxscope::testing::wait_bounded(wg);
  EXPECT_EQ(self_receives.load(), 0);
}

TEST(Stress, StopCallbacksAndAfterFuncsRacingWithCancelEachRunOnce) {
  // Registration racing with cancel: whichever wins, every stop callback runs
  // exactly once (at once if the token was already stopped) and every
  // after_func runs exactly once (at once on a done context).
  const int rounds = scaled(300, 30);
  constexpr int kThreads = 3, kPer = 8;
  for (int round = 0; round < rounds; ++round) {
    auto [ctx, cancel] = with_cancel(background());
    std::atomic<int> stop_runs{0};
    Chan<int> after_runs(kThreads * kPer);
    std::latch start(kThreads + 1), cancel_returned(1);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, ctx = ctx] {
        std::vector<std::unique_ptr<std::stop_callback<std::function<void()>>>> cbs;
        start.arrive_and_wait();
        for (int i = 0; i < kPer; ++i) {
          cbs.push_back(std::make_unique<std::stop_callback<std::function<void()>>>(
              ctx.stop_token(), std::function<void()>([&] { stop_runs.fetch_add(1); })));
          (void)after_func(ctx, [&after_runs] { after_runs.send(1); });
        }
        // Keep the callbacks registered until cancel() has returned: seeing
        // ctx done is not enough, stop callbacks run after the state is
        // published (outside the runtime's locks), before cancel() returns.
        cancel_returned.wait();
      });
    start.arrive_and_wait();
    cancel();
    cancel_returned.count_down();
    for (auto& t : ts) t.join();
    ASSERT_EQ(stop_runs.load(), kThreads * kPer) << "round " << round;
    for (int i = 0; i < kThreads * kPer; ++i) ASSERT_EQ(ctxscope::testing::recv_bounded(after_runs), 1);
    ASSERT_EQ(after_runs.try_recv(), std::nullopt);
  }
}
