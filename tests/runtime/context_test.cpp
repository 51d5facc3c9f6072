// Behaviours of the context tree, ported from Go's src/context tests
// (context_test.go / x_test.go): parent finishes child, child finishes first,
// deadlines and timeouts, values, layered and interlocked cancels, cancel
// removes the child, cause rules, WithoutCancel; plus the C++ error mapping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"
#include "runtime/tree_probe.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::await_done;
using ctxscope::testing::registered_children;

namespace {

// A cause distinct from the context errors, as Go's tests use errors.New.
std::error_code cause_a() { return std::make_error_code(std::errc::connection_reset); }
std::error_code cause_b() { return std::make_error_code(std::errc::broken_pipe); }

}  // namespace

// ------------------------------------------------------------------ errors

TEST(ContextErrors, BackgroundAndTodoAreNeverDone) {
  for (const Context& c : {background(), todo()}) {
    EXPECT_FALSE(c.err());
    EXPECT_FALSE(c.cause());
    EXPECT_FALSE(c.deadline().has_value());
    EXPECT_FALSE(c.done().ready());
    EXPECT_FALSE(c.stop_token().stop_possible());
  }
  EXPECT_EQ(background().id(), 1u);
  EXPECT_EQ(todo().id(), 2u);
  EXPECT_EQ(background().kind(), Kind::background);
  EXPECT_EQ(todo().kind(), Kind::todo);
  EXPECT_EQ(background(), Context{});
  EXPECT_EQ(background().parent(), background());
}

TEST(ContextErrors, ErrIsEmptyBeforeDoneAndCanceledAfter) {
  auto [ctx, cancel] = with_cancel(background());
  EXPECT_FALSE(ctx.err());
  EXPECT_FALSE(ctx.done().ready());
  cancel();
  EXPECT_TRUE(ctx.done().ready());
  EXPECT_EQ(ctx.err(), errc::canceled);
  EXPECT_NE(ctx.err(), errc::deadline_exceeded);
  EXPECT_EQ(ctx.err().category(), context_category());
  EXPECT_EQ(ctx.err().message(), "context canceled");
  EXPECT_STREQ(ctx.err().category().name(), "ctxscope.context");
}

TEST(ContextErrors, DeadlineExceededAlsoEqualsTimedOut) {
  auto [ctx, cancel] = with_deadline(background(), Clock::now() - 1s);
  std::error_code e = ctx.err();
  EXPECT_EQ(e, errc::deadline_exceeded);
  EXPECT_EQ(e, std::errc::timed_out);
  EXPECT_NE(e, errc::canceled);
  EXPECT_EQ(e.message(), "context deadline exceeded");
  // canceled is not a timeout
  auto [c2, cancel2] = with_cancel(background());
  cancel2();
  EXPECT_NE(c2.err(), std::errc::timed_out);
  EXPECT_EQ(c2.err(), std::errc::operation_canceled);
}

TEST(ContextErrors, ErrIsStableOnceDone) {
  // A timeout cancelled explicitly stays canceled after its deadline passes.
  auto [ctx, cancel] = with_timeout(background(), 5ms);
  cancel();
  // Timers fire in deadline order: once a later one has fired, ctx's is past.
  auto [later, stop_later] = with_timeout(background(), 20ms);
  EXPECT_EQ(await_done(later), errc::deadline_exceeded);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ctx.err(), errc::canceled);
  cancel();
  EXPECT_EQ(ctx.err(), errc::canceled);
  // and a fired deadline stays deadline_exceeded after an explicit cancel
  stop_later();
  EXPECT_EQ(later.err(), errc::deadline_exceeded);
  EXPECT_EQ(later.cause(), errc::deadline_exceeded);
}

// ------------------------------------------------------------ tree shape

