// Channel and select semantics (Go's chan and select), and their events.
// Blocking is proven with the wait_begin event of the blocked thread (the
// operation is enqueued when it is recorded), never with sleeps.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::recv_bounded;
using ctxscope::testing::ScopedRecorder;

namespace {
std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }
}  // namespace

// --------------------------------------------------------------- basics

TEST(Chan, UnbufferedSendBlocksUntilReceived) {
  ScopedRecorder rec;
  Chan<int> ch;
  EXPECT_EQ(ch.capacity(), 0u);
  EXPECT_FALSE(ch.try_send(1));  // no receiver, no buffer
  std::atomic<bool> sent{false};
  std::thread sender([&] {
    ch.send(42);
    sent = true;
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, ch.id()));
  EXPECT_FALSE(sent.load());
  EXPECT_EQ(ch.size(), 0u);  // a rendezvous holds nothing in a buffer
  EXPECT_EQ(ch.recv(), 42);
  sender.join();
  EXPECT_TRUE(sent.load());
}

TEST(Chan, UnbufferedRecvBlocksUntilSent) {
  ScopedRecorder rec;
  Chan<std::string> ch;
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  Chan<std::string> got(1);
  std::thread receiver([&] { got.send(ch.recv().value_or("closed")); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, ch.id()));
  EXPECT_EQ(got.try_recv(), std::nullopt);
  ch.send("hello");
  EXPECT_EQ(recv_bounded(got), "hello");
  receiver.join();
}

TEST(Chan, BufferedIsFifoAndBlocksOnlyWhenFull) {
  Chan<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  ch.send(1);
  ch.send(2);
  EXPECT_TRUE(ch.try_send(3));
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_FALSE(ch.try_send(4));  // full
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_TRUE(ch.try_send(4));
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_EQ(ch.try_recv(), 3);
  EXPECT_EQ(ch.recv(), 4);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  EXPECT_EQ(ch.size(), 0u);
}

TEST(Chan, BlockedSenderOnAFullBufferIsAdmittedInOrder) {
  ScopedRecorder rec;
  Chan<int> ch(1);
  ch.send(1);
  std::thread sender([&] { ch.send(2); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, ch.id()));
  EXPECT_EQ(ch.recv(), 1);  // frees a slot; the blocked value moves into the buffer
  sender.join();
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch.recv(), 2);
}

TEST(Chan, MoveOnlyValuesAreTransferred) {
  Chan<std::unique_ptr<int>> ch(1);
  ch.send(std::make_unique<int>(7));
  auto v = ch.recv();
  ASSERT_TRUE(v.has_value());
  ASSERT_NE(*v, nullptr);
  EXPECT_EQ(**v, 7);
}

TEST(Chan, CopiesShareOneChannel) {
  Chan<int> a(1);
  Chan<int> b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.id(), b.id());
  a.send(5);
  EXPECT_EQ(b.recv(), 5);
  EXPECT_FALSE(Chan<int>(1) == a);
}

// ----------------------------------------------------------------- close

TEST(ChanClose, ReceiversDrainThenGetNullopt) {
  Chan<int> ch(2);
  ch.send(1);
  ch.send(2);
  ch.close();
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.try_recv(), 2);
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  Received<int> r = ch.recv(background());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.err);  // closed, not a context error
}

TEST(ChanClose, SendOnClosedChannelThrows) {
  Chan<int> ch(1);
  ch.close();
  EXPECT_THROW(ch.send(1), closed_channel_error);
  EXPECT_THROW(ch.try_send(1), closed_channel_error);
  EXPECT_THROW(ch.send(background(), 1), closed_channel_error);
  EXPECT_THROW(select(ch.on_send(1)), closed_channel_error);
}

TEST(ChanClose, DoubleCloseThrows) {
  Chan<int> ch;
  ch.close();
  EXPECT_THROW(ch.close(), closed_channel_error);
}

TEST(ChanClose, WakesABlockedReceiverWithNullopt) {
  ScopedRecorder rec;
  Chan<int> ch;
  Chan<bool> result(1);
  std::thread receiver([&] { result.send(ch.recv().has_value()); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, ch.id()));
  ch.close();
  EXPECT_EQ(recv_bounded(result), false);
  receiver.join();
}

