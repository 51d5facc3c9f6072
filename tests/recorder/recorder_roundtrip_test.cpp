// Every event kind goes emit -> file -> reader with exact values.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ctxscope/context.hpp"
#include "ctxscope/trace_schema.hpp"
#include "recorder/recorder_test_util.hpp"
#include "recorder/stack_capture.hpp"

namespace ctxscope {
namespace {

using rectest::emit;
using rectest::q_int;
using rectest::code;
using rectest::q_text;

std::string S(std::int64_t id) { return std::to_string(id); }

class RecorderRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = rectest::temp_trace("roundtrip");
    std::string err;
    ASSERT_TRUE(trace::start(path_, {}, &err)) << err;
    ASSERT_TRUE(trace::active());
    t0_ = detail::now_ns();
  }
  void TearDown() override { trace::stop(); }
  // A reader on the file after a flush barrier.
  std::optional<trace::TraceReader> read() {
    trace::flush();
    return rectest::must_open(path_);
  }
  std::string path_;
  std::uint64_t t0_ = 0;
};

// Ids far above anything the runtime hands out during the test.
constexpr std::uint64_t kBase = 1ull << 40;

TEST_F(RecorderRoundTrip, RunRowDescribesTheProcessAndIsIncompleteUntilStop) {
  auto r = read();
  ASSERT_TRUE(r);
  auto ri = r->run();
  EXPECT_EQ(ri.schema_version, trace::schema::kVersion);
  EXPECT_EQ(ri.pid, getpid());
  EXPECT_EQ(ri.clock, detail::tsc_event_clock_supported() ? "CLOCK_MONOTONIC (TSC)" : "CLOCK_MONOTONIC");
  EXPECT_EQ(ri.end_state, "none");
  EXPECT_FALSE(ri.complete());
  EXPECT_EQ(ri.events_dropped, 0);
  EXPECT_NE(ri.argv.find("ctxscope_tests"), std::string::npos) << ri.argv;
  EXPECT_NE(ri.executable.find("ctxscope_tests"), std::string::npos);
  EXPECT_GT(ri.start_wall_ns, 1'600'000'000'000'000'000);
  EXPECT_LE(static_cast<std::uint64_t>(ri.start_steady_ns), t0_);
  EXPECT_EQ(q_int(r->db(), "SELECT kind FROM contexts WHERE id=1"), code(Kind::background));
  EXPECT_EQ(q_int(r->db(), "SELECT kind FROM contexts WHERE id=2"), code(Kind::todo));
  EXPECT_EQ(q_int(r->db(), "PRAGMA application_id"), trace::schema::kApplicationId);
  EXPECT_EQ(q_text(r->db(), "PRAGMA journal_mode"), "wal");
  trace::stop();
  auto r2 = rectest::must_open(path_);
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->run().complete());
  EXPECT_TRUE(r2->run().end_ns.has_value());
  EXPECT_TRUE(r2->warnings().empty());
}

