// The runtime side of the recorder's round trip: every context
// instrumentation point emits exactly what detail/events.hpp's table says
// (ctx_create, ctx_cancel, ctx_release, cancel_dropped, done_observed).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <latch>
#include <thread>
#include <vector>
#include <string_view>
#include <system_error>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "runtime/bounded.hpp"
#include "runtime/event_recorder.hpp"

using namespace std::chrono_literals;
using namespace ctxscope;
using ctxscope::testing::await_done;
using ctxscope::testing::ScopedRecorder;

namespace {

std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }

bool from_this_file(const Event& e) {
  return std::string_view(e.site.file_name()).ends_with("context_events_test.cpp");
}

std::uint64_t ns(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

/// The types of the events about `id`, in order (for sequence assertions).
std::vector<EventType> types_about(const ScopedRecorder& rec, std::uint64_t id) {
  std::vector<EventType> out;
  for (const Event& e : rec.about(id)) out.push_back(e.type);
  return out;
}

}  // namespace

// -------------------------------------------------------------- ctx_create

TEST(ContextEvents, CreateRecordsParentKindDeadlineAndSite) {
  ScopedRecorder rec;
  auto [a, ka] = with_cancel(background()); const auto line_a = __LINE__;
  auto [b, kb] = with_cancel(a); const auto line_b = __LINE__;
  static const Key<int> key("request-id");
  Context v = with_value(b, key, 5); const auto line_v = __LINE__;
  auto [t, kt] = with_timeout(v, 1h); const auto line_t = __LINE__;
  auto [d, kd] = with_deadline(todo(), Clock::now() + 1h);
  auto [c, kc] = with_cancel_cause(t);
  Context w = without_cancel(c); const auto line_w = __LINE__;

  Event ea = rec.only(EventType::ctx_create, a.id());
  EXPECT_EQ(ea.ref, 1u);
  EXPECT_EQ(ea.value, 0u);
  EXPECT_EQ(ea.kind, u8(Kind::cancel));
  EXPECT_EQ(ea.aux, 0);  // background is not cancelable: not registered
  EXPECT_EQ(ea.text, nullptr);
  EXPECT_EQ(ea.site.line(), line_a);
  EXPECT_TRUE(from_this_file(ea));
  EXPECT_EQ(ea.thread, detail::current_thread_id());

  Event eb = rec.only(EventType::ctx_create, b.id());
  EXPECT_EQ(eb.ref, a.id());
  EXPECT_EQ(eb.kind, u8(Kind::cancel));
  EXPECT_EQ(eb.aux, 1);  // registered with a
  EXPECT_EQ(eb.site.line(), line_b);

  Event ev = rec.only(EventType::ctx_create, v.id());
  EXPECT_EQ(ev.ref, b.id());
  EXPECT_EQ(ev.kind, u8(Kind::value));
  ASSERT_NE(ev.text, nullptr);
  EXPECT_STREQ(ev.text, "request-id");
  EXPECT_EQ(ev.aux, 0);
  EXPECT_EQ(ev.value, 0u);
  EXPECT_EQ(ev.site.line(), line_v);

  Event et = rec.only(EventType::ctx_create, t.id());
  EXPECT_EQ(et.ref, v.id());  // the direct parent, even a value node
  EXPECT_EQ(et.kind, u8(Kind::timeout));
  EXPECT_EQ(et.aux, 1);       // registered with b, through v
  EXPECT_EQ(et.value, ns(*t.deadline()));
  EXPECT_EQ(et.site.line(), line_t);

  Event ed = rec.only(EventType::ctx_create, d.id());
  EXPECT_EQ(ed.ref, 2u);  // todo
  EXPECT_EQ(ed.kind, u8(Kind::deadline));
  EXPECT_EQ(ed.value, ns(*d.deadline()));
  EXPECT_EQ(ed.aux, 0);

  Event ec = rec.only(EventType::ctx_create, c.id());
  EXPECT_EQ(ec.kind, u8(Kind::cause));
  EXPECT_EQ(ec.ref, t.id());
  EXPECT_EQ(ec.value, 0u);  // no deadline of its own

  Event ew = rec.only(EventType::ctx_create, w.id());
  EXPECT_EQ(ew.kind, u8(Kind::without_cancel));
  EXPECT_EQ(ew.ref, c.id());
  EXPECT_EQ(ew.aux, 0);
  EXPECT_EQ(ew.site.line(), line_w);

  // background and todo are never announced
  EXPECT_TRUE(rec.of(EventType::ctx_create, 1).empty());
  EXPECT_TRUE(rec.of(EventType::ctx_create, 2).empty());
  // creation emits nothing else
  EXPECT_TRUE(rec.of(EventType::ctx_cancel, a.id()).empty());
  EXPECT_TRUE(rec.of(EventType::ctx_release, b.id()).empty());
}