TEST(ChanClose, WakesABlockedSenderWithTheThrow) {
  ScopedRecorder rec;
  Chan<int> ch;
  Chan<std::string> result(1);
  std::thread sender([&] {
    try {
      ch.send(1);
      result.send("sent");
    } catch (const closed_channel_error&) {
      result.send("threw");
    }
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, ch.id()));
  ch.close();
  EXPECT_EQ(recv_bounded(result), "threw");
  sender.join();
}

TEST(ChanClose, WakesEveryBlockedReceiver) {
  ScopedRecorder rec;
  Chan<int> ch;
  constexpr int kN = 4;
  Chan<bool> results(kN);
  std::vector<std::thread> ts;
  for (int i = 0; i < kN; ++i) ts.emplace_back([&] { results.send(ch.recv().has_value()); });
  ASSERT_TRUE(ctxscope::testing::eventually([&] {
    return rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == ch.id(); }).size() ==
           static_cast<std::size_t>(kN);
  }));
  ch.close();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(recv_bounded(results), false);
  for (auto& t : ts) t.join();
}

// --------------------------------------------------- ctx-aware operations

TEST(ChanContext, RecvGivesUpWithCtxErr) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> ch;
  Chan<std::error_code> result(1);
  std::thread t([&, ctx = ctx] {
    Received<int> r = ch.recv(ctx);
    EXPECT_FALSE(r.ok());
    result.send(r.err);
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, ch.id()));
  cancel();
  EXPECT_EQ(recv_bounded(result), std::optional<std::error_code>(errc::canceled));
  t.join();
}

TEST(ChanContext, SendGivesUpWithCtxErr) {
  auto [ctx, cancel] = with_timeout(background(), 5ms);
  Chan<int> ch;
  EXPECT_EQ(ch.send(ctx, 1), errc::deadline_exceeded);
  EXPECT_EQ(ch.try_recv(), std::nullopt);  // nothing was left behind
}

TEST(ChanContext, OperationsOnADoneContextFailAtOnceWhenTheChannelIsNotReady) {
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  Chan<int> ch;
  EXPECT_EQ(ch.send(ctx, 1), errc::canceled);
  EXPECT_EQ(ch.recv(ctx).err, errc::canceled);
}

TEST(ChanContext, SucceedsWhenTheChannelIsReadyAndTheContextLive) {
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> ch(1);
  EXPECT_FALSE(ch.send(ctx, 9));
  Received<int> r = ch.recv(ctx);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.value, 9);
  EXPECT_FALSE(r.err);
}

TEST(ChanContext, BlockedSendDeliversWhenAReceiverComes) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> ch;
  Chan<std::error_code> result(1);
  std::thread t([&, ctx = ctx] { result.send(ch.send(ctx, 3)); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, ch.id()));
  EXPECT_EQ(ch.recv(), 3);
  EXPECT_EQ(recv_bounded(result), std::optional<std::error_code>(std::error_code{}));
  t.join();
}

// ---------------------------------------------------------------- select

TEST(Select, PicksUniformlyAmongReadyCases) {
  Chan<int> a(1), b(1);
  constexpr int kTrials = 10000;
  int picked[2] = {0, 0};
  for (int i = 0; i < kTrials; ++i) {
    if (a.size() == 0) a.send(0);
    if (b.size() == 0) b.send(1);
    std::optional<int> va, vb;
    std::size_t k = select(a.on_recv(va), b.on_recv(vb));
    ASSERT_LT(k, 2u);
    ++picked[k];
    EXPECT_EQ(k == 0 ? va : vb, static_cast<int>(k));
    EXPECT_FALSE(k == 0 ? vb.has_value() : va.has_value());  // the loser did not run
  }
  // Binomial(10000, 0.5): sd 50; 40%..60% is 20 sd away.
  EXPECT_GE(picked[0], kTrials * 40 / 100);
  EXPECT_LE(picked[0], kTrials * 60 / 100);
  EXPECT_GE(picked[1], kTrials * 40 / 100);
  EXPECT_LE(picked[1], kTrials * 60 / 100);
}