TEST_F(RecorderRoundTrip, ContextCreateCancelDropReleaseObserveRoundTrip) {
  const std::uint64_t ctx = kBase + 1, child = kBase + 2;
  const char* key = detail::intern("request_id");
  const std::source_location here = std::source_location::current();
  Event e{};
  e.type = EventType::ctx_create;
  e.id = ctx;
  e.ref = 1;
  e.value = t0_ + 5'000'000;
  e.kind = static_cast<std::uint8_t>(Kind::deadline);
  e.aux = 1;
  e.site = here;
  emit(e);
  e = {};
  e.type = EventType::ctx_create;
  e.id = child;
  e.ref = ctx;
  e.kind = static_cast<std::uint8_t>(Kind::value);
  e.text = key;
  emit(e);
  e = {};
  e.type = EventType::ctx_cancel;
  e.id = ctx;
  e.kind = static_cast<std::uint8_t>(CancelReason::explicit_call);
  e.err = 1;
  e.code = 42;
  e.text = "generic";
  e.site = here;
  emit(e);
  e = {};
  e.type = EventType::ctx_cancel;
  e.id = child;
  e.ref = ctx;
  e.value = ctx;
  e.kind = static_cast<std::uint8_t>(CancelReason::parent);
  e.err = 1;
  emit(e);
  e = {};
  e.type = EventType::ctx_cancel;  // second explicit call on a done context: only "called"
  e.id = child;
  e.kind = static_cast<std::uint8_t>(CancelReason::explicit_call);
  e.aux = 1;
  e.err = 1;
  emit(e);
  e = {};
  e.type = EventType::cancel_dropped;
  e.id = child;
  e.value = 1;
  emit(e);
  e = {};
  e.type = EventType::ctx_release;
  e.id = child;
  e.ref = ctx;
  e.kind = static_cast<std::uint8_t>(ReleaseReason::parent);
  emit(e);
  e = {};
  e.type = EventType::done_observed;
  e.id = ctx;
  e.site = here;
  emit(e);

  auto r = read();
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  const std::string c = "SELECT %s FROM contexts WHERE id=" + S(ctx);
  auto col = [&](const std::string& what, std::uint64_t id) {
    return "SELECT " + what + " FROM contexts WHERE id=" + S(id);
  };
  const auto start = static_cast<std::uint64_t>(r->run().start_steady_ns);
  EXPECT_EQ(q_int(db, col("parent", ctx)), 1);
  EXPECT_EQ(q_int(db, col("kind", ctx)), code(Kind::deadline));
  EXPECT_EQ(q_int(db, col("registered", ctx)), 1);
  EXPECT_EQ(q_int(db, col("deadline_ns", ctx)), static_cast<std::int64_t>(t0_ + 5'000'000 - start));
  EXPECT_EQ(q_int(db, col("thread", ctx)), static_cast<std::int64_t>(detail::current_thread_id()));
  EXPECT_EQ(q_text(db, "SELECT s.file FROM contexts c JOIN sites s ON s.id=c.site WHERE c.id=" + S(ctx)),
            here.file_name());
  EXPECT_EQ(q_int(db, "SELECT s.line FROM contexts c JOIN sites s ON s.id=c.site WHERE c.id=" + S(ctx)),
            here.line());
  EXPECT_EQ(q_text(db, "SELECT s.function FROM contexts c JOIN sites s ON s.id=c.site WHERE c.id=" + S(ctx)),
            here.function_name());
  EXPECT_EQ(q_int(db, col("cancel_reason", ctx)), code(CancelReason::explicit_call));
  EXPECT_EQ(q_int(db, col("err", ctx)), code(errc::canceled));
  EXPECT_EQ(q_int(db, col("cause_code", ctx)), 42);
  EXPECT_EQ(q_text(db, col("cause_category", ctx)), "generic");
  EXPECT_EQ(q_int(db, col("cancel_site", ctx)), q_int(db, col("site", ctx)));  // same source_location
  EXPECT_EQ(q_int(db, col("cancel_called_ns", ctx)), q_int(db, col("cancel_ns", ctx)));
  EXPECT_TRUE(q_int(db, col("done_observed_ns", ctx)).has_value());
  EXPECT_EQ(q_int(db, "SELECT count(*) FROM sites"), 1);  // deduplicated

  EXPECT_EQ(q_int(db, col("kind", child)), code(Kind::value));
  EXPECT_EQ(q_text(db, col("label", child)), "request_id");
  EXPECT_EQ(q_int(db, col("cancel_reason", child)), code(CancelReason::parent));
  EXPECT_EQ(q_int(db, col("cancel_parent", child)), static_cast<std::int64_t>(ctx));
  EXPECT_EQ(q_int(db, col("cancel_origin", child)), static_cast<std::int64_t>(ctx));
  EXPECT_EQ(q_int(db, col("cause_code", child)), std::nullopt);
  EXPECT_EQ(q_text(db, col("cause_category", child)), std::nullopt);
  EXPECT_TRUE(q_int(db, col("cancel_called_ns", child)).has_value());
  EXPECT_GT(*q_int(db, col("cancel_called_ns", child)), *q_int(db, col("cancel_ns", child)));
  EXPECT_EQ(q_int(db, col("dropped_when_done", child)), 1);
  EXPECT_TRUE(q_int(db, col("dropped_ns", child)).has_value());
  EXPECT_EQ(q_int(db, col("release_reason", child)), code(ReleaseReason::parent));
  // Every enumeration column's code has its name in `enums`.
  EXPECT_EQ(q_text(db, "SELECT e.name FROM contexts c JOIN enums e ON e.type='kind' AND e.value=c.kind WHERE c.id=" +
                           S(child)),
            "value");
  EXPECT_EQ(q_text(db, "SELECT e.name FROM contexts c JOIN enums e ON e.type='release_reason' AND "
                       "e.value=c.release_reason WHERE c.id=" + S(child)),
            "parent");
  EXPECT_TRUE(q_int(db, col("released_ns", child)).has_value());

  EXPECT_EQ(q_int(db, "SELECT count(*) FROM events WHERE id IN (" + S(ctx) + "," + S(child) + ")"), 8);
  EXPECT_EQ(q_int(db, "SELECT value FROM events WHERE type=1 AND id=" + S(ctx)),
            static_cast<std::int64_t>(t0_ + 5'000'000));
  EXPECT_EQ(q_int(db, "SELECT code FROM events WHERE type=2 AND id=" + S(ctx)), 42);
}