TEST(ContextEvents, ChildDeadlineCappedByParentIsRecordedAsTheEffectiveDeadline) {
  ScopedRecorder rec;
  auto [p, kp] = with_timeout(background(), 1min);
  auto [c, kc] = with_timeout(p, 1h);
  EXPECT_EQ(rec.only(EventType::ctx_create, c.id()).value, ns(*p.deadline()));
}

// -------------------------------------------------------------- ctx_cancel

TEST(ContextEvents, ExplicitCancelRecordsSiteErrAndCause) {
  ScopedRecorder rec;
  auto [a, ka] = with_cancel(background());
  ka(); const auto line = __LINE__;
  Event e = rec.only(EventType::ctx_cancel, a.id());
  EXPECT_EQ(e.kind, u8(CancelReason::explicit_call));
  EXPECT_EQ(e.ref, 0u);
  EXPECT_EQ(e.value, 0u);
  EXPECT_EQ(e.err, u8(errc::canceled));
  EXPECT_EQ(e.code, static_cast<int>(errc::canceled));  // no cause: the cause is err
  ASSERT_NE(e.text, nullptr);
  EXPECT_STREQ(e.text, context_category().name());
  EXPECT_EQ(e.aux, 0);
  EXPECT_EQ(e.site.line(), line);
  EXPECT_TRUE(from_this_file(e));
  EXPECT_EQ(e.thread, detail::current_thread_id());
  // a second call on a context it already cancelled records nothing more
  ka();
  EXPECT_EQ(rec.of(EventType::ctx_cancel, a.id()).size(), 1u);
}

TEST(ContextEvents, CancelCauseRecordsTheCauseCodeAndCategory) {
  ScopedRecorder rec;
  auto [a, ka] = with_cancel_cause(background());
  ka(std::make_error_code(std::errc::connection_reset));
  Event e = rec.only(EventType::ctx_cancel, a.id());
  EXPECT_EQ(e.err, u8(errc::canceled));
  EXPECT_EQ(e.code, static_cast<int>(std::errc::connection_reset));
  ASSERT_NE(e.text, nullptr);
  EXPECT_STREQ(e.text, std::generic_category().name());
}

TEST(ContextEvents, ParentCancelRecordsParentAndOriginForEveryDescendant) {
  ScopedRecorder rec;
  auto [root, kr] = with_cancel_cause(background());
  auto [mid, km] = with_cancel(root);
  auto [leaf, kl] = with_timeout(mid, 1h);
  kr(std::make_error_code(std::errc::broken_pipe));

  Event em = rec.only(EventType::ctx_cancel, mid.id());
  EXPECT_EQ(em.kind, u8(CancelReason::parent));
  EXPECT_EQ(em.ref, root.id());
  EXPECT_EQ(em.value, root.id());
  EXPECT_EQ(em.err, u8(errc::canceled));
  EXPECT_EQ(em.code, static_cast<int>(std::errc::broken_pipe));  // the ancestor's cause
  EXPECT_STREQ(em.text, std::generic_category().name());
  EXPECT_EQ(em.aux, 0);

  Event el = rec.only(EventType::ctx_cancel, leaf.id());
  EXPECT_EQ(el.kind, u8(CancelReason::parent));
  EXPECT_EQ(el.ref, mid.id());    // the parent it was cancelled through
  EXPECT_EQ(el.value, root.id()); // where the cancellation started
  EXPECT_EQ(el.code, static_cast<int>(std::errc::broken_pipe));
  // siblings and ancestors of the origin are untouched: nothing about background
  EXPECT_TRUE(rec.of(EventType::ctx_cancel, 1).empty());
}

TEST(ContextEvents, CancelReachesChildrenThroughValueNodes) {
  ScopedRecorder rec;
  static const Key<int> key("k");
  auto [root, kr] = with_cancel(background());
  Context v = with_value(root, key, 1);
  auto [leaf, kl] = with_cancel(v);
  kr();
  Event el = rec.only(EventType::ctx_cancel, leaf.id());
  EXPECT_EQ(el.kind, u8(CancelReason::parent));
  EXPECT_EQ(el.value, root.id());
  // value nodes are never cancelled themselves: they share root's done signal
  EXPECT_TRUE(rec.of(EventType::ctx_cancel, v.id()).empty());
  // the release names the direct (tree) parent
  EXPECT_EQ(rec.only(EventType::ctx_release, leaf.id()).ref, v.id());
}