TEST(ContextTree, ParentCancelFinishesEveryDescendant) {
  auto [parent, cancel] = with_cancel(background());
  auto [child, cc] = with_cancel(parent);
  auto [timed, tc] = with_timeout(child, 1h);
  static const Key<int> k("k");
  Context valued = with_value(timed, k, 7);
  auto [grand, gc] = with_cancel_cause(valued);
  EXPECT_EQ(registered_children(parent), 1u);
  EXPECT_EQ(registered_children(child), 1u);
  EXPECT_EQ(registered_children(timed), 1u);  // grand registers with timed through the value node

  cancel();
  for (const Context& c : {parent, child, timed, valued, grand}) {
    EXPECT_TRUE(c.done().ready()) << c.id();
    EXPECT_EQ(c.err(), errc::canceled) << c.id();
    EXPECT_EQ(c.cause(), errc::canceled) << c.id();
  }
  EXPECT_EQ(registered_children(parent), 0u);
  EXPECT_EQ(registered_children(child), 0u);
  EXPECT_EQ(registered_children(timed), 0u);
}

TEST(ContextTree, ChildCancelLeavesParentAndSiblingsLive) {
  auto [parent, cancel] = with_cancel(background());
  auto [a, ca] = with_cancel(parent);
  auto [b, cb] = with_cancel(parent);
  auto [a1, ca1] = with_cancel(a);
  EXPECT_EQ(registered_children(parent), 2u);
  ca();
  EXPECT_EQ(a.err(), errc::canceled);
  EXPECT_EQ(a1.err(), errc::canceled);
  EXPECT_FALSE(parent.err());
  EXPECT_FALSE(b.err());
  EXPECT_EQ(registered_children(parent), 1u);  // a removed itself; b remains
  cancel();
  EXPECT_EQ(b.err(), errc::canceled);
}

TEST(ContextTree, CancelRemovesTheChildFromItsParent) {
  // Go's TestCancelRemoves: a cancelled child is no longer held by its parent,
  // for with_cancel, with_timeout and with_cancel_cause children alike.
  auto [parent, cancel] = with_cancel(background());
  auto [c1, cancel1] = with_cancel(parent);
  EXPECT_EQ(registered_children(parent), 1u);
  cancel1();
  EXPECT_EQ(registered_children(parent), 0u);

  auto [c2, cancel2] = with_timeout(parent, 1h);
  EXPECT_EQ(registered_children(parent), 1u);
  cancel2();
  EXPECT_EQ(registered_children(parent), 0u);

  auto [c3, cancel3] = with_cancel_cause(parent);
  EXPECT_EQ(registered_children(parent), 1u);
  cancel3(cause_a());
  EXPECT_EQ(registered_children(parent), 0u);

  // a child whose deadline fired removes itself too
  auto [c4, cancel4] = with_timeout(parent, 1ms);
  EXPECT_EQ(await_done(c4), errc::deadline_exceeded);
  EXPECT_TRUE(ctxscope::testing::eventually([&] { return registered_children(parent) == 0; }));
}

TEST(ContextTree, ChildWhoseCancelIsNeverCalledStaysRegisteredUntilDropped) {
  auto [parent, cancel] = with_cancel(background());
  {
    auto [child, child_cancel] = with_cancel(parent);
    EXPECT_EQ(registered_children(parent), 1u);
  }
  EXPECT_EQ(registered_children(parent), 0u);  // dropping every handle unregisters
  EXPECT_FALSE(parent.err());
}

TEST(ContextTree, ChildOfDoneParentIsBornDone) {
  auto [parent, cancel] = with_cancel_cause(background());
  cancel(cause_a());
  auto [c1, k1] = with_cancel(parent);
  auto [c2, k2] = with_timeout(parent, 1h);
  auto [c3, k3] = with_cancel_cause(parent);
  static const Key<int> key("k");
  Context v = with_value(parent, key, 1);
  auto [c4, k4] = with_deadline(v, Clock::now() + 1h);
  for (const Context& c : {c1, c2, c3, v, c4}) {
    EXPECT_TRUE(c.done().ready()) << c.id();
    EXPECT_EQ(c.err(), errc::canceled) << c.id();
    EXPECT_EQ(c.cause(), cause_a()) << c.id();
  }
  EXPECT_EQ(registered_children(parent), 0u);
}

TEST(ContextTree, ChildOfExpiredParentIsBornDoneWithDeadlineExceeded) {
  auto [parent, cancel] = with_deadline(background(), Clock::now() - 1s);
  auto [child, cc] = with_cancel(parent);
  EXPECT_EQ(child.err(), errc::deadline_exceeded);
  EXPECT_EQ(child.cause(), errc::deadline_exceeded);
}

