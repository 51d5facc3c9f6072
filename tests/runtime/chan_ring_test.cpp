// The buffered channel's lock-free ring and its handoffs with the wait
// queues (chan.hpp, ChanState): lock-free sends and receives racing with
// threads that queue themselves (the `waiting` flag and its re-check), the
// retry wake-up, close racing with lock-free sends, capacities that are not
// powers of two (and 1), and a value type whose move throws.
//
// As in chan_handoff_test.cpp: order is imposed with channels, WaitGroups and
// recorded waits, never with sleeps; the hang detector (kHangLimit) only turns
// a lost wake-up into a failure instead of a hung suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace ctxscope;
using ctxscope::testing::kSanitized;
using ctxscope::testing::expect_all_ended_by_close;
using ctxscope::testing::expect_each_once;
using ctxscope::testing::recv_bounded;
using ctxscope::testing::ScopedRecorder;
using ctxscope::testing::until_blocked;

namespace {

constexpr int kStream = kSanitized ? 4000 : 60000;

}  // namespace

// One producer, one consumer, FIFO order through every capacity shape: 1
// (doubled sequence numbers), a non-power of two (index by %), a power of two.
TEST(ChanRing, FifoThroughCapacityOneOddAndPowerOfTwo) {
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{8}}) {
    Chan<int> ch(cap);
    std::thread producer([&] {
      for (int i = 0; i < kStream; ++i) ch.send(i);
      ch.close();
    });
    int want = 0;
    while (auto v = ch.recv()) {
      ASSERT_EQ(*v, want) << "capacity " << cap;
      ++want;
    }
    producer.join();
    EXPECT_EQ(want, kStream) << "capacity " << cap;
    EXPECT_EQ(ch.size(), 0u);
  }
}

// Senders race with close: every send that returned is received exactly once,
// every other send threw, and a receive after the drain says closed.  The
// close comes while the producers are still sending (ordered by a count of
// received values, not by time).
TEST(ChanRing, CloseRacingWithLockFreeSendsLosesNothing) {
  constexpr int kProducers = 3;
  for (int round = 0; round < (kSanitized ? 4 : 20); ++round) {
    Chan<int> ch(5);
    std::vector<std::vector<int>> sent(kProducers);
    std::vector<std::thread> ts;
    WaitGroup wg;
    wg.add(kProducers);
    for (int p = 0; p < kProducers; ++p)
      ts.emplace_back([&, p] {
        try {
          for (int i = 0;; ++i) {
            ch.send(p * 10'000'000 + i);
            sent[static_cast<std::size_t>(p)].push_back(p * 10'000'000 + i);
          }
        } catch (const closed_channel_error&) {
        }
        wg.done();
      });
    std::vector<int> got;
    while (got.size() < 500) got.push_back(*ch.recv());
    ch.close();
    while (auto v = ch.recv()) got.push_back(*v);
    ctxscope::testing::wait_bounded(wg);
    for (auto& t : ts) t.join();
    EXPECT_FALSE(ch.recv().has_value());
    std::vector<int> all;
    for (auto& s : sent) all.insert(all.end(), s.begin(), s.end());
    std::sort(all.begin(), all.end());
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, all) << "a value sent before the close was lost, or one after it delivered";
  }
}

// Receivers of a buffered channel blocked on an empty ring and senders
// blocked on a full one, then close: the receivers see closed, the senders
// throw, and the value buffered before the close is still delivered first.
TEST(ChanRing, CloseWakesBufferedWaitersAndKeepsTheBufferedValue) {
  ScopedRecorder rec;
  constexpr int kWaiters = 3;
  for (int round = 0; round < (kSanitized ? 4 : 20); ++round) {
    Chan<int> rx(2), tx(1);
    tx.send(42);  // full
    Chan<int> outcomes(2 * kWaiters);  // 1: receiver saw closed, 2: sender threw
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.emplace_back([&] { outcomes.send(rx.recv() ? 0 : 1); });
      ts.emplace_back([&] {
        try {
          tx.send(7);
          outcomes.send(0);
        } catch (const closed_channel_error&) {
          outcomes.send(2);
        }
      });
    }
    until_blocked(rec, WaitObject::chan_recv, rx.id(), kWaiters);
    until_blocked(rec, WaitObject::chan_send, tx.id(), kWaiters);
    rx.close();
    tx.close();
    expect_all_ended_by_close(outcomes, kWaiters);
    if (::testing::Test::HasFatalFailure()) return;
    for (auto& t : ts) t.join();
    auto v = tx.recv();
    ASSERT_TRUE(v) << "the value buffered before the close was dropped";
    EXPECT_EQ(*v, 42);
    EXPECT_FALSE(tx.recv().has_value());
  }
}