TEST(ContextEvents, DeadlineCancelIsRecordedOnTheTimerThread) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  auto [t, kt] = with_timeout_cause(p, 2ms, std::make_error_code(std::errc::timed_out));
  EXPECT_EQ(await_done(t), errc::deadline_exceeded);
  ASSERT_TRUE(rec.wait_until([&](const Event& e) {
    return e.type == EventType::ctx_release && e.id == t.id();
  }));
  Event e = rec.only(EventType::ctx_cancel, t.id());
  EXPECT_EQ(e.kind, u8(CancelReason::deadline));
  EXPECT_EQ(e.err, u8(errc::deadline_exceeded));
  EXPECT_EQ(e.ref, 0u);
  EXPECT_EQ(e.value, 0u);
  EXPECT_EQ(e.code, static_cast<int>(std::errc::timed_out));
  EXPECT_STREQ(e.text, std::generic_category().name());
  EXPECT_NE(e.thread, detail::current_thread_id());
  Event r = rec.only(EventType::ctx_release, t.id());
  EXPECT_EQ(r.kind, u8(ReleaseReason::own_cancel));
  EXPECT_EQ(r.ref, p.id());
}

TEST(ContextEvents, DeadlineWithoutCauseRecordsDeadlineExceededAsCause) {
  ScopedRecorder rec;
  auto [t, kt] = with_deadline(background(), Clock::now() + 1ms);
  EXPECT_EQ(await_done(t), errc::deadline_exceeded);
  ASSERT_TRUE(rec.wait_until([&](const Event& e) {
    return e.type == EventType::ctx_cancel && e.id == t.id();
  }));
  Event e = rec.only(EventType::ctx_cancel, t.id());
  EXPECT_EQ(e.code, static_cast<int>(errc::deadline_exceeded));
  EXPECT_STREQ(e.text, context_category().name());
}

TEST(ContextEvents, BornDoneRecordsCreateThenCancelWithParentAndOrigin) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel_cause(background());
  kp(std::make_error_code(std::errc::io_error));
  static const Key<int> key("k");
  Context v = with_value(p, key, 1);
  auto [c, kc] = with_timeout(v, 1h);
  auto seq = types_about(rec, c.id());
  ASSERT_EQ(seq.size(), 2u);
  EXPECT_EQ(seq[0], EventType::ctx_create);
  EXPECT_EQ(seq[1], EventType::ctx_cancel);
  EXPECT_EQ(rec.only(EventType::ctx_create, c.id()).aux, 0);  // never registered
  Event e = rec.only(EventType::ctx_cancel, c.id());
  EXPECT_EQ(e.kind, u8(CancelReason::born_done));
  EXPECT_EQ(e.ref, v.id());   // direct parent
  EXPECT_EQ(e.value, p.id()); // the done ancestor
  EXPECT_EQ(e.err, u8(errc::canceled));
  EXPECT_EQ(e.code, static_cast<int>(std::errc::io_error));
  // born done and never registered: no release, now or when dropped
  EXPECT_TRUE(rec.of(EventType::ctx_release, c.id()).empty());
}

TEST(ContextEvents, BornDoneOfExpiredDeadlineRecordsDeadline) {
  ScopedRecorder rec;
  auto [c, kc] = with_deadline(background(), Clock::now() - 1s);
  Event e = rec.only(EventType::ctx_cancel, c.id());
  EXPECT_EQ(e.kind, u8(CancelReason::deadline));
  EXPECT_EQ(e.err, u8(errc::deadline_exceeded));
}

TEST(ContextEvents, ExplicitCallOnAnAlreadyDoneContextIsRecordedOnceAsNoop) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  auto [c, kc] = with_cancel(p);
  kp();
  kc(); const auto line = __LINE__;
  kc();
  auto v = rec.of(EventType::ctx_cancel, c.id());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].kind, u8(CancelReason::parent));
  EXPECT_EQ(v[0].aux, 0);
  EXPECT_EQ(v[1].kind, u8(CancelReason::explicit_call));
  EXPECT_EQ(v[1].aux, 1);
  EXPECT_EQ(v[1].site.line(), line);
  EXPECT_EQ(v[1].err, u8(errc::canceled));
  // the noop call is still a call: nothing was dropped
  EXPECT_TRUE(rec.of(EventType::cancel_dropped, c.id()).empty());
}