TEST(ContextTree, CancelIsIdempotent) {
  auto [ctx, cancel] = with_cancel_cause(background());
  cancel(cause_a());
  cancel(cause_b());
  cancel();
  EXPECT_EQ(ctx.err(), errc::canceled);
  EXPECT_EQ(ctx.cause(), cause_a());  // the first cancel wins
}

TEST(ContextTree, ConcurrentCancelsAgreeOnOneOutcome) {
  auto [ctx, cancel] = with_cancel_cause(background());
  auto [child, cc] = with_cancel(ctx);
  constexpr int kThreads = 8;
  std::latch go(kThreads);
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i)
    ts.emplace_back([&, i, cancel = cancel] {
      go.arrive_and_wait();
      cancel(std::error_code(100 + i, std::generic_category()));
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ctx.err(), errc::canceled);
  const int winner = ctx.cause().value();
  EXPECT_GE(winner, 100);
  EXPECT_LT(winner, 100 + kThreads);
  EXPECT_EQ(child.cause(), ctx.cause());
}

TEST(ContextTree, ParentReturnsTheContextDerivedFrom) {
  auto [a, ca] = with_cancel(background());
  static const Key<int> k("k");
  Context v = with_value(a, k, 1);
  EXPECT_EQ(v.parent(), a);
  EXPECT_EQ(a.parent(), background());
  EXPECT_EQ(v.kind(), Kind::value);
  EXPECT_EQ(a.kind(), Kind::cancel);
}

TEST(ContextTree, SimultaneousCancelsFinishEveryWaiter) {
  // Go's TestSimultaneousCancels: a tree with a waiter on every node; cancel
  // the root from several threads at once; every wait returns.
  auto [root, cancel] = with_cancel(background());
  std::vector<Context> nodes{root};
  std::vector<CancelFunc> cancels{cancel};
  for (int i = 0; i < 30; ++i) {
    auto [c, k] = with_cancel(nodes[static_cast<std::size_t>(i) / 3]);
    nodes.push_back(c);
    cancels.push_back(k);
  }
  std::atomic<int> finished{0};
  std::vector<std::thread> waiters;
  for (const Context& c : nodes)
    waiters.emplace_back([c, &finished] {
      EXPECT_EQ(c.done().wait(), errc::canceled);
      finished.fetch_add(1);
    });
  std::latch go(4);
  std::vector<std::thread> cancellers;
  for (int i = 0; i < 4; ++i)
    cancellers.emplace_back([&, i] {
      go.arrive_and_wait();
      cancels[static_cast<std::size_t>(i)]();  // root and three of its descendants
    });
  for (auto& t : cancellers) t.join();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(finished.load(), static_cast<int>(nodes.size()));
  for (const Context& c : nodes) EXPECT_EQ(c.err(), errc::canceled);
}

TEST(ContextTree, InterlockedCancelsDoNotDeadlock) {
  // Go's TestInterlockedCancels: a goroutine that waits for the parent and
  // then cancels the child; and the same from inside a stop callback, which
  // runs on the cancelling thread.
  auto [parent, cancel_parent] = with_cancel(background());
  auto [child, cancel_child] = with_cancel(parent);
  std::thread t([parent = parent, cancel_child = cancel_child] {
    parent.done().wait();
    cancel_child();
  });
  std::stop_callback cb(parent.stop_token(), [cancel_child = cancel_child] { cancel_child(); });
  cancel_parent();
  t.join();
  EXPECT_EQ(child.err(), errc::canceled);

  // a child's cancel that cancels its own parent from a stop callback
  auto [p2, cp2] = with_cancel(background());
  auto [c2, cc2] = with_cancel(p2);
  std::stop_callback cb2(c2.stop_token(), [cp2 = cp2] { cp2(); });
  cc2();
  EXPECT_EQ(p2.err(), errc::canceled);
}

// ------------------------------------------------------ deadline / timeout

TEST(ContextDeadline, DeadlineFiresWithDeadlineExceeded) {
  const auto d = Clock::now() + 20ms;
  auto [ctx, cancel] = with_deadline(background(), d);
  ASSERT_TRUE(ctx.deadline().has_value());
  EXPECT_EQ(*ctx.deadline(), d);
  EXPECT_FALSE(ctx.err());
  EXPECT_EQ(await_done(ctx), errc::deadline_exceeded);
  EXPECT_GE(Clock::now(), d);  // never early
  EXPECT_EQ(ctx.cause(), errc::deadline_exceeded);
}