TEST(Select, PicksUniformlyAmongReadyChannelAndDone) {
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  Chan<int> a(1);
  constexpr int kTrials = 10000;
  int done_won = 0;
  for (int i = 0; i < kTrials; ++i) {
    if (a.size() == 0) a.send(0);
    if (select(a.on_recv(), ctx.done()) == 1) ++done_won;
  }
  EXPECT_GE(done_won, kTrials * 40 / 100);
  EXPECT_LE(done_won, kTrials * 60 / 100);
}

TEST(Select, PicksUniformlyAmongReadySendCases) {
  // Go's TestPseudoRandomSend: two send cases on one buffered channel.
  Chan<int> c(1);
  constexpr int kTrials = 10000;
  int zeros = 0;
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_LT(select(c.on_send(0), c.on_send(1)), 2u);
    if (c.recv() == 0) ++zeros;
  }
  EXPECT_GE(zeros, kTrials * 40 / 100);
  EXPECT_LE(zeros, kTrials * 60 / 100);
}

TEST(Select, DefaultCaseMakesItNonBlocking) {
  ScopedRecorder rec;
  Chan<int> a, b;
  auto [ctx, cancel] = with_cancel(background());
  EXPECT_EQ(select(a.on_recv(), b.on_send(1), ctx.done(), DefaultCase{}), 3u);
  EXPECT_EQ(select(DefaultCase{}, a.on_recv()), 0u);
  // a default select that found nothing ready did not wait: no wait events
  EXPECT_TRUE(rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == a.id(); }).empty());
  // a ready case wins over default
  Chan<int> c(1);
  c.send(4);
  std::optional<int> v;
  EXPECT_EQ(select(c.on_recv(v), DefaultCase{}), 0u);
  EXPECT_EQ(v, 4);
}

TEST(Select, SendAndRecvCasesTogether) {
  ScopedRecorder rec;
  Chan<int> out, in;
  Chan<int> got(1);
  std::thread receiver([&] { got.send(out.recv().value_or(-1)); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, out.id()));
  std::optional<int> v;
  EXPECT_EQ(select(in.on_recv(v), out.on_send(11)), 1u);  // only the send can proceed
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(recv_bounded(got), 11);
  receiver.join();

  // and the blocking direction: a select parked on both, woken by a sender
  Chan<std::size_t> which(1);
  std::thread selector([&] {
    std::optional<int> r;
    std::size_t k = select(in.on_recv(r), out.on_send(12));
    EXPECT_EQ(r, 13);
    which.send(k);
  });
  ASSERT_TRUE(rec.wait_until([&](const Event& e) {
    return e.type == EventType::wait_begin && e.kind == u8(WaitObject::select) && e.aux == 2;
  }));
  in.send(13);
  EXPECT_EQ(recv_bounded(which), 0u);
  selector.join();
  EXPECT_EQ(out.try_recv(), std::nullopt);  // the losing send did not happen
}

TEST(Select, ExactlyOneCaseRunsWhenSeveralBecomeReady) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> a, b;
  Chan<std::size_t> which(1);
  std::thread selector([&, ctx = ctx] {
    std::optional<int> va, vb;
    which.send(select(a.on_recv(va), b.on_recv(vb), ctx.done()));
  });
  ASSERT_TRUE(rec.wait_blocked_on_ctx(ctx.id()));
  // Two senders race with a cancel; exactly one of them is taken.
  Chan<std::error_code> sa(1), sb(1);
  std::thread ta([&, ctx = ctx] { sa.send(a.send(ctx, 1)); });
  std::thread tb([&, ctx = ctx] { sb.send(b.send(ctx, 2)); });
  auto k = recv_bounded(which);
  cancel();
  auto ea = recv_bounded(sa), eb = recv_bounded(sb);
  ta.join();
  tb.join();
  selector.join();
  ASSERT_TRUE(k && ea && eb);
  const int delivered = (!*ea ? 1 : 0) + (!*eb ? 1 : 0);
  EXPECT_NE(*k, 2u);  // cancel came only after a case had won
  EXPECT_EQ(delivered, 1);
  EXPECT_EQ(*k == 0 ? *ea : *eb, std::error_code{});  // the winner's sender delivered
}