TEST(ContextEvents, ConcurrentExplicitCancelsRecordOneStateChange) {
  ScopedRecorder rec;
  for (int round = 0; round < 50; ++round) {
    auto [c, k] = with_cancel(background());
    std::latch go(4);
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
      ts.emplace_back([&go, k = k] {
        go.arrive_and_wait();
        k();
      });
    for (auto& t : ts) t.join();
    auto v = rec.of(EventType::ctx_cancel, c.id());
    int changes = 0, noops = 0;
    for (const Event& e : v) {
      EXPECT_EQ(e.kind, u8(CancelReason::explicit_call));
      (e.aux == 0 ? changes : noops) += 1;
    }
    EXPECT_EQ(changes, 1);
    EXPECT_LE(noops, 1);  // recorded at most once
  }
}

TEST(ContextEvents, DeferredCancelRecordsTheDeferSite) {
  ScopedRecorder rec;
  auto [c, kc] = with_cancel(background());
  unsigned line = 0;
  {
    auto d = defer(kc); line = __LINE__;
  }
  EXPECT_EQ(rec.only(EventType::ctx_cancel, c.id()).site.line(), line);
  EXPECT_EQ(c.err(), errc::canceled);
}

// -------------------------------------------------------------- ctx_release

TEST(ContextEvents, OwnCancelReleasesFromTheParent) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  auto [c, kc] = with_cancel(p);
  kc();
  Event r = rec.only(EventType::ctx_release, c.id());
  EXPECT_EQ(r.kind, u8(ReleaseReason::own_cancel));
  EXPECT_EQ(r.ref, p.id());
  auto seq = types_about(rec, c.id());
  ASSERT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[0], EventType::ctx_create);
  EXPECT_EQ(seq[1], EventType::ctx_cancel);
  EXPECT_EQ(seq[2], EventType::ctx_release);
  // a later parent cancel does not release it again
  kp();
  EXPECT_EQ(rec.of(EventType::ctx_release, c.id()).size(), 1u);
  EXPECT_EQ(rec.of(EventType::ctx_cancel, c.id()).size(), 1u);
}

// On the hot path the own release travels in the cancel event itself: a traced
// with_cancel + cancel emits two events, not three.
TEST(ContextEvents, OwnCancelCarriesItsReleaseInOneEvent) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  auto [c, kc] = with_cancel(p);
  kc();
  std::vector<Event> about_c;
  for (const Event& e : rec.raw())
    if (e.id == c.id()) about_c.push_back(e);
  ASSERT_EQ(about_c.size(), 2u);
  EXPECT_EQ(about_c[0].type, EventType::ctx_create);
  EXPECT_EQ(about_c[1].type, EventType::ctx_cancel);
  EXPECT_TRUE(releases_in_cancel(about_c[1]));
  EXPECT_EQ(about_c[1].ref, p.id());
  const SplitRelease sr = split_release(about_c[1]);
  EXPECT_EQ(sr.cancel.ref, 0u);
  EXPECT_FALSE(releases_in_cancel(sr.cancel));
  EXPECT_EQ(sr.release.type, EventType::ctx_release);
  EXPECT_EQ(sr.release.kind, u8(ReleaseReason::own_cancel));
  EXPECT_EQ(sr.release.time, about_c[1].time);
  // A child of background is never registered: nothing to release.
  auto [b, kb] = with_cancel(background());
  kb();
  for (const Event& e : rec.raw())
    if (e.id == b.id() && e.type == EventType::ctx_cancel) {
      EXPECT_FALSE(releases_in_cancel(e));
    }
  kp();
}