TEST(ContextDeadline, TimeoutFiresWithDeadlineExceeded) {
  const auto before = Clock::now();
  auto [ctx, cancel] = with_timeout(background(), 20ms);
  ASSERT_TRUE(ctx.deadline().has_value());
  EXPECT_GE(*ctx.deadline(), before + 20ms);
  EXPECT_EQ(await_done(ctx), errc::deadline_exceeded);
  EXPECT_GE(Clock::now(), before + 20ms);
}

TEST(ContextDeadline, DeadlineFinishesDescendants) {
  auto [ctx, cancel] = with_timeout(background(), 10ms);
  auto [child, cc] = with_cancel(ctx);
  static const Key<int> k("k");
  auto [grand, gc] = with_cancel(with_value(child, k, 1));
  EXPECT_EQ(await_done(grand), errc::deadline_exceeded);
  EXPECT_EQ(child.err(), errc::deadline_exceeded);
  EXPECT_EQ(grand.cause(), errc::deadline_exceeded);
}

TEST(ContextDeadline, ChildDeadlineIsTheEarlierOfItsOwnAndItsParents) {
  auto [parent, pc] = with_timeout(background(), 1min);
  auto [longer, lc] = with_timeout(parent, 1h);
  EXPECT_EQ(longer.deadline(), parent.deadline());
  auto [shorter, sc] = with_timeout(parent, 1s);
  ASSERT_TRUE(shorter.deadline().has_value());
  EXPECT_LT(*shorter.deadline(), *parent.deadline());
  auto [later_abs, ac] = with_deadline(parent, *parent.deadline() + 1h);
  EXPECT_EQ(later_abs.deadline(), parent.deadline());
  // a plain cancel or value child inherits the deadline
  auto [plain, pc2] = with_cancel(shorter);
  EXPECT_EQ(plain.deadline(), shorter.deadline());
  static const Key<int> k("k");
  EXPECT_EQ(with_value(plain, k, 1).deadline(), shorter.deadline());
}

TEST(ContextDeadline, ChildWithLaterDeadlineIsFinishedByParentsDeadline) {
  auto [parent, pc] = with_timeout(background(), 10ms);
  auto [child, cc] = with_timeout(parent, 1h);
  EXPECT_EQ(await_done(child), errc::deadline_exceeded);
  EXPECT_EQ(parent.err(), errc::deadline_exceeded);
}

TEST(ContextDeadline, DeadlineInThePastIsBornDone) {
  auto [ctx, cancel] = with_deadline(background(), Clock::now() - 1ms);
  EXPECT_TRUE(ctx.done().ready());
  EXPECT_EQ(ctx.err(), errc::deadline_exceeded);
  auto [z, zc] = with_timeout(background(), 0s);
  EXPECT_EQ(z.err(), errc::deadline_exceeded);
}

TEST(ContextDeadline, CanceledTimeoutReportsCanceled) {
  // Go's TestCanceledTimeout
  auto [ctx, cancel] = with_timeout(background(), 1h);
  auto [child, cc] = with_cancel(ctx);
  cancel();
  EXPECT_EQ(await_done(child), errc::canceled);
  EXPECT_EQ(ctx.err(), errc::canceled);
}

// ----------------------------------------------------------------- values

TEST(ContextValues, ValuesAreFoundThroughTheNearestAncestor) {
  // Go's TestValues
  static const Key<std::string> k1("k1"), k2("k2");
  static const Key<std::string> k3("k1");  // same name, different key
  Context c0 = background();
  EXPECT_EQ(c0.value(k1), nullptr);
  Context c1 = with_value(c0, k1, std::string("c1k1"));
  ASSERT_NE(c1.value(k1), nullptr);
  EXPECT_EQ(*c1.value(k1), "c1k1");
  EXPECT_EQ(c1.value(k2), nullptr);
  EXPECT_EQ(c1.value(k3), nullptr);  // identity is the key object, not its name
  Context c2 = with_value(c1, k2, std::string("c2k2"));
  EXPECT_EQ(*c2.value(k1), "c1k1");
  EXPECT_EQ(*c2.value(k2), "c2k2");
  Context c3 = with_value(c2, k3, std::string("c3k3"));
  EXPECT_EQ(*c3.value(k3), "c3k3");
  EXPECT_EQ(*c3.value(k1), "c1k1");
  Context c4 = with_value(c3, k1, std::string("c4k1"));  // shadows
  EXPECT_EQ(*c4.value(k1), "c4k1");
  EXPECT_EQ(*c3.value(k1), "c1k1");  // the parent is unchanged
  auto [c5, cancel] = with_cancel(c4);
  EXPECT_EQ(*c5.value(k1), "c4k1");
  EXPECT_EQ(*c5.value(k2), "c2k2");
  cancel();
  EXPECT_EQ(*c5.value(k2), "c2k2");  // values survive cancellation
}

