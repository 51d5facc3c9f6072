// The unbuffered channels' fast slot (ChanState::recv_or_park / send_or_park /
// wait_fast): a blind send or receive that must wait parks in the channel
// itself when nobody else waits; later waiters queue behind it in the engine.
// Every path that completes, closes or bypasses a parked slot, and the slot's
// reuse once its thread has taken its result, under contention.
//
// Determinism: order is imposed with channels and the recorded wait_begin
// (the operation is parked or queued when it is recorded) — never with
// sleeps; the hang detector (kHangLimit) only turns a lost wake-up into a
// failure instead of a hung suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/detail/select.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace ctxscope;
using ctxscope::testing::expect_each_once;
using ctxscope::testing::kSanitized;
using ctxscope::testing::recv_bounded;
using ctxscope::testing::ScopedRecorder;
using ctxscope::testing::until_blocked;

namespace {

std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }

constexpr int kStream = kSanitized ? 3000 : 30000;

}  // namespace

// The first receiver parks in the slot, the next ones queue: the senders
// serve them in arrival order (the slot before the queue).
TEST(ChanFastSlot, ReceiversAreServedInArrivalOrder) {
  ScopedRecorder rec;
  constexpr int kWaiters = 4;
  for (int round = 0; round < (kSanitized ? 5 : 20); ++round) {
    Chan<int> ch;
    Chan<int> got(kWaiters);  // receiver i sends 100 * i + value
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.emplace_back([&, i] { got.send(100 * i + ch.recv().value_or(-1)); });
      until_blocked(rec, WaitObject::chan_recv, ch.id(), static_cast<std::size_t>(i + 1));
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (int i = 0; i < kWaiters; ++i) ch.send(i);
    std::vector<int> all;
    for (int i = 0; i < kWaiters; ++i) {
      auto v = recv_bounded(got);
      ASSERT_TRUE(v);
      all.push_back(*v);
    }
    std::sort(all.begin(), all.end());
    for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], 101 * i) << "out of order";
    for (auto& t : ts) t.join();
  }
}

// The same for senders: the parked one's value comes first.
TEST(ChanFastSlot, SendersAreServedInArrivalOrder) {
  ScopedRecorder rec;
  constexpr int kWaiters = 4;
  for (int round = 0; round < (kSanitized ? 5 : 20); ++round) {
    Chan<int> ch;
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.emplace_back([&, i] { ch.send(i); });
      until_blocked(rec, WaitObject::chan_send, ch.id(), static_cast<std::size_t>(i + 1));
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(recv_bounded(ch), i);
    for (auto& t : ts) t.join();
  }
}

// try_send / try_recv, ctx-aware operations and select cases complete a
// blind operation parked in the slot; each round parks a fresh one.
TEST(ChanFastSlot, EveryKindOfOperationCompletesAParkedOne) {
  ScopedRecorder rec;
  Chan<int> ch;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> out(8);
  std::thread receiver([&] {
    while (auto v = ch.recv()) out.send(*v);
  });
  std::size_t blocked = 0;
  auto parked_recv = [&] { until_blocked(rec, WaitObject::chan_recv, ch.id(), ++blocked); };
  parked_recv();
  EXPECT_TRUE(ch.try_send(1));
  EXPECT_EQ(recv_bounded(out), 1);
  parked_recv();
  EXPECT_FALSE(ch.send(ctx, 2));
  EXPECT_EQ(recv_bounded(out), 2);
  parked_recv();
  EXPECT_EQ(select(ch.on_send(3), ctx.done()), 0u);
  EXPECT_EQ(recv_bounded(out), 3);
  parked_recv();
  ch.close();
  receiver.join();

  Chan<int> in;
  std::thread sender([&] {
    for (int i = 10; i < 13; ++i) in.send(i);
  });
  std::size_t sends = 0;
  until_blocked(rec, WaitObject::chan_send, in.id(), ++sends);
  EXPECT_EQ(in.try_recv(), 10);
  until_blocked(rec, WaitObject::chan_send, in.id(), ++sends);
  Received<int> r = in.recv(ctx);
  EXPECT_EQ(r.value, 11);
  EXPECT_FALSE(r.err);
  until_blocked(rec, WaitObject::chan_send, in.id(), ++sends);
  std::optional<int> v;
  EXPECT_EQ(select(ctx.done(), in.on_recv(v)), 1u);
  EXPECT_EQ(v, 12);
  sender.join();
  cancel();
}