// A child's own cancel racing with its parent's cancel: whichever wins, the
// child is released exactly once (folded into its cancel, or by the parent).
TEST(ContextEvents, RacingOwnAndParentCancelReleaseOnce) {
  ScopedRecorder rec;
  int own_first = 0, parent_first = 0;
  for (int i = 0; i < 300; ++i) {
    auto [p, kp] = with_cancel(background());
    auto [c, kc] = with_cancel(p);
    // The thread arrives at the latch last and so usually goes first: it
    // cancels the child on even rounds and the parent on odd ones, so that both
    // orders (and the true races between them) happen.
    std::latch go(2);
    const bool thread_takes_child = i % 2 == 0;
    std::thread t([&, kc = kc, kp = kp] {
      go.arrive_and_wait();
      if (thread_takes_child) kc();
      else kp();
    });
    go.arrive_and_wait();
    if (thread_takes_child) kp();
    else kc();
    t.join();
    EXPECT_EQ(rec.of(EventType::ctx_release, c.id()).size(), 1u) << i;
    const auto cancels = rec.of(EventType::ctx_cancel, c.id());
    ASSERT_FALSE(cancels.empty());
    // The first cancel made it done: by its owner, or by the parent (then the
    // owner's call is recorded as an explicit no-op cancel after it).
    if (cancels[0].kind == u8(CancelReason::parent)) {
      ++parent_first;
      ASSERT_EQ(cancels.size(), 2u) << i;
      EXPECT_EQ(cancels[1].aux, 1) << i;
      EXPECT_EQ(rec.only(EventType::ctx_release, c.id()).kind, u8(ReleaseReason::parent));
    } else {
      ++own_first;
      EXPECT_EQ(cancels.size(), 1u) << i;
      EXPECT_EQ(rec.only(EventType::ctx_release, c.id()).kind, u8(ReleaseReason::own_cancel));
    }
  }
  EXPECT_GT(own_first + parent_first, 0);
  std::printf("[ info ] own cancel first %d times, parent first %d times\n", own_first, parent_first);
}

TEST(ContextEvents, ParentCancelReleasesEveryRegisteredChild) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  auto [c1, k1] = with_cancel(p);
  auto [c2, k2] = with_timeout(p, 1h);
  auto [g, kg] = with_cancel(c1);
  kp();
  for (const Context* c : {&c1, &c2}) {
    Event r = rec.only(EventType::ctx_release, c->id());
    EXPECT_EQ(r.kind, u8(ReleaseReason::parent));
    EXPECT_EQ(r.ref, p.id());
  }
  Event rg = rec.only(EventType::ctx_release, g.id());
  EXPECT_EQ(rg.kind, u8(ReleaseReason::parent));
  EXPECT_EQ(rg.ref, c1.id());
  // each child's cancel precedes its release
  auto seq = types_about(rec, g.id());
  ASSERT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[1], EventType::ctx_cancel);
  EXPECT_EQ(seq[2], EventType::ctx_release);
  // the root was never registered (its parent is background): no release
  EXPECT_TRUE(rec.of(EventType::ctx_release, p.id()).empty());
}

TEST(ContextEvents, ChildWithUncalledCancelStaysRegisteredUntilDropped) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  std::uint64_t id = 0;
  unsigned line = 0;
  {
    auto [c, kc] = with_cancel(p); line = __LINE__;
    id = c.id();
    Context copy = c;
    EXPECT_TRUE(rec.of(EventType::ctx_release, id).empty());
  }
  // dropped: the last CancelFunc reports the lost cancel, the node its release
  Event dropped = rec.only(EventType::cancel_dropped, id);
  EXPECT_EQ(dropped.value, 0u);  // it was never done
  EXPECT_EQ(dropped.site.line(), line);
  Event r = rec.only(EventType::ctx_release, id);
  EXPECT_EQ(r.kind, u8(ReleaseReason::destroyed));
  EXPECT_EQ(r.ref, p.id());
  EXPECT_TRUE(rec.of(EventType::ctx_cancel, id).empty());
}

TEST(ContextEvents, ChildrenOfNonCancelableParentsAreNeverReleased) {
  ScopedRecorder rec;
  std::uint64_t id = 0;
  {
    auto [c, kc] = with_cancel(background());
    id = c.id();
    kc();
  }
  EXPECT_TRUE(rec.of(EventType::ctx_release, id).empty());
}

// ----------------------------------------------------------- cancel_dropped

TEST(CancelFuncCopies, ShareOneState) {
  auto [c, k] = with_cancel(background());
  CancelFunc copy = k;
  CancelFunc copy2;
  copy2 = copy;
  EXPECT_TRUE(copy2);
  copy2();
  EXPECT_EQ(c.err(), errc::canceled);
  CancelFunc empty;
  EXPECT_FALSE(empty);
  empty();  // a default-constructed CancelFunc does nothing
}

TEST(CancelFuncCopies, LastCopyDestroyedUncalledEmitsExactlyOneCancelDropped) {
  ScopedRecorder rec;
  std::uint64_t id = 0;
  unsigned line = 0;
  {
    auto [c, k] = with_cancel(background()); line = __LINE__;
    id = c.id();
    std::vector<CancelFunc> copies(5, k);
    CancelFunc moved = std::move(copies[0]);
    copies.pop_back();
    EXPECT_TRUE(rec.of(EventType::cancel_dropped, id).empty());  // copies remain
  }
  Event e = rec.only(EventType::cancel_dropped, id);
  EXPECT_EQ(e.value, 0u);
  EXPECT_EQ(e.site.line(), line);  // the creation site
  EXPECT_TRUE(from_this_file(e));
}