TEST(ContextValues, ValuesOfDifferentTypesDoNotCollide) {
  static const Key<int> ki("same");
  static const Key<double> kd("same");
  Context c = with_value(with_value(background(), ki, 3), kd, 2.5);
  ASSERT_NE(c.value(ki), nullptr);
  EXPECT_EQ(*c.value(ki), 3);
  EXPECT_EQ(*c.value(kd), 2.5);
}

TEST(ContextValues, LayeredCancelsAndValues) {
  // Go's TestLayersCancel: value / cancel / value / cancel layers; cancelling
  // the inner layer leaves the outer live; the outer cancel finishes all.
  static const Key<int> k1("k1"), k2("k2");
  auto [c0, cancel0] = with_cancel(background());
  Context v1 = with_value(c0, k1, 1);
  auto [c1, cancel1] = with_cancel(v1);
  Context v2 = with_value(c1, k2, 2);
  auto [c2, cancel2] = with_timeout(v2, 1h);
  EXPECT_EQ(*c2.value(k1), 1);
  EXPECT_EQ(*c2.value(k2), 2);
  cancel1();
  EXPECT_EQ(c2.err(), errc::canceled);
  EXPECT_EQ(v2.err(), errc::canceled);
  EXPECT_FALSE(v1.err());
  EXPECT_FALSE(c0.err());
  cancel0();
  EXPECT_EQ(v1.err(), errc::canceled);
}

TEST(ContextValues, LayeredTimeouts) {
  // Go's TestLayersTimeout: the shortest timeout in the chain finishes the
  // inner layers with deadline_exceeded while the outer stay live.
  static const Key<int> k("k");
  auto [outer, oc] = with_timeout(background(), 1h);
  Context v = with_value(outer, k, 1);
  auto [mid, mc] = with_timeout(v, 10ms);
  auto [inner, ic] = with_cancel(mid);
  EXPECT_EQ(await_done(inner), errc::deadline_exceeded);
  EXPECT_EQ(mid.err(), errc::deadline_exceeded);
  EXPECT_FALSE(outer.err());
  EXPECT_FALSE(v.err());
  EXPECT_EQ(*inner.value(k), 1);
}

// ------------------------------------------------------------------ cause

TEST(ContextCause, CancelWithCauseReportsIt) {
  auto [ctx, cancel] = with_cancel_cause(background());
  EXPECT_FALSE(ctx.cause());
  cancel(cause_a());
  EXPECT_EQ(ctx.err(), errc::canceled);
  EXPECT_EQ(ctx.cause(), cause_a());
}

TEST(ContextCause, CancelWithoutCauseReportsCanceled) {
  auto [ctx, cancel] = with_cancel_cause(background());
  cancel();
  EXPECT_EQ(ctx.cause(), errc::canceled);
  auto [c2, k2] = with_cancel_cause(background());
  k2(std::error_code{});
  EXPECT_EQ(c2.cause(), errc::canceled);
  auto [c3, k3] = with_cancel(background());
  k3();
  EXPECT_EQ(c3.cause(), errc::canceled);
}

TEST(ContextCause, ParentCauseReachesDescendants) {
  auto [parent, cancel] = with_cancel_cause(background());
  auto [child, cc] = with_cancel(parent);
  auto [timed, tc] = with_timeout(child, 1h);
  cancel(cause_a());
  EXPECT_EQ(child.cause(), cause_a());
  EXPECT_EQ(timed.cause(), cause_a());
  EXPECT_EQ(timed.err(), errc::canceled);
}