// The cause columns are NULL exactly when the cause is err itself: ctxscope's
// context category with the value of err (what the runtime records when no
// cause was given).  Any other cause is stored, even one of the same category.
TEST_F(RecorderRoundTrip, CauseColumnsAreNullWhenTheCauseIsErrItself) {
  const std::uint64_t plain = kBase + 30, timed = kBase + 31, other = kBase + 32, same_value = kBase + 33;
  const char* ctx_cat = context_category().name();
  auto cancel = [](std::uint64_t id, errc err, int cause, const char* category) {
    Event e{};
    e.type = EventType::ctx_cancel;
    e.id = id;
    e.kind = static_cast<std::uint8_t>(err == errc::canceled ? CancelReason::explicit_call : CancelReason::deadline);
    e.err = static_cast<std::uint8_t>(err);
    e.code = cause;
    e.text = category;
    emit(e);
  };
  cancel(plain, errc::canceled, 1, ctx_cat);                 // cancel()
  cancel(timed, errc::deadline_exceeded, 2, ctx_cat);        // deadline fired, no cause
  cancel(other, errc::canceled, 2, ctx_cat);                 // cancel_cause(deadline_exceeded)
  cancel(same_value, errc::canceled, 1, "generic");          // cancel_cause(EPERM): same value, other category
  auto r = read();
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  auto col = [&](const std::string& what, std::uint64_t id) {
    return "SELECT " + what + " FROM contexts WHERE id=" + S(id);
  };
  for (std::uint64_t id : {plain, timed}) {
    EXPECT_EQ(q_int(db, col("cause_code", id)), std::nullopt) << id;
    EXPECT_EQ(q_text(db, col("cause_category", id)), std::nullopt) << id;
  }
  EXPECT_EQ(q_int(db, col("err", timed)), code(errc::deadline_exceeded));
  EXPECT_EQ(q_int(db, col("cause_code", other)), 2);
  EXPECT_EQ(q_text(db, col("cause_category", other)), "ctxscope.context");
  EXPECT_EQ(q_int(db, col("cause_code", same_value)), 1);
  EXPECT_EQ(q_text(db, col("cause_category", same_value)), "generic");
  // The raw event keeps the code as emitted.
  EXPECT_EQ(q_int(db, "SELECT code FROM events WHERE type=2 AND id=" + S(plain)), 1);
}