TEST(Select, RecvCaseSeesClose) {
  Chan<int> a;
  a.close();
  auto c = a.on_recv();
  EXPECT_EQ(select(c), 0u);
  EXPECT_TRUE(c.closed());
  EXPECT_FALSE(c.value().has_value());
}

TEST(Select, DuplicateChannelCasesDoNotDeadlock) {
  // Both cases lock the same channel; select must lock it once.
  Chan<int> a(1);
  a.send(1);
  std::optional<int> v1, v2;
  std::size_t k = select(a.on_recv(v1), a.on_recv(v2));
  EXPECT_EQ((k == 0 ? v1 : v2), 1);
}

// ----------------------------------------------------------------- events

TEST(ChanEvents, CreateAndCloseRecordIdCapacityLabelAndSite) {
  ScopedRecorder rec;
  Chan<int> ch(3, "jobs"); const auto line_create = __LINE__;
  Chan<int> anon;
  ch.close(); const auto line_close = __LINE__;
  Event c = rec.only(EventType::chan_create, ch.id());
  EXPECT_EQ(c.value, 3u);
  ASSERT_NE(c.text, nullptr);
  EXPECT_STREQ(c.text, "jobs");
  EXPECT_EQ(c.site.line(), line_create);
  EXPECT_EQ(c.thread, detail::current_thread_id());
  Event a = rec.only(EventType::chan_create, anon.id());
  EXPECT_EQ(a.value, 0u);
  EXPECT_EQ(a.text, nullptr);
  Event cl = rec.only(EventType::chan_close, ch.id());
  EXPECT_EQ(cl.site.line(), line_close);
  EXPECT_THROW(ch.close(), closed_channel_error);
  EXPECT_EQ(rec.of(EventType::chan_close, ch.id()).size(), 1u);  // a failed close is not a close
}

TEST(ChanEvents, BlockingRecvRecordsWaitBeginAndEnd) {
  ScopedRecorder rec;
  Chan<int> ch(0, "inbox");
  std::uint64_t recv_thread = 0;
  unsigned line = 0;
  std::thread t([&] {
    recv_thread = detail::current_thread_id();
    line = __LINE__ + 1;
    EXPECT_EQ(ch.recv(), 5);
  });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, ch.id()));
  ch.send(5);
  t.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == ch.id(); });
  ASSERT_EQ(begins.size(), 1u);  // the send found the receiver waiting: it did not block
  const Event& b = begins[0];
  EXPECT_EQ(b.kind, u8(WaitObject::chan_recv));
  EXPECT_EQ(b.ref, 0u);  // blind: no context case
  EXPECT_EQ(b.aux, 1);
  ASSERT_NE(b.text, nullptr);
  EXPECT_STREQ(b.text, "inbox");
  EXPECT_EQ(b.site.line(), line);
  EXPECT_EQ(b.thread, recv_thread);
  Event e = rec.only(EventType::wait_end, b.id);
  EXPECT_EQ(e.value, 0u);
  EXPECT_EQ(e.kind, u8(WaitOutcome::value));
  EXPECT_EQ(e.thread, recv_thread);
}

TEST(ChanEvents, CtxAwareWaitRecordsTheContextAndTheDoneOutcome) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> ch;
  std::thread t([&, ctx = ctx] { EXPECT_EQ(ch.send(ctx, 1), errc::canceled); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, ch.id()));
  cancel();
  t.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == ch.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].kind, u8(WaitObject::chan_send));
  EXPECT_EQ(begins[0].ref, ctx.id());
  EXPECT_EQ(begins[0].aux, 2);
  Event e = rec.only(EventType::wait_end, begins[0].id);
  EXPECT_EQ(e.kind, u8(WaitOutcome::done));
  EXPECT_EQ(e.value, 1u);  // the done case
  // returning ctx.err() is the observation of done, on the waiting thread
  Event o = rec.only(EventType::done_observed, ctx.id());
  EXPECT_EQ(o.thread, begins[0].thread);
}