TEST(CancelFuncCopies, CallingAnyCopyMeansNoCancelDropped) {
  ScopedRecorder rec;
  std::uint64_t id = 0;
  {
    auto [c, k] = with_cancel(background());
    id = c.id();
    std::vector<CancelFunc> copies(3, k);
    copies[1]();
  }
  EXPECT_TRUE(rec.of(EventType::cancel_dropped, id).empty());
}

TEST(CancelFuncCopies, DroppedAfterTheContextWasDoneRecordsDone) {
  ScopedRecorder rec;
  auto [p, kp] = with_cancel(background());
  std::uint64_t id = 0, tid = 0;
  {
    auto [c, k] = with_cancel(p);
    auto [t, kt] = with_timeout(background(), 1ms);
    id = c.id();
    tid = t.id();
    kp();
    EXPECT_EQ(await_done(t), errc::deadline_exceeded);
  }
  EXPECT_EQ(rec.only(EventType::cancel_dropped, id).value, 1u);
  EXPECT_EQ(rec.only(EventType::cancel_dropped, tid).value, 1u);
}

TEST(CancelFuncCopies, CauseFuncCopiesBehaveTheSame) {
  ScopedRecorder rec;
  std::uint64_t dropped_id = 0, called_id = 0;
  {
    auto [c, k] = with_cancel_cause(background());
    dropped_id = c.id();
    CancelCauseFunc copy = k;
  }
  {
    auto [c, k] = with_cancel_cause(background());
    called_id = c.id();
    CancelCauseFunc copy = k;
    copy(std::make_error_code(std::errc::io_error));
  }
  EXPECT_EQ(rec.of(EventType::cancel_dropped, dropped_id).size(), 1u);
  EXPECT_TRUE(rec.of(EventType::cancel_dropped, called_id).empty());
}

// ------------------------------------------------------------ done_observed

TEST(ContextEvents, DoneObservedIsRecordedOnceAtTheFirstObservingErr) {
  ScopedRecorder rec;
  auto [c, k] = with_cancel(background());
  EXPECT_FALSE(c.err());  // live: not an observation of done
  k();
  EXPECT_TRUE(rec.of(EventType::done_observed, c.id()).empty());  // cancel alone is not observing
  EXPECT_TRUE(c.err()); const auto line = __LINE__;
  EXPECT_TRUE(c.err());
  Event e = rec.only(EventType::done_observed, c.id());
  EXPECT_EQ(e.site.line(), line);
  EXPECT_TRUE(from_this_file(e));
}

TEST(ContextEvents, DoneObservedThroughAValueChildNamesTheCancelableContext) {
  ScopedRecorder rec;
  static const Key<int> key("k");
  auto [c, k] = with_cancel(background());
  Context v = with_value(c, key, 1);
  k();
  EXPECT_TRUE(v.err());
  EXPECT_EQ(rec.of(EventType::done_observed, c.id()).size(), 1u);
  EXPECT_TRUE(c.err());
  EXPECT_EQ(rec.of(EventType::done_observed, c.id()).size(), 1u);
}

TEST(ContextEvents, DoneWaitReturningDoneIsAnObservation) {
  ScopedRecorder rec;
  auto [c, k] = with_cancel(background());
  k();
  EXPECT_EQ(c.done().wait(), errc::canceled);
  EXPECT_EQ(rec.of(EventType::done_observed, c.id()).size(), 1u);
}

TEST(ContextEvents, SelectWonByDoneIsAnObservation) {
  ScopedRecorder rec;
  auto [c, k] = with_cancel(background());
  Chan<int> ch;
  k();
  EXPECT_EQ(select(ch.on_recv(), c.done()), 1u);
  EXPECT_EQ(rec.of(EventType::done_observed, c.id()).size(), 1u);
}

TEST(ContextEvents, NoSinkMeansNoEventsAndNoCost) {
  // Without a sink nothing is recorded, and with one installed afterwards the
  // old objects are not re-announced.
  auto [c, k] = with_cancel(background());
  ScopedRecorder rec;
  k();
  EXPECT_TRUE(rec.of(EventType::ctx_create, c.id()).empty());
  EXPECT_EQ(rec.of(EventType::ctx_cancel, c.id()).size(), 1u);
}