TEST_F(RecorderRoundTrip, WaitsThreadsAndChannelsRoundTrip) {
  const std::uint64_t w1 = kBase + 10, w2 = kBase + 11, ch = kBase + 12, th = 1'000'000, ctx = kBase + 13;
  Event e{};
  e.type = EventType::chan_create;
  e.id = ch;
  e.value = 8;
  e.text = "jobs";
  emit(e);
  e = {};
  e.type = EventType::wait_begin;
  e.id = w1;
  e.ref = ctx;
  e.kind = static_cast<std::uint8_t>(WaitObject::select);
  e.aux = 3;
  emit(e);
  e = {};
  e.type = EventType::wait_end;
  e.id = w1;
  e.value = 2;
  e.kind = static_cast<std::uint8_t>(WaitOutcome::done);
  emit(e);
  e = {};
  e.type = EventType::wait_begin;  // never ends: stuck
  e.id = w2;
  e.value = ch;
  e.text = "jobs";
  e.kind = static_cast<std::uint8_t>(WaitObject::chan_recv);
  emit(e);
  e = {};
  e.type = EventType::chan_close;
  e.id = ch;
  emit(e);
  e = {};
  e.type = EventType::thread_spawn;
  e.id = th;
  e.ref = ctx;
  e.value = detail::current_thread_id();
  e.text = "worker";
  emit(e);
  std::thread([&] {
    detail::adopt_thread_id(th);
    Event x{};
    x.type = EventType::thread_exit;
    x.id = th;
    emit(x);
  }).join();

  auto r = read();
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  auto w = [&](const std::string& what, std::uint64_t id) { return "SELECT " + what + " FROM waits WHERE id=" + S(id); };
  EXPECT_EQ(q_int(db, w("object", w1)), code(WaitObject::select));
  EXPECT_EQ(q_int(db, w("n_cases", w1)), 3);
  EXPECT_EQ(q_int(db, w("done_ctx", w1)), static_cast<std::int64_t>(ctx));
  EXPECT_EQ(q_int(db, w("outcome", w1)), code(WaitOutcome::done));
  EXPECT_EQ(q_int(db, w("case_index", w1)), 2);
  EXPECT_LE(*q_int(db, w("begin_ns", w1)), *q_int(db, w("end_ns", w1)));
  EXPECT_EQ(q_int(db, w("object", w2)), code(WaitObject::chan_recv));
  EXPECT_EQ(q_int(db, w("outcome", w2)), std::nullopt);
  EXPECT_EQ(q_int(db, w("object_id", w2)), static_cast<std::int64_t>(ch));
  EXPECT_EQ(q_text(db, w("label", w2)), "jobs");
  EXPECT_EQ(q_int(db, w("done_ctx", w2)), std::nullopt);
  EXPECT_EQ(q_int(db, w("end_ns", w2)), std::nullopt);
  EXPECT_EQ(q_int(db, "SELECT capacity FROM channels WHERE id=" + S(ch)), 8);
  EXPECT_EQ(q_text(db, "SELECT label FROM channels WHERE id=" + S(ch)), "jobs");
  EXPECT_TRUE(q_int(db, "SELECT closed_ns FROM channels WHERE id=" + S(ch)).has_value());
  EXPECT_EQ(q_text(db, "SELECT name FROM threads WHERE id=" + S(th)), "worker");
  EXPECT_EQ(q_int(db, "SELECT ctx FROM threads WHERE id=" + S(th)), static_cast<std::int64_t>(ctx));
  EXPECT_EQ(q_int(db, "SELECT parent_thread FROM threads WHERE id=" + S(th)),
            static_cast<std::int64_t>(detail::current_thread_id()));
  EXPECT_TRUE(q_int(db, "SELECT exit_ns FROM threads WHERE id=" + S(th)).has_value());
  EXPECT_EQ(q_text(db, "SELECT name FROM enums WHERE type='event' AND value=6"), "wait_begin");
}

TEST_F(RecorderRoundTrip, CancelRecordedBeforeCreateStillGivesOneRow) {
  // Rings are drained per thread: a cancel on thread B may be written before
  // the create on thread A.  Both land in one row.
  const std::uint64_t ctx = kBase + 20;
  std::thread([&] {
    Event e{};
    e.type = EventType::ctx_cancel;
    e.id = ctx;
    e.kind = static_cast<std::uint8_t>(CancelReason::explicit_call);
    e.err = 1;
    emit(e);
  }).join();
  Event e{};
  e.type = EventType::ctx_create;
  e.id = ctx;
  e.ref = 1;
  e.kind = static_cast<std::uint8_t>(Kind::cancel);
  emit(e);
  auto r = read();
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM contexts WHERE id=" + S(ctx)), 1);
  EXPECT_EQ(q_int(r->db(), "SELECT kind FROM contexts WHERE id=" + S(ctx)), code(Kind::cancel));
  EXPECT_EQ(q_int(r->db(), "SELECT cancel_reason FROM contexts WHERE id=" + S(ctx)), code(CancelReason::explicit_call));
}

