// Every handoff path of the channel engine under contention, with the waiter
// in each of its states: spinning for a running partner, or parked in the
// kernel (docs/performance.md, "Spin policy").  No lost wake-up, nothing lost
// or duplicated.
//
// Determinism: order is imposed with channels and the recorded wait_begin
// (the operation is enqueued when it is recorded), and "parked" is observed
// through the waiter's published ThreadRec state — never with sleeps, and no
// assertion depends on timing (on a loaded machine a round may find the
// waiter spinning where a quiet one finds it parked; both are correct and
// both are asserted the same way).  The hang detector (kHangLimit) only turns
// a lost wake-up into a failure instead of a hung suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/detail/select.hpp"
#include "ctxscope/go.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace ctxscope;
using ctxscope::detail::ThreadRec;
using ctxscope::testing::eventually;
using ctxscope::testing::kSanitized;
using ctxscope::testing::expect_all_ended_by_close;
using ctxscope::testing::expect_each_once;
using ctxscope::testing::recv_bounded;
using ctxscope::testing::ScopedRecorder;
using ctxscope::testing::until_blocked;

namespace {

std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }

/// Rounds alternate between the two waiter states: even rounds let the
/// blocked thread reach `parked` before completing its operation, odd rounds
/// complete it at once (the waiter is then usually spinning for us: this
/// thread is its partner and is running).
bool park_round(int round) { return round % 2 == 0; }

/// Waits until the thread owning `r` is asleep in the kernel.
void until_parked(const ThreadRec* r) {
  ASSERT_TRUE(eventually([&] { return r->state.load() == ThreadRec::parked; }))
      << "hang detector: the blocked thread never parked";
}

/// Waits until `n` ctx-aware waits observing context `ctx_id` have begun.
void until_blocked_on_ctx(const ScopedRecorder& rec, std::uint64_t ctx_id, std::size_t n) {
  ASSERT_TRUE(eventually([&] {
    return rec.where(EventType::wait_begin, [&](const Event& e) { return e.ref == ctx_id; }).size() >= n;
  })) << "hang detector: waits on context " << ctx_id;
}

constexpr int kRounds = kSanitized ? 60 : 300;
constexpr int kStream = kSanitized ? 4000 : 40000;

}  // namespace

// ------------------------------------------------------- buffered full/empty

// A tiny buffer keeps the channel flipping between full (senders block, the
// receiver that frees a slot admits one) and empty (receivers block, the
// sender hands its value over directly): every buffered path, contended.
TEST(ChanHandoff, BufferedFullAndEmptyManyProducersAndConsumers) {
  constexpr int kProducers = 3, kConsumers = 2;
  const int per = kStream / kProducers;
  Chan<int> ch(2);
  Chan<std::vector<int>> results(kConsumers);
  std::vector<std::thread> ts;
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&] {
      std::vector<int> got;
      while (auto v = ch.recv()) got.push_back(*v);
      results.send(std::move(got));
    });
  WaitGroup wg;
  wg.add(kProducers);
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per; ++i) ch.send(p * per + i);
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
  expect_each_once(std::move(all), per * kProducers);
}

// A sender blocked on a full buffer is admitted by the receive that frees a
// slot — in both waiter states — and FIFO order holds.  Lockstep: round i
// receives only once the sender has blocked i+1 times, so every receive finds
// the buffer full and a sender waiting.
TEST(ChanHandoff, SenderBlockedOnFullBufferIsAdmittedSpinningOrParked) {
  ScopedRecorder rec;
  const int n = 2 * kRounds;
  Chan<int> ch(1);
  Chan<const ThreadRec*> who(1);
  std::thread sender([&] {
    who.send(detail::this_thread_rec());
    for (int i = 0; i < n; ++i) ch.send(i);
  });
  auto r = recv_bounded(who);
  ASSERT_TRUE(r);
  for (int i = 0; i < n; ++i) {
    if (i + 1 < n) {
      until_blocked(rec, WaitObject::chan_send, ch.id(), static_cast<std::size_t>(i + 1));
      if (park_round(i)) until_parked(*r);
    }
    auto v = recv_bounded(ch);
    ASSERT_TRUE(v);
    ASSERT_EQ(*v, i);
  }
  sender.join();
}

// A receiver woken for a batch drains it without another wait: one blocked
// receive, then the buffered values are taken without blocking.
TEST(ChanHandoff, ReceiverWokenForABatchDrainsItWithoutFurtherWaits) {
  ScopedRecorder rec;
  constexpr int kBatch = 8;
  Chan<int> ch(kBatch);
  Chan<int> go_on;  // unbuffered latch: the batch is complete
  Chan<std::vector<int>> result(1);
  std::thread consumer([&] {
    std::vector<int> got;
    got.push_back(*ch.recv());  // blocks: the channel is empty
    go_on.recv();
    for (int i = 1; i < kBatch; ++i) got.push_back(*ch.recv());
    result.send(std::move(got));
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, ch.id()));
  for (int i = 0; i < kBatch; ++i) ch.send(i);  // the first is handed over, the rest buffered
  go_on.send(1);
  auto got = recv_bounded(result);
  consumer.join();
  ASSERT_TRUE(got);
  std::vector<int> want(kBatch);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(*got, want);
  auto waits = rec.where(EventType::wait_begin, [&](const Event& e) {
    return e.kind == u8(WaitObject::chan_recv) && e.value == ch.id();
  });
  EXPECT_EQ(waits.size(), 1u) << "the receiver waited again for values already buffered";
}