// A thread that took its value from one channel's slot frees it (fast_ack),
// even while it then waits in another channel's slot: a second receiver of
// the first channel, arriving while the first thread waits in the second,
// is served, and so is the first thread.
TEST(ChanFastSlot, ASlotIsFreeOnceItsThreadTookItsValue) {
  ScopedRecorder rec;
  Chan<int> a, b;
  Chan<int> got(4);
  std::thread first([&] {
    got.send(a.recv().value_or(-1));  // parks in a's slot
    got.send(b.recv().value_or(-1));  // then in b's
  });
  until_blocked(rec, WaitObject::chan_recv, a.id(), 1);
  a.send(1);
  EXPECT_EQ(recv_bounded(got), 1);
  until_blocked(rec, WaitObject::chan_recv, b.id(), 1);
  std::thread second([&] { got.send(a.recv().value_or(-1)); });
  until_blocked(rec, WaitObject::chan_recv, a.id(), 2);
  a.send(2);
  EXPECT_EQ(recv_bounded(got), 2);
  b.send(3);
  EXPECT_EQ(recv_bounded(got), 3);
  first.join();
  second.join();
  // Both slots are reusable now, in both directions.
  std::thread third([&] {
    a.send(4);
    got.send(b.recv().value_or(-1));
  });
  EXPECT_EQ(recv_bounded(a), 4);
  b.send(5);
  EXPECT_EQ(recv_bounded(got), 5);
  third.join();
}

// The partner may destroy the channel as soon as its operation returned,
// while the thread it woke in the slot is still reading its result from the
// channel (the destructor waits for that thread's fast_ack); as with a
// std::condition_variable, which may be destroyed once its waiters are
// notified.  Under the sanitizers an early free is a use-after-free / race.
namespace {
// One round of the test below: a channel of T, `v` handed through its slot,
// the channel destroyed by the partner right after its operation returned.
template <class T>
void destroy_after_handoff(const ScopedRecorder& rec, bool receiver_parks, const T& v) {
  auto ch = std::make_unique<Chan<T>>();
  Chan<int> result(1);
  std::thread t;
  if (receiver_parks) {
    t = std::thread([&, c = ch.get()] { result.send(c->recv() == v ? 1 : 0); });
    until_blocked(rec, WaitObject::chan_recv, ch->id(), 1);
    if (::testing::Test::HasFatalFailure()) return t.join();  // the hang detector fired: t is stuck
    ch->send(v);
  } else {
    t = std::thread([&, c = ch.get()] {
      c->send(v);
      result.send(1);
    });
    until_blocked(rec, WaitObject::chan_send, ch->id(), 1);
    if (::testing::Test::HasFatalFailure()) return t.join();
    EXPECT_EQ(ch->recv(), v);
  }
  ch.reset();  // the woken thread may not have returned from its operation yet
  EXPECT_EQ(recv_bounded(result), 1);
  t.join();
}
}  // namespace

TEST(ChanFastSlot, ThePartnerMayDestroyTheChannelOnceItsOperationReturned) {
  ScopedRecorder rec;
  constexpr int kRounds = kSanitized ? 200 : 2000;
  for (int round = 0; round < kRounds && !::testing::Test::HasFailure(); ++round)
    for (bool receiver_parks : {true, false}) {
      destroy_after_handoff(rec, receiver_parks, round);  // in the slot's line
      destroy_after_handoff(rec, receiver_parks, std::string(32, static_cast<char>('a' + round % 26)));  // beside it
    }
}

// Many blind senders and receivers and select receivers on one channel: the
// slot is taken and reused by different threads, waiters mix between slot
// and queue, and every value arrives exactly once.
TEST(ChanFastSlot, ManySendersAndReceiversLoseNothing) {
  constexpr int kSenders = 3, kBlind = 2, kSelecting = 2;
  const int per = kStream / kSenders;
  const int n = per * kSenders;
  Chan<int> ch;
  Chan<int> got(static_cast<std::size_t>(n));
  auto [ctx, cancel] = with_cancel(background());
  std::vector<std::thread> ts;
  for (int s = 0; s < kSenders; ++s)
    ts.emplace_back([&, s] {
      for (int i = 0; i < per; ++i) ch.send(s * per + i);
    });
  for (int r = 0; r < kBlind; ++r)
    ts.emplace_back([&] {
      while (auto v = ch.recv()) got.send(*v);
    });
  for (int r = 0; r < kSelecting; ++r)
    ts.emplace_back([&] {
      for (;;) {
        std::optional<int> v;
        if (select(ch.on_recv(v), ctx.done()) == 1 || !v) return;
        got.send(*v);
      }
    });
  std::vector<int> all;
  for (int i = 0; i < n; ++i) {
    auto v = recv_bounded(got);
    ASSERT_TRUE(v);
    all.push_back(*v);
  }
  ch.close();
  for (auto& t : ts) t.join();
  cancel();
  expect_each_once(all, n);
}