// The writer upserts entity rows first-wins, column by column: across commits,
// a later row that sets other columns fills those still NULL and never
// overwrites one already written, in either order of the events, and rows
// setting different columns in one commit each get their own.
TEST_F(RecorderRoundTrip, RowsOfEveryShapeMergeFirstWinsAcrossCommits) {
  const std::uint64_t a = kBase + 40, b = kBase + 41, c = kBase + 42;
  auto create = [](std::uint64_t id, std::uint64_t parent) {
    Event e{};
    e.type = EventType::ctx_create;
    e.id = id;
    e.ref = parent;
    e.kind = static_cast<std::uint8_t>(Kind::cancel);
    emit(e);
  };
  auto cancel = [](std::uint64_t id, std::uint8_t reason, std::uint64_t parent) {
    Event e{};
    e.type = EventType::ctx_cancel;
    e.id = id;
    e.ref = parent;
    e.kind = reason;
    e.err = 1;
    emit(e);
  };
  // Commit 1: a created; b cancelled before any create (by its parent a);
  // c created and cancelled explicitly (a third shape).
  create(a, 1);
  cancel(b, static_cast<std::uint8_t>(CancelReason::parent), a);
  create(c, a);
  cancel(c, static_cast<std::uint8_t>(CancelReason::explicit_call), 0);
  trace::flush();
  // Commit 2: a cancelled; b created; c cancelled again by its parent (first wins).
  cancel(a, static_cast<std::uint8_t>(CancelReason::explicit_call), 0);
  create(b, a);
  cancel(c, static_cast<std::uint8_t>(CancelReason::parent), a);
  auto r = read();
  ASSERT_TRUE(r);
  auto col = [&](std::uint64_t id, const char* c) {
    return q_int(r->db(), "SELECT coalesce(" + std::string(c) + ", -1) FROM contexts WHERE id=" + S(id));
  };
  for (std::uint64_t id : {a, b, c}) EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM contexts WHERE id=" + S(id)), 1);
  EXPECT_EQ(col(a, "kind"), code(Kind::cancel));
  EXPECT_EQ(col(a, "parent"), 1);
  EXPECT_EQ(col(a, "cancel_reason"), code(CancelReason::explicit_call));
  EXPECT_EQ(col(b, "kind"), code(Kind::cancel));
  EXPECT_EQ(col(b, "parent"), static_cast<std::int64_t>(a));
  EXPECT_EQ(col(b, "cancel_reason"), code(CancelReason::parent));
  EXPECT_EQ(col(b, "cancel_parent"), static_cast<std::int64_t>(a));
  EXPECT_EQ(col(c, "parent"), static_cast<std::int64_t>(a));
  EXPECT_EQ(col(c, "cancel_reason"), code(CancelReason::explicit_call)) << "a second cancel must not overwrite the first";
  for (std::uint64_t id : {a, b, c}) {
    EXPECT_GE(col(id, "created_ns"), 0) << id;
    EXPECT_GE(col(id, "cancel_ns"), 0) << id;
  }
}

TEST_F(RecorderRoundTrip, FlushIsABarrierForEveryProducerThread) {
  constexpr int kThreads = 4, kEach = 5000;  // more than one ring's capacity per thread
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t] {
      for (int i = 0; i < kEach; ++i) {
        Event e{};
        e.type = EventType::chan_close;
        e.id = kBase + 1000 + static_cast<std::uint64_t>(t);
        e.value = static_cast<std::uint64_t>(i);
        emit(e);
      }
    });
  for (auto& t : ts) t.join();
  auto r = read();
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE type=11 AND id>=" + S(kBase + 1000)), kThreads * kEach);
  // Per-thread order is preserved by seq.
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events a JOIN events b ON a.id=b.id AND b.value=a.value+1 "
                           "WHERE a.type=11 AND b.type=11 AND a.id>=" + S(kBase + 1000) + " AND b.seq < a.seq"),
            0);
  EXPECT_EQ(r->run().events_dropped, 0);
}

TEST_F(RecorderRoundTrip, RecorderDoesNotRecordAfterStop) {
  trace::stop();
  EXPECT_FALSE(trace::active());
  Event e{};
  e.type = EventType::chan_close;
  e.id = kBase + 30;
  emit(e);  // no sink: nothing
  auto r = rectest::must_open(path_);
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(kBase + 30)), 0);
}