// Selects over two buffered channels (receive from either, with a done case)
// against lock-free producers: the receivers queue and are woken to retry
// again and again; nothing is lost or duplicated, and cancelling the context
// ends the waits once the producers are done.
TEST(ChanRing, SelectRetryAgainstLockFreeProducers) {
  constexpr int kConsumers = 2;
  Chan<int> a(2), b(3);
  auto [ctx, cancel] = with_cancel(background());
  Chan<std::vector<int>> results(kConsumers);
  std::vector<std::thread> ts;
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&, ctx = ctx] {
      std::vector<int> got;
      for (;;) {
        std::optional<int> va, vb;
        const std::size_t i = select(a.on_recv(va), b.on_recv(vb), ctx.done());
        if (i == 0) got.push_back(*va);
        else if (i == 1) got.push_back(*vb);
        else break;
      }
      results.send(std::move(got));
    });
  const int per = kStream / 2;
  WaitGroup wg;
  wg.add(2);
  ts.emplace_back([&] {
    for (int i = 0; i < per; ++i) a.send(i);
    wg.done();
  });
  ts.emplace_back([&] {
    for (int i = 0; i < per; ++i) b.send(per + i);
    wg.done();
  });
  ctxscope::testing::wait_bounded(wg);
  // Drained before the cancel: a cancel would race with buffered values.
  ASSERT_TRUE(ctxscope::testing::eventually([&] { return a.size() == 0 && b.size() == 0; }));
  cancel();
  std::vector<int> all;
  for (int c = 0; c < kConsumers; ++c) {
    auto part = recv_bounded(results);
    ASSERT_TRUE(part);
    all.insert(all.end(), part->begin(), part->end());
  }
  for (auto& t : ts) t.join();
  expect_each_once(std::move(all), 2 * per);
}

// Blocked senders and receivers on both sides of a capacity-1 channel with
// ctx-aware operations: full and empty alternate on every element, so every
// element goes through a queued waiter's re-check or a retry wake-up.
TEST(ChanRing, CtxAwareFullAndEmptyOnCapacityOne) {
  constexpr int kProducers = 2, kConsumers = 2;
  const int per = kStream / 4;
  Chan<int> ch(1);
  auto ctx = background();
  Chan<std::vector<int>> results(kConsumers);
  std::vector<std::thread> ts;
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&] {
      std::vector<int> got;
      for (;;) {
        Received<int> r = ch.recv(ctx);
        if (!r.ok()) break;
        got.push_back(*r.value);
      }
      results.send(std::move(got));
    });
  WaitGroup wg;
  wg.add(kProducers);
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per; ++i) EXPECT_FALSE(ch.send(ctx, p * per + i));
      wg.done();
    });
  ctxscope::testing::wait_bounded(wg);
  ch.close();
  std::vector<int> all;
  for (int c = 0; c < kConsumers; ++c) {
    auto part = recv_bounded(results);
    ASSERT_TRUE(part);
    all.insert(all.end(), part->begin(), part->end());
  }
  for (auto& t : ts) t.join();
  expect_each_once(std::move(all), kProducers * per);
}

namespace {
/// A value whose move throws when asked to (copies never do).
struct Fragile {
  int v = 0;
  bool boom = false;
  Fragile(int x, bool b) : v(x), boom(b) {}
  Fragile(const Fragile&) = default;
  Fragile(Fragile&& o) : v(o.v), boom(o.boom) {  // NOLINT: throws on purpose
    if (boom) throw std::runtime_error("move failed");
  }
  Fragile& operator=(const Fragile&) = default;
};
}  // namespace

// A send whose move into the ring throws does not send: the exception reaches
// the sender, the claimed slot is skipped, and the values around it arrive.
// (The skipped slot counts against the capacity until a receive passes it:
// hence capacity 3 for two values here.)
TEST(ChanRing, SendWhoseMoveThrowsSendsNothing) {
  Chan<Fragile> ch(3);
  const Fragile ok1(1, false), bad(2, true), ok3(3, false);
  ch.send(ok1);
  EXPECT_THROW(ch.send(bad), std::runtime_error);
  ch.send(ok3);
  auto a = ch.recv();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->v, 1);
  auto b = ch.recv();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->v, 3);
  EXPECT_EQ(ch.size(), 0u);
  ch.close();
  EXPECT_FALSE(ch.recv().has_value());
}