// ------------------------------------------------------------ unbuffered

// Send first: the sender is enqueued (spinning or parked) when the receiver
// arrives and takes the value from it.
TEST(ChanHandoff, UnbufferedSendFirstSpinningOrParked) {
  ScopedRecorder rec;
  Chan<int> ch;
  Chan<const ThreadRec*> who(1);
  Chan<int> next;  // the sender starts round i only when told
  std::thread sender([&] {
    who.send(detail::this_thread_rec());
    while (auto i = next.recv()) ch.send(*i);
  });
  auto r = recv_bounded(who);
  ASSERT_TRUE(r);
  for (int i = 0; i < kRounds; ++i) {
    next.send(i);
    until_blocked(rec, WaitObject::chan_send, ch.id(), static_cast<std::size_t>(i + 1));
    if (park_round(i)) until_parked(*r);
    auto v = recv_bounded(ch);
    ASSERT_TRUE(v);
    ASSERT_EQ(*v, i);
  }
  next.close();
  sender.join();
}

// Receive first: the receiver is enqueued (spinning or parked) when the
// sender arrives and hands the value over.
TEST(ChanHandoff, UnbufferedRecvFirstSpinningOrParked) {
  ScopedRecorder rec;
  Chan<int> ch;
  Chan<const ThreadRec*> who(1);
  Chan<int> seen(1);
  std::thread receiver([&] {
    who.send(detail::this_thread_rec());
    while (auto v = ch.recv()) seen.send(*v);
  });
  auto r = recv_bounded(who);
  ASSERT_TRUE(r);
  for (int i = 0; i < kRounds; ++i) {
    until_blocked(rec, WaitObject::chan_recv, ch.id(), static_cast<std::size_t>(i + 1));
    if (park_round(i)) until_parked(*r);
    ch.send(i);
    auto v = recv_bounded(seen);
    ASSERT_TRUE(v);
    ASSERT_EQ(*v, i);
  }
  ch.close();
  receiver.join();
}

// Free-running ping-pong: both arrival orders and both waiter states mix at
// random; every round trip must complete with the right value.
TEST(ChanHandoff, UnbufferedPingPongUnderContention) {
  Chan<int> ping, pong;
  std::thread echo([&] {
    while (auto v = ping.recv()) pong.send(*v + 1);
    pong.close();
  });
  // A third thread competing for the two cores, so some rounds find the
  // partner preempted (its record says running, but it is not on a CPU).
  std::atomic<bool> stop{false};
  std::thread noise([&] {
    while (!stop.load(std::memory_order_relaxed)) std::this_thread::yield();
  });
  for (int i = 0; i < kStream / 4; ++i) {
    ping.send(i);
    auto v = recv_bounded(pong);
    ASSERT_TRUE(v);
    ASSERT_EQ(*v, i + 1);
  }
  ping.close();
  EXPECT_EQ(recv_bounded(pong), std::nullopt);
  stop = true;
  noise.join();
  echo.join();
}

// --------------------------------------------------------------- select

// Several cases ready at once, several senders racing: every value is taken
// exactly once, by exactly one case.
TEST(ChanHandoff, SelectWithSeveralReadyCasesLosesNothing) {
  const int per = kStream / 4;
  Chan<int> a(4), b, c(1);
  std::thread ta([&] {
    for (int i = 0; i < per; ++i) a.send(i);
  });
  std::thread tb([&] {
    for (int i = 0; i < per; ++i) b.send(per + i);
  });
  std::thread tc([&] {
    for (int i = 0; i < per; ++i) c.send(2 * per + i);
  });
  std::vector<int> got;
  std::size_t wins[3] = {0, 0, 0};
  auto [limit, stop] = with_timeout(background(), ctxscope::testing::kHangLimit);
  while (got.size() < static_cast<std::size_t>(3 * per)) {
    std::optional<int> va, vb, vc;
    const std::size_t k = select(a.on_recv(va), b.on_recv(vb), c.on_recv(vc), limit.done());
    ASSERT_LT(k, 3u) << "hang detector: a value was lost";
    ++wins[k];
    got.push_back(*(k == 0 ? va : k == 1 ? vb : vc));
  }
  stop();
  ta.join();
  tb.join();
  tc.join();
  EXPECT_EQ(wins[0] + wins[1] + wins[2], static_cast<std::size_t>(3 * per));
  expect_each_once(std::move(got), 3 * per);
}