TEST(RecorderStart, RefusesASecondStartAndAnUnwritablePath) {
  std::string err;
  EXPECT_FALSE(trace::start("/nonexistent-dir/x.db", {}, &err));
  EXPECT_NE(err.find("/nonexistent-dir/x.db: cannot create trace"), std::string::npos) << err;
  const std::string p = rectest::temp_trace("second");
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  EXPECT_FALSE(trace::start(p, {}, &err));
  EXPECT_NE(err.find("already recording"), std::string::npos) << err;
  trace::stop();
}

TEST(RecorderStart, StacksAreCapturedSymbolizedAndDeduplicated) {
  const std::string p = rectest::temp_trace("stacks");
  trace::Options o;
  o.stack_frames = 16;
  std::string err;
  ASSERT_TRUE(trace::start(p, o, &err)) << err;
  for (int i = 0; i < 3; ++i) {  // same call stack three times: one stack row
    Event e{};
    e.type = EventType::ctx_create;
    e.id = kBase + 40 + static_cast<std::uint64_t>(i);
    e.ref = 1;
    e.kind = static_cast<std::uint8_t>(Kind::cancel);
    emit(e);
  }
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  EXPECT_EQ(r->run().stack_frames, 16);
  EXPECT_EQ(q_int(db, "SELECT count(DISTINCT stack) FROM contexts WHERE id>=" + S(kBase + 40)), 1);
  EXPECT_EQ(q_int(db, "SELECT count(*) FROM contexts WHERE stack IS NULL AND id>=" + S(kBase + 40)), 0);
  auto depth = q_int(db, "SELECT depth FROM stacks");
  ASSERT_TRUE(depth);
  EXPECT_GT(*depth, 2);
  EXPECT_LE(*depth, 16);
  EXPECT_EQ(q_int(db, "SELECT count(*) FROM stack_frames"), depth);
  // This test's own function is on the stack, symbolized.
  EXPECT_GE(q_int(db, "SELECT count(*) FROM frames WHERE function LIKE '%StacksAreCaptured%'"), 1);
}

// Helpers with names of their own, never inlined: the stacks below must name
// them, not the runtime's frames above them.
[[gnu::noinline]] std::pair<Context, CancelFunc> stacks_test_make_context() {
  auto r = with_cancel(background());
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the stack
  return r;
}
[[gnu::noinline]] void stacks_test_cancel(CancelFunc& c) {
  c();
  asm volatile("" ::: "memory");
}

// Records one context created and cancelled through the public API with the
// given options; returns the file.
std::string record_stacks(const char* name, const trace::Options& o) {
  const std::string p = rectest::temp_trace(name);
  std::string err;
  EXPECT_TRUE(trace::start(p, o, &err)) << err;
  {
    auto [ctx, cancel] = stacks_test_make_context();
    stacks_test_cancel(cancel);
  }
  trace::stop();
  return p;
}

// The frames of a context's creation (or cancel) stack, innermost first.
std::vector<std::string> stack_functions(sqlite3* db, const std::string& column) {
  std::vector<std::string> out;
  for (int d = 0;; ++d) {
    auto f = q_text(db, "SELECT f.function FROM contexts c JOIN stack_frames sf ON sf.stack_id = c." + column +
                            " JOIN frames f ON f.id = sf.frame_id WHERE c.kind = " + S(code(Kind::cancel)) +
                            " AND sf.depth = " + S(d));
    if (!f) break;
    out.push_back(*f);
  }
  return out;
}