TEST(ChanEvents, CloseEndsBlockedWaitsWithClosedOutcome) {
  ScopedRecorder rec;
  Chan<int> r, s;
  std::thread tr([&] { EXPECT_EQ(r.recv(), std::nullopt); });
  std::thread ts([&] { EXPECT_THROW(s.send(1), closed_channel_error); });
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_recv, r.id()));
  ASSERT_TRUE(rec.wait_blocked(WaitObject::chan_send, s.id()));
  r.close();
  s.close();
  tr.join();
  ts.join();
  for (const Chan<int>* c : {&r, &s}) {
    auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == c->id(); });
    ASSERT_EQ(begins.size(), 1u);
    EXPECT_EQ(rec.only(EventType::wait_end, begins[0].id).kind, u8(WaitOutcome::closed));
  }
}

TEST(ChanEvents, OperationOnAnAlreadyDoneContextIsAZeroLengthWait) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  cancel();
  Chan<int> ch;
  EXPECT_EQ(ch.recv(ctx).err, errc::canceled); const auto line = __LINE__;
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == ch.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].ref, ctx.id());
  EXPECT_EQ(begins[0].kind, u8(WaitObject::chan_recv));
  EXPECT_EQ(begins[0].site.line(), line);
  Event e = rec.only(EventType::wait_end, begins[0].id);
  EXPECT_EQ(e.kind, u8(WaitOutcome::done));
  EXPECT_EQ(e.value, 1u);
}

TEST(ChanEvents, OperationsThatDoNotBlockAreNotRecorded) {
  ScopedRecorder rec;
  Chan<int> ch(2);
  ch.send(1);
  EXPECT_TRUE(ch.try_send(2));
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.try_recv(), 2);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  auto [ctx, cancel] = with_cancel(background());
  EXPECT_FALSE(ch.send(ctx, 3));  // live ctx, ready channel
  EXPECT_TRUE(rec.where(EventType::wait_begin, [&](const Event& e) { return e.value == ch.id(); }).empty());
  EXPECT_TRUE(rec.of(EventType::done_observed, ctx.id()).empty());
}

TEST(ChanEvents, SelectRecordsCaseCountContextAndWinningIndex) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> a, b;
  unsigned line = 0;
  std::thread t([&, ctx = ctx] {
    std::optional<int> v;
    line = __LINE__ + 1;
    EXPECT_EQ(select(a.on_recv(), b.on_recv(v), ctx.done()), 1u);
    EXPECT_EQ(v, 8);
  });
  ASSERT_TRUE(rec.wait_blocked_on_ctx(ctx.id()));
  b.send(8);
  t.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.ref == ctx.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].kind, u8(WaitObject::select));
  EXPECT_EQ(begins[0].aux, 3);
  EXPECT_EQ(begins[0].site.line(), line);  // the select statement (its first case)
  Event e = rec.only(EventType::wait_end, begins[0].id);
  EXPECT_EQ(e.value, 1u);
  EXPECT_EQ(e.kind, u8(WaitOutcome::value));
}

TEST(ChanEvents, WaitingOnDoneAloneIsADoneWait) {
  ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  std::thread t([ctx = ctx] { EXPECT_EQ(ctx.done().wait(), errc::canceled); });
  ASSERT_TRUE(rec.wait_blocked_on_ctx(ctx.id()));
  cancel();
  t.join();
  auto begins = rec.where(EventType::wait_begin, [&](const Event& e) { return e.ref == ctx.id(); });
  ASSERT_EQ(begins.size(), 1u);
  EXPECT_EQ(begins[0].kind, u8(WaitObject::done));
  EXPECT_EQ(begins[0].aux, 1);
  EXPECT_EQ(begins[0].value, 0u);
  Event e = rec.only(EventType::wait_end, begins[0].id);
  EXPECT_EQ(e.kind, u8(WaitOutcome::done));
  EXPECT_EQ(e.value, 0u);
}