// Close racing with handoffs through the slot: every send that returned was
// received exactly once, every other one threw, and every receiver ends with
// nullopt.
TEST(ChanFastSlot, CloseRacingWithHandoffs) {
  for (int round = 0; round < (kSanitized ? 10 : 50); ++round) {
    Chan<int> ch;
    constexpr int kSenders = 2, kReceivers = 2;
    std::vector<std::vector<int>> sent(kSenders), received(kReceivers);
    Chan<int> progress(1024);
    std::vector<std::thread> ts;
    for (int s = 0; s < kSenders; ++s)
      ts.emplace_back([&, s] {
        try {
          for (int i = 0;; ++i) {
            ch.send(s * 1'000'000 + i);
            sent[static_cast<std::size_t>(s)].push_back(s * 1'000'000 + i);
          }
        } catch (const closed_channel_error&) {
        }
      });
    for (int r = 0; r < kReceivers; ++r)
      ts.emplace_back([&, r] {
        while (auto v = ch.recv()) {
          received[static_cast<std::size_t>(r)].push_back(*v);
          if (received[static_cast<std::size_t>(r)].size() == 50) progress.send(r);
        }
      });
    ASSERT_TRUE(recv_bounded(progress));  // some handoffs done: close in the middle of the stream
    ch.close();
    for (auto& t : ts) t.join();
    std::vector<int> s_all, r_all;
    for (auto& v : sent) s_all.insert(s_all.end(), v.begin(), v.end());
    for (auto& v : received) r_all.insert(r_all.end(), v.begin(), v.end());
    std::sort(s_all.begin(), s_all.end());
    std::sort(r_all.begin(), r_all.end());
    ASSERT_EQ(s_all, r_all) << "a completed send was not received once, or a value arrived twice";
  }
}

// Values that are not trivially copyable (moved out of the slot) and values
// too large for the channel's first cache line (kept beside it), through a
// parked receiver and through a parked sender.
TEST(ChanFastSlot, MoveOnlyAndLargeValuesThroughTheSlot) {
  ScopedRecorder rec;
  Chan<std::unique_ptr<int>> p;
  std::thread r1([&] { EXPECT_EQ(*p.recv().value(), 7); });
  until_blocked(rec, WaitObject::chan_recv, p.id(), 1);
  p.send(std::make_unique<int>(7));
  r1.join();
  std::thread s1([&] { p.send(std::make_unique<int>(8)); });
  until_blocked(rec, WaitObject::chan_send, p.id(), 1);
  EXPECT_EQ(*recv_bounded(p).value(), 8);
  s1.join();

  static_assert(!detail::ChanState<std::string>::kFastInline);
  Chan<std::string> s;
  const std::string big(1000, 'x');
  std::thread r2([&] { EXPECT_EQ(s.recv(), big); });
  until_blocked(rec, WaitObject::chan_recv, s.id(), 1);
  s.send(big);
  r2.join();
  std::thread s2([&] { s.send(big + "y"); });
  until_blocked(rec, WaitObject::chan_send, s.id(), 1);
  EXPECT_EQ(recv_bounded(s), big + "y");
  s2.join();
}

// A parked wait is recorded exactly like the engine's one-case wait: one
// wait_begin (object, channel, label, one case) and a wait_end with the
// outcome — value, or closed for a receiver and for a sender ended by close.
TEST(ChanFastSlot, ParkedWaitsAreRecordedWithTheirOutcome) {
  ScopedRecorder rec;
  Chan<int> ch(0, "slot");
  std::thread r([&] { EXPECT_EQ(ch.recv(), std::nullopt); });
  until_blocked(rec, WaitObject::chan_recv, ch.id(), 1);
  ch.close();
  r.join();
  Chan<int> tx(0, "slot-send");
  std::thread s([&] { EXPECT_THROW(tx.send(1), closed_channel_error); });
  until_blocked(rec, WaitObject::chan_send, tx.id(), 1);
  tx.close();
  s.join();
  for (auto [obj, id, label] : {std::tuple{WaitObject::chan_recv, ch.id(), "slot"},
                                std::tuple{WaitObject::chan_send, tx.id(), "slot-send"}}) {
    auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == id; });
    ASSERT_EQ(begins.size(), 1u);
    EXPECT_EQ(begins[0].kind, u8(obj));
    EXPECT_EQ(begins[0].aux, 1);
    EXPECT_EQ(begins[0].ref, 0u);
    ASSERT_NE(begins[0].text, nullptr);
    EXPECT_STREQ(begins[0].text, label);
    Event e = rec.only(EventType::wait_end, begins[0].id);
    EXPECT_EQ(e.kind, u8(WaitOutcome::closed));
    EXPECT_EQ(e.value, 0u);
  }
}