TEST(RecorderStacks, AreOnByDefaultAndStartAtTheCallerOfTheApi) {
  ASSERT_EQ(trace::Options{}.stack_frames, 8);
  const std::string p = record_stacks("stacks-default", trace::Options{});
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run().stack_frames, 8);
  const auto created = stack_functions(r->db(), "stack");
  ASSERT_GE(created.size(), 2u);
  EXPECT_LE(created.size(), 8u);
  // The runtime's own frames (recorder, with_cancel) are stripped: the caller first,
  // then this test's own function.
  EXPECT_NE(created[0].find("stacks_test_make_context"), std::string::npos) << created[0];
  EXPECT_NE(created[1].find("record_stacks"), std::string::npos) << created[1];
  const auto cancelled = stack_functions(r->db(), "cancel_stack");
  ASSERT_GE(cancelled.size(), 1u);
  EXPECT_NE(cancelled[0].find("stacks_test_cancel"), std::string::npos) << cancelled[0];
  // Symbolized with the source file and line of the call (where the test
  // binary has debug information: every preset but release).
  if (q_int(r->db(), "SELECT count(*) FROM frames WHERE file IS NOT NULL") == 0)
    GTEST_SKIP() << "this build has no debug information: frames have no file";
  auto file = q_text(r->db(), "SELECT f.file FROM contexts c JOIN stack_frames sf ON sf.stack_id = c.stack JOIN frames f "
                              "ON f.id = sf.frame_id WHERE sf.depth = 0 AND c.kind = " + S(code(Kind::cancel)));
  ASSERT_TRUE(file);
  EXPECT_NE(file->find("recorder_roundtrip_test.cpp"), std::string::npos) << *file;
}

TEST(RecorderStacks, EveryUnwinderRecordsTheSameFrames) {
  namespace d = trace::detail;
  const d::Unwinder chosen = d::init_unwinder();
  // The runtime's own walker is the default, sanitizers or not (stack_capture.hpp).
  EXPECT_STREQ(d::unwinder_name(), "cfi");
  std::vector<d::Unwinder> unwinders{d::Unwinder::cfi, d::Unwinder::boost};
  // libunwind8 is a dependency of the build (packaging/install-deps.sh); it is
  // never loaded under a sanitizer.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  unwinders.push_back(d::Unwinder::libunwind);
#endif
  // A thread's first event of a recording registers its ring (on_event_slow),
  // one frame deeper where that call is not a tail call (the sanitizer
  // builds): the first recording would keep one user frame fewer.  Every
  // compared recording starts with this thread's ring registered.
  record_stacks("stacks-warm-up", trace::Options{});
  std::vector<std::vector<std::string>> frames;
  for (const d::Unwinder u : unwinders) {
    // libunwind from the first capture on (not only past kLibunwindAfter).
    ASSERT_EQ(d::select_unwinder(u, 0), u);
    const std::string name = std::string("stacks-") + d::unwinder_name();
    const std::string p = record_stacks(name.c_str(), trace::Options{});
    auto r = rectest::must_open(p);
    ASSERT_TRUE(r);
    frames.push_back(stack_functions(r->db(), "stack"));
  }
  d::select_unwinder(chosen);
  ASSERT_FALSE(frames[0].empty());
  for (std::size_t i = 1; i < frames.size(); ++i) EXPECT_EQ(frames[0], frames[i]) << "unwinder " << i;
}

TEST(RecorderStacks, ZeroFramesTurnsThemOff) {
  trace::Options o;
  o.stack_frames = 0;
  const std::string p = record_stacks("stacks-off", o);
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run().stack_frames, 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM contexts WHERE stack IS NOT NULL OR cancel_stack IS NOT NULL"), 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM frames"), 0);
}

TEST(RecorderDropMode, CountsEveryDropAndReadersReportIt) {
  const std::string p = rectest::temp_trace("drop");
  trace::Options o;
  o.drop_when_full = true;
  std::string err;
  ASSERT_TRUE(trace::start(p, o, &err)) << err;
  trace::detail::pause_for_test(true);
  constexpr int kExtra = 100;
  std::thread([&] {  // a fresh thread: its ring starts empty
    for (unsigned i = 0; i < trace::detail::kRingCapacity + kExtra; ++i) {
      Event e{};
      e.type = EventType::chan_close;
      e.id = kBase + 50;
      emit(e);
    }
  }).join();
  EXPECT_EQ(trace::events_dropped(), static_cast<unsigned long long>(kExtra));
  trace::detail::pause_for_test(false);
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run().events_dropped, kExtra);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(kBase + 50)),
            static_cast<std::int64_t>(trace::detail::kRingCapacity));
  auto w = r->warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], p + ": 100 events dropped (recorded in drop mode)");
}