TEST(ContextCause, ChildCancelledFirstKeepsItsOwnCause) {
  auto [parent, cancel] = with_cancel_cause(background());
  auto [child, cc] = with_cancel_cause(parent);
  cc(cause_b());
  cancel(cause_a());
  EXPECT_EQ(child.cause(), cause_b());
  EXPECT_EQ(parent.cause(), cause_a());
}

TEST(ContextCause, ParentCancelledFirstWinsOverChildsLaterCause) {
  auto [parent, cancel] = with_cancel_cause(background());
  auto [child, cc] = with_cancel_cause(parent);
  cancel(cause_a());
  cc(cause_b());
  EXPECT_EQ(child.cause(), cause_a());
}

TEST(ContextCause, TimeoutCauseIsReportedWhenTheDeadlineFires) {
  auto [ctx, cancel] = with_timeout_cause(background(), 5ms, cause_a());
  EXPECT_EQ(await_done(ctx), errc::deadline_exceeded);
  EXPECT_EQ(ctx.cause(), cause_a());
  auto [past, pc] = with_deadline_cause(background(), Clock::now() - 1s, cause_b());
  EXPECT_EQ(past.err(), errc::deadline_exceeded);
  EXPECT_EQ(past.cause(), cause_b());
}

TEST(ContextCause, DeadlineCauseIsNotUsedWhenCancelledExplicitly) {
  auto [ctx, cancel] = with_deadline_cause(background(), Clock::now() + 1h, cause_a());
  cancel();
  EXPECT_EQ(ctx.err(), errc::canceled);
  EXPECT_EQ(ctx.cause(), errc::canceled);
}

TEST(ContextCause, ParentTimeoutCauseReachesChildren) {
  auto [parent, pc] = with_timeout_cause(background(), 5ms, cause_a());
  auto [child, cc] = with_cancel(parent);
  EXPECT_EQ(await_done(child), errc::deadline_exceeded);
  EXPECT_EQ(child.cause(), cause_a());
}

TEST(ContextCause, ChildDeadlineInheritedFromParentReportsParentsCause) {
  // Go: WithTimeoutCause child of a parent whose deadline is earlier: the
  // parent fires first and its cause (not the child's) is reported.
  auto [parent, pc] = with_timeout_cause(background(), 5ms, cause_a());
  auto [child, cc] = with_timeout_cause(parent, 1h, cause_b());
  EXPECT_EQ(await_done(child), errc::deadline_exceeded);
  EXPECT_EQ(child.cause(), cause_a());
}

TEST(ContextCause, ValueAndWithoutCancelPassCauseThrough) {
  static const Key<int> k("k");
  auto [parent, cancel] = with_cancel_cause(background());
  Context v = with_value(parent, k, 1);
  cancel(cause_a());
  EXPECT_EQ(v.cause(), cause_a());
  EXPECT_FALSE(without_cancel(parent).cause());
}

// --------------------------------------------------------- without_cancel

TEST(WithoutCancel, KeepsValuesButIsNeverDone) {
  static const Key<int> k("k");
  auto [parent, cancel] = with_timeout(with_value(background(), k, 42), 1h);
  Context wc = without_cancel(parent);
  EXPECT_EQ(wc.kind(), Kind::without_cancel);
  ASSERT_NE(wc.value(k), nullptr);
  EXPECT_EQ(*wc.value(k), 42);
  EXPECT_FALSE(wc.deadline().has_value());
  auto [child, cc] = with_cancel(wc);
  EXPECT_EQ(registered_children(parent), 0u);  // not attached to the cancelable parent
  cancel();
  EXPECT_EQ(parent.err(), errc::canceled);
  EXPECT_FALSE(wc.err());
  EXPECT_FALSE(wc.cause());
  EXPECT_FALSE(wc.done().ready());
  EXPECT_FALSE(wc.stop_token().stop_possible());
  EXPECT_FALSE(child.err());
  cc();
  EXPECT_EQ(child.err(), errc::canceled);
}

TEST(WithoutCancel, OfADoneParentIsLive) {
  auto [parent, cancel] = with_cancel(background());
  cancel();
  Context wc = without_cancel(parent);
  EXPECT_FALSE(wc.err());
  auto [child, cc] = with_timeout(wc, 1h);
  EXPECT_FALSE(child.err());
}