// A select that sends and receives, against a partner doing the mirror image:
// each round exactly one of the two cases runs on each side.
TEST(ChanHandoff, SelectSendAndRecvCasesAgainstAMirror) {
  const int n = kStream / 8;
  Chan<int> left, right;
  Chan<int> done_count(1);
  std::thread mirror([&] {
    int sent = 0, received = 0;
    while (sent + received < n) {
      std::optional<int> v;
      if (select(right.on_send(sent), left.on_recv(v)) == 0) ++sent;
      else ++received;
    }
    done_count.send(sent);
  });
  int sent = 0, received = 0;
  while (sent + received < n) {
    std::optional<int> v;
    // A select never pairs its own send with its own receive: the two sides
    // trade through left (our send) and right (our receive).
    if (select(left.on_send(sent), right.on_recv(v)) == 0) ++sent;
    else ++received;
  }
  auto theirs = recv_bounded(done_count);
  mirror.join();
  ASSERT_TRUE(theirs);
  EXPECT_EQ(sent + received, n);
  // Every handoff has one sender and one receiver: our receives are their sends.
  EXPECT_EQ(received, *theirs);
}

// ---------------------------------------------------------------- close

// close() wakes every blocked receiver and sender, whether spinning or parked.
TEST(ChanHandoff, CloseWakesWaitersSpinningOrParked) {
  ScopedRecorder rec;
  constexpr int kWaiters = 3;
  for (int round = 0; round < (kSanitized ? 6 : 30); ++round) {
    Chan<int> rx, tx;
    Chan<const ThreadRec*> who(2 * kWaiters);
    Chan<int> outcomes(2 * kWaiters);  // 1: receiver saw nullopt, 2: sender saw the throw
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.emplace_back([&] {
        who.send(detail::this_thread_rec());
        outcomes.send(rx.recv() ? 0 : 1);
      });
      ts.emplace_back([&] {
        who.send(detail::this_thread_rec());
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
    if (park_round(round))
      for (int i = 0; i < 2 * kWaiters; ++i) {
        auto r = recv_bounded(who);
        ASSERT_TRUE(r);
        until_parked(*r);
      }
    rx.close();
    tx.close();
    expect_all_ended_by_close(outcomes, kWaiters);
    if (::testing::Test::HasFatalFailure()) return;
    for (auto& t : ts) t.join();
  }
}

// --------------------------------------------------------- cancellation

// Cancelling the context of a blocked ctx-aware receive (and of a select on
// a send, a receive and done) ends the wait with ctx.err(), spinning or parked.
TEST(ChanHandoff, CancelOfTheDoneContextEndsASpinningOrParkedWait) {
  ScopedRecorder rec;
  for (int round = 0; round < (kSanitized ? 10 : 60); ++round) {
    auto [ctx, cancel] = with_cancel(background());
    Chan<int> ch, tx, rx;  // nobody else ever sends or receives on them
    Chan<const ThreadRec*> who(2);
    Chan<std::error_code> errs(1);
    Chan<std::size_t> picks(1);
    std::thread r1([&, ctx = ctx] {
      who.send(detail::this_thread_rec());
      errs.send(ch.recv(ctx).err);
    });
    std::thread r2([&, ctx = ctx] {
      who.send(detail::this_thread_rec());
      std::optional<int> v;
      picks.send(select(tx.on_send(1), rx.on_recv(v), ctx.done()));
    });
    until_blocked_on_ctx(rec, ctx.id(), 2);
    if (park_round(round))
      for (int i = 0; i < 2; ++i) {
        auto r = recv_bounded(who);
        ASSERT_TRUE(r);
        until_parked(*r);
      }
    cancel();
    auto e = recv_bounded(errs);
    auto k = recv_bounded(picks);
    r1.join();
    r2.join();
    ASSERT_TRUE(e && k);
    EXPECT_EQ(*e, errc::canceled);
    EXPECT_EQ(*k, 2u);
  }
}

// A thread that exits leaves its record to be reused; a channel that still
// names it as the last partner must not make a later waiter hang or spin on a
// stale state (the record says parked).
TEST(ChanHandoff, PartnerThatExitedDoesNotKeepAWaiterSpinning) {
  Chan<int> ch;
  const ThreadRec* gone = nullptr;
  std::thread t([&] {
    gone = detail::this_thread_rec();
    ch.send(1);  // blocks until main receives: t is recorded as ch's sender
  });
  EXPECT_EQ(recv_bounded(ch), 1);
  t.join();
  // (Its record says parked now, unless another thread has already reused it.)
  ASSERT_NE(gone, nullptr);
  // A new receive now finds the exited thread as its partner; a fresh sender
  // completes it (by the hang detector, not by time).
  Chan<int> ready;
  std::thread s([&] {
    ready.recv();
    ch.send(2);
  });
  ready.send(0);
  EXPECT_EQ(recv_bounded(ch), 2);
  s.join();
}