TEST(RecorderWaitMode, AFullBufferMakesTheProducerWaitAndLosesNothing) {
  const std::string p = rectest::temp_trace("wait");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  trace::detail::pause_for_test(true);
  std::atomic<int> emitted{0};
  std::thread producer([&] {
    for (unsigned i = 0; i < trace::detail::kRingCapacity + 10; ++i) {
      Event e{};
      e.type = EventType::chan_close;
      e.id = kBase + 60;
      emit(e);
      emitted.fetch_add(1);
    }
  });
  // The producer fills its ring, then waits: it cannot finish while paused.
  while (emitted.load() < static_cast<int>(trace::detail::kRingCapacity)) std::this_thread::yield();
  trace::detail::pause_for_test(false);
  producer.join();
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run().events_dropped, 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(kBase + 60)),
            static_cast<std::int64_t>(trace::detail::kRingCapacity + 10));
}

// The SQLite work runs on the writer's own thread, a batch behind the
// draining: a barrier must wait for the batch it covers and for any batch
// handed over before it, or flush() would return before the events are in
// the file.
TEST(RecorderWriter, AFlushWaitsUntilEveryBatchHandedOverIsCommitted) {
  const std::string p = rectest::temp_trace("writer-hold");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  trace::detail::hold_writes_for_test(true);
  for (int i = 0; i < 10; ++i) {
    Event e{};
    e.type = EventType::chan_close;
    e.id = kBase + 70;
    emit(e);
  }
  // Time for the periodic commit to hand the batch over on its own (if it has
  // not, the barrier hands it over itself: either way flush() must wait).
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::atomic<bool> flushed{false};
  std::thread f([&] {
    trace::flush();
    flushed.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(flushed.load()) << "flush() returned while its batch was not written";
  {
    // No ASSERT while writes are held: an early return would leave the
    // writer held and the flushing thread unjoined for the tests after this one.
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(p.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    EXPECT_EQ(rc, SQLITE_OK);
    if (rc == SQLITE_OK) {
      EXPECT_EQ(q_int(db, "SELECT count(*) FROM event_blocks"), 0);
    }
    sqlite3_close(db);
  }
  trace::detail::hold_writes_for_test(false);
  f.join();
  EXPECT_TRUE(flushed.load());
  {
    auto r = rectest::must_open(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(kBase + 70)), 10);
  }
  trace::stop();
}

// The recorder's threads work in bursts; a burst longer than GiveWay::kSliceNs
// offers the CPU to the program's threads (sched_yield) instead of keeping it
// for the scheduler's whole slice.  Both bursts are made long on any machine:
// with the recorder paused, 32 threads fill their buffers (64,000 events, one
// channel each), so the recorder drains them in one pass; with writes held,
// the SQL thread gets them as one batch (64,000 channel rows).
TEST(RecorderWriter, LongBurstsGiveWayToTheProgram) {
  const std::string p = rectest::temp_trace("writer-give-way");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  constexpr int kThreads = 32, kEach = 2000;
  static_assert(kEach < trace::detail::kRingCapacity, "each thread's events fit its buffer");
  trace::detail::hold_writes_for_test(true);
  trace::detail::pause_for_test(true);
  for (int t = 0; t < kThreads; ++t)
    std::thread([t] {
      for (int i = 0; i < kEach; ++i) {
        Event e{};
        e.type = EventType::chan_close;
        e.id = kBase + 1000 + static_cast<std::uint64_t>(t * kEach + i);
        emit(e);
      }
    }).join();
  const std::uint64_t drain0 = trace::detail::give_way_yields(false);
  trace::detail::pause_for_test(false);
  // The drain pass, then the periodic commit's hand-over (while writes are
  // held, the batch waits for the SQL thread; a flush would too).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::uint64_t sql0 = trace::detail::give_way_yields(true);
  trace::detail::hold_writes_for_test(false);
  trace::flush();
  EXPECT_GT(trace::detail::give_way_yields(false), drain0) << "the recorder drained 64,000 events without giving way";
  EXPECT_GT(trace::detail::give_way_yields(true), sql0) << "the SQL thread wrote 64,000 rows without giving way";
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM channels WHERE id >= " + S(kBase + 1000)), kThreads * kEach);
}

}  // namespace
}  // namespace ctxscope
