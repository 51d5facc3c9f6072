// The trace model: what it reads from recorded traces (the samples, and a
// trace this test writes with the real recorder), the edges it derives, the
// state-at-t queries, and that following a live trace with update() ends in
// exactly the model a fresh load gives.
#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/analysis/analyzer.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"
#include "test_util.hpp"
#include "trace_builder.hpp"

namespace ctxscope::testing {
namespace {

using analysis::ContextState;
using analysis::kNoIndex;
using analysis::kNoTime;
using analysis::TraceModel;
using analysis::WakeEdge;
using analysis::WaitState;

trace::TraceReader open_reader(const std::filesystem::path& p) {
  std::string err;
  auto r = trace::TraceReader::open(p.string(), &err);
  if (!r) throw std::runtime_error(err);
  return std::move(*r);
}

std::filesystem::path record_sample(const char* exe, const std::string& mode) {
  const auto dir = test_dir();
  const auto db = dir / (mode + ".db");
  const auto r = run_cmd("CTXSCOPE_TRACE='" + db.string() + "' timeout -k 5 60 '" + exe + "' --mode=" + mode, dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return db;
}

std::size_t count_edges(const TraceModel& m, WakeEdge::Kind k) {
  return static_cast<std::size_t>(
      std::count_if(m.edges().begin(), m.edges().end(), [&](const WakeEdge& e) { return e.kind == k; }));
}

#ifdef CTXSCOPE_SAMPLE_ci_job
// ci-job buggy: the waiter receives blindly on the job channel after the
// caller's context is done: one missed edge, no woke edge for that wait, and
// the wait is still blocked at the end.
TEST(TraceModel, BlindWaitOfCiJobIsAMissedEdgeWithoutAWokeEdge) {
  auto reader = open_reader(record_sample(CTXSCOPE_SAMPLE_ci_job, "buggy"));
  const TraceModel m = TraceModel::load(reader.db());
  ASSERT_GE(m.contexts().size(), 3u);
  EXPECT_TRUE(m.run().complete);
  std::size_t blind_blocked = 0;
  for (std::uint32_t i = 0; i < m.waits().size(); ++i) {
    const auto& w = m.waits()[i];
    if (w.observes_context() || w.end_ns != kNoTime) continue;
    ++blind_blocked;
    const auto edges = m.edges_of_wait(i);
    ASSERT_EQ(edges.size(), 1u);
    EXPECT_EQ(m.edges()[edges[0]].kind, WakeEdge::Kind::missed);
    EXPECT_NE(m.contexts()[m.edges()[edges[0]].context].cancel_ns, kNoTime);
    EXPECT_EQ(m.wait_state(i, m.run().end_ns), WaitState::blocked);
    EXPECT_EQ(m.site(w.site).file.substr(m.site(w.site).file.rfind('/') + 1), "buggy.cpp");
  }
  EXPECT_EQ(blind_blocked, 1u);
  EXPECT_EQ(m.name_of("wait_object", 0), "chan_recv");
  EXPECT_EQ(m.name_of("kind", 2), "cancel");
}

// A load ends its read transaction: the connection is left as it was given, so
// the rule engine can run on it next (its prelude sets a pragma that is refused
// inside a transaction) and a live trace's writer is never held back.
TEST(TraceModel, LoadLeavesNoTransactionOpenAndTheRulesRunAfterIt) {
  auto reader = open_reader(record_sample(CTXSCOPE_SAMPLE_ci_job, "buggy"));
  const TraceModel m = TraceModel::load(reader.db());
  EXPECT_NE(sqlite3_get_autocommit(reader.db()), 0);
  const auto rep = analysis::analyze(reader.db(), {});
  EXPECT_FALSE(rep.findings.empty());
  TraceModel m2 = TraceModel::load(reader.db());
  (void)m2.update(reader.db());
  EXPECT_NE(sqlite3_get_autocommit(reader.db()), 0);
}

TEST(TraceModel, FixedCiJobWaiterIsWokenByTheCancel) {
  auto reader = open_reader(record_sample(CTXSCOPE_SAMPLE_ci_job, "fixed"));
  const TraceModel m = TraceModel::load(reader.db());
  EXPECT_EQ(count_edges(m, WakeEdge::Kind::missed), 0u);
  ASSERT_GE(count_edges(m, WakeEdge::Kind::woke), 1u);
  for (const auto& e : m.edges()) {
    const auto& w = m.waits()[e.wait];
    EXPECT_EQ(w.outcome, 2 /* done */);
    EXPECT_GE(e.wake_ns, e.cancel_ns) << "a wake-up precedes its cancel";
    EXPECT_EQ(m.wait_state(e.wait, e.wake_ns), WaitState::ended_done);
  }
}
#endif

#ifdef CTXSCOPE_SAMPLE_propagation_tree
// propagation-tree: the tree is the one the sample builds; a context
// cancelled by propagation points at its origin, whose wave lists it.
TEST(TraceModel, PropagationTreeHasItsShapeAndCancelOrigins) {
  auto reader = open_reader(record_sample(CTXSCOPE_SAMPLE_propagation_tree, "buggy"));
  const TraceModel m = TraceModel::load(reader.db());
  ASSERT_FALSE(m.roots().empty());
  std::size_t by_parent = 0;
  for (std::uint32_t i = 0; i < m.contexts().size(); ++i) {
    const auto& c = m.contexts()[i];
    if (c.parent != kNoIndex) {
      const auto& sib = m.contexts()[c.parent].children;
      EXPECT_NE(std::find(sib.begin(), sib.end(), i), sib.end()) << "ctx#" << c.id << " missing from its parent";
      EXPECT_GE(c.created_ns, m.contexts()[c.parent].created_ns == kNoTime ? -1 : m.contexts()[c.parent].created_ns);
    }
    for (std::size_t k = 1; k < c.children.size(); ++k)
      EXPECT_LE(m.contexts()[c.children[k - 1]].created_ns, m.contexts()[c.children[k]].created_ns);
    if (c.cancel_reason == 1 /* parent */) {
      ++by_parent;
      ASSERT_NE(c.cancel_origin, kNoIndex);
      const auto anc = m.ancestry(i);
      EXPECT_NE(std::find(anc.begin(), anc.end(), c.cancel_origin), anc.end()) << "origin is not an ancestor";
      EXPECT_EQ(m.context_state(i, c.cancel_ns), ContextState::cancelled_by_parent);
      EXPECT_EQ(m.context_state(i, c.cancel_ns - 1), ContextState::live);
    }
    EXPECT_EQ(m.context_state(i, c.created_ns == kNoTime ? -1 : c.created_ns - 1),
              c.created_ns == kNoTime ? ContextState::live : ContextState::not_created);
  }
  EXPECT_GE(by_parent, 1u) << "A1's budget is cancelled by the shared context's cancel";
  // Time index: counts agree with a linear count at every moment.
  for (std::int64_t t : m.moments()) {
    const auto linear = std::count_if(m.contexts().begin(), m.contexts().end(), [&](const analysis::Context& c) {
      return c.created_ns == kNoTime || c.created_ns <= t;
    });
    ASSERT_EQ(m.contexts_created_by(t), static_cast<std::size_t>(linear)) << "t=" << t;
  }
  ASSERT_GE(m.moments().size(), 2u);
  EXPECT_EQ(m.next_moment(m.moments()[0]), m.moments()[1]);
  EXPECT_EQ(m.prev_moment(m.moments()[1]), m.moments()[0]);
  EXPECT_EQ(m.next_moment(m.moments().back()), kNoTime);
}
#endif

// Everything compared between two models: the entity fields and the edges.
void expect_same(const TraceModel& a, const TraceModel& b) {
  ASSERT_EQ(a.contexts().size(), b.contexts().size());
  ASSERT_EQ(a.waits().size(), b.waits().size());
  ASSERT_EQ(a.threads().size(), b.threads().size());
  for (const auto& c : a.contexts()) {
    const std::uint32_t j = b.find_context(c.id);
    ASSERT_NE(j, kNoIndex) << "ctx#" << c.id;
    const auto& d = b.contexts()[j];
    EXPECT_EQ(c.parent_id, d.parent_id);
    EXPECT_EQ(c.created_ns, d.created_ns);
    EXPECT_EQ(c.cancel_ns, d.cancel_ns) << "ctx#" << c.id;
    EXPECT_EQ(c.cancel_reason, d.cancel_reason);
    EXPECT_EQ(c.released_ns, d.released_ns);
    EXPECT_EQ(c.dropped_ns, d.dropped_ns);
    EXPECT_EQ(c.children.size(), d.children.size()) << "ctx#" << c.id;
    EXPECT_EQ(a.site(c.site), b.site(d.site));
    const std::uint64_t oa = c.cancel_origin == kNoIndex ? 0 : a.contexts()[c.cancel_origin].id;
    const std::uint64_t ob = d.cancel_origin == kNoIndex ? 0 : b.contexts()[d.cancel_origin].id;
    EXPECT_EQ(oa, ob);
  }
  for (const auto& w : a.waits()) {
    const std::uint32_t j = b.find_wait(w.id);
    ASSERT_NE(j, kNoIndex);
    EXPECT_EQ(w.begin_ns, b.waits()[j].begin_ns);
    EXPECT_EQ(w.end_ns, b.waits()[j].end_ns);
    EXPECT_EQ(w.outcome, b.waits()[j].outcome);
  }
  for (const auto& t : a.threads()) {
    const std::uint32_t j = b.find_thread(t.id);
    ASSERT_NE(j, kNoIndex);
    EXPECT_EQ(t.name, b.threads()[j].name);
    EXPECT_EQ(t.exit_ns, b.threads()[j].exit_ns);
    EXPECT_EQ(t.waits.size(), b.threads()[j].waits.size());
  }
  EXPECT_EQ(a.edges().size(), b.edges().size());
  EXPECT_TRUE(std::equal(a.moments().begin(), a.moments().end(), b.moments().begin(), b.moments().end()));
}

// A live trace: this test writes it with the real recorder while a model
// follows it; flush() is the barrier that makes each round visible.  Every
// committed context and wait appears, in order, and the followed model ends
// equal to a fresh load of the finished file.
TEST(TraceModel, FollowingALiveTraceEndsInTheModelAFreshLoadGives) {
  const auto db = test_dir() / "live.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  trace::flush();
  auto reader = open_reader(db);
  TraceModel m = TraceModel::load(reader.db());
  EXPECT_FALSE(m.run().complete);
  const std::size_t base_contexts = m.contexts().size();

  auto [root, cancel_root] = with_cancel(background());
  std::vector<CancelFunc> cancels;
  std::set<std::uint64_t> created;
  Chan<int> never(0);
  Chan<int> started(1);
  WaitGroup ended;
  for (int round = 0; round < 5; ++round) {
    auto [c, cancel] = with_cancel(root);
    cancels.push_back(cancel);
    created.insert(c.id());
    // A worker that blocks observing c: woken by root's cancel at the end.
    ended.add(1);
    go(c, "worker", [c = c, never, started, &ended]() mutable {
      started.send(1);
      (void)never.recv(c);
      ended.done();
    });
    (void)started.recv();
    trace::flush();
    const auto d = m.update(reader.db());
    EXPECT_FALSE(d.empty());
    for (std::uint64_t id : created) EXPECT_NE(m.find_context(id), kNoIndex) << "round " << round;
    EXPECT_EQ(m.contexts().size(), base_contexts + 1 + created.size()) << "round " << round;
  }
  EXPECT_TRUE(m.update(reader.db()).empty()) << "nothing new: nothing changed";
  cancel_root();
  ended.wait();  // every worker's wake-up is emitted before the recording stops
  trace::stop();
  const auto d = m.update(reader.db());
  EXPECT_TRUE(d.run_changed);
  EXPECT_TRUE(m.run().complete);
  EXPECT_FALSE(d.changed_contexts.empty());
  // The cancel of root woke every worker: five woke edges, each from root.
  std::size_t woke = 0;
  for (const auto& e : m.edges())
    if (e.kind == WakeEdge::Kind::woke) {
      ++woke;
      EXPECT_EQ(m.contexts()[e.origin].id, root.id());
    }
  EXPECT_EQ(woke, created.size());
  EXPECT_EQ(m.edges_from(m.find_context(root.id())).size(), created.size());
  for (auto& c : cancels) c();
  const TraceModel fresh = TraceModel::load(reader.db());
  expect_same(m, fresh);
}

// Two loads that must give the same model, entity by entity and in the same
// order (indices are the model's addresses).
void expect_identical(const TraceModel& a, const TraceModel& b) {
  ASSERT_EQ(a.contexts().size(), b.contexts().size());
  ASSERT_EQ(a.threads().size(), b.threads().size());
  ASSERT_EQ(a.waits().size(), b.waits().size());
  for (std::size_t i = 0; i < a.contexts().size(); ++i) {
    const auto &c = a.contexts()[i], &d = b.contexts()[i];
    ASSERT_EQ(c.id, d.id) << "context " << i;
    EXPECT_EQ(c.parent, d.parent) << "ctx#" << c.id;
    EXPECT_EQ(c.children, d.children) << "ctx#" << c.id;
    EXPECT_EQ(c.cancel_origin, d.cancel_origin) << "ctx#" << c.id;
    EXPECT_EQ(c.created_ns, d.created_ns);
    EXPECT_EQ(c.cancel_ns, d.cancel_ns);
    EXPECT_EQ(c.site, d.site);
    EXPECT_EQ(c.label, d.label);
    EXPECT_EQ(a.find_context(c.id), b.find_context(d.id));
  }
  for (std::size_t i = 0; i < a.threads().size(); ++i) {
    const auto &t = a.threads()[i], &u = b.threads()[i];
    ASSERT_EQ(t.id, u.id) << "thread " << i;
    EXPECT_EQ(t.name, u.name);
    EXPECT_EQ(t.ctx, u.ctx);
    EXPECT_EQ(t.effective_ctx, u.effective_ctx);
    EXPECT_EQ(t.waits, u.waits) << "thread " << t.id;
  }
  for (std::size_t i = 0; i < a.waits().size(); ++i) {
    const auto &w = a.waits()[i], &v = b.waits()[i];
    ASSERT_EQ(w.id, v.id) << "wait " << i;
    EXPECT_EQ(w.done_ctx, v.done_ctx);
    EXPECT_EQ(w.begin_ns, v.begin_ns);
    EXPECT_EQ(w.end_ns, v.end_ns);
    EXPECT_EQ(a.find_wait(w.id), b.find_wait(v.id));
  }
  ASSERT_EQ(a.edges().size(), b.edges().size());
  for (std::size_t i = 0; i < a.edges().size(); ++i) {
    EXPECT_EQ(a.edges()[i].wait, b.edges()[i].wait);
    EXPECT_EQ(a.edges()[i].origin, b.edges()[i].origin);
    EXPECT_EQ(a.edges()[i].kind, b.edges()[i].kind);
  }
  EXPECT_TRUE(std::equal(a.roots().begin(), a.roots().end(), b.roots().begin(), b.roots().end()));
  EXPECT_TRUE(std::equal(a.contexts_by_time().begin(), a.contexts_by_time().end(), b.contexts_by_time().begin(),
                         b.contexts_by_time().end()));
  EXPECT_TRUE(std::equal(a.waits_by_time().begin(), a.waits_by_time().end(), b.waits_by_time().begin(),
                         b.waits_by_time().end()));
}

// Requests of a small server: a cancel context per request with a value
// child, a worker thread observing it in a select, cancelled at the end; some
// waits end by a value.  Enough rows in every table for both halves of a
// parallel load to hold some of each.
const Key<int> kRequest("request");

void record_requests(int n) {
  auto [root, cancel_root] = with_cancel(background());
  Chan<int> never(0);
  WaitGroup ended;
  std::vector<CancelFunc> cancels;
  for (int i = 0; i < n; ++i) {
    auto [c, cancel] = with_cancel(root);
    auto v = with_value(c, kRequest, i);
    cancels.push_back(cancel);
    Chan<int> reply(1);
    ended.add(1);
    go(v, "handler", [v = v, never, reply, &ended]() mutable {
      reply.send(1);
      (void)never.recv(v);
      ended.done();
    });
    (void)reply.recv();
  }
  cancel_root();
  ended.wait();
  for (auto& c : cancels) c();
}

analysis::LoadOptions two_connections() {
  analysis::LoadOptions o;
  o.parallel_min_rows = 0;  // every trace, however small
  return o;
}
analysis::LoadOptions one_connection() {
  analysis::LoadOptions o;
  o.parallel = false;
  return o;
}

// The time indices hold every row once, ordered by time (none first), ties by index.
void expect_time_ordered(const TraceModel& m) {
  auto check = [](auto by_time, std::size_t n, auto time) {
    ASSERT_EQ(by_time.size(), n);
    std::vector<char> seen(n, 0);
    for (std::size_t k = 0; k < n; ++k) {
      ASSERT_LT(by_time[k], n);
      EXPECT_FALSE(seen[by_time[k]]++) << "row " << by_time[k] << " twice";
      if (k == 0) continue;
      const auto a = time(by_time[k - 1]), b = time(by_time[k]);
      EXPECT_TRUE(a < b || (a == b && by_time[k - 1] < by_time[k])) << "at " << k;
    }
  };
  const auto none_first = [](std::int64_t t) { return t == kNoTime ? std::int64_t{-1} : t; };
  check(m.contexts_by_time(), m.contexts().size(), [&](std::uint32_t c) { return none_first(m.contexts()[c].created_ns); });
  check(m.waits_by_time(), m.waits().size(), [&](std::uint32_t w) { return none_first(m.waits()[w].begin_ns); });
}

TEST(TraceModel, TwoConnectionsLoadTheModelOneConnectionLoads) {
  const auto db = test_dir() / "requests.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  record_requests(300);
  trace::stop();
  auto reader = open_reader(db);
  std::vector<double> fractions;
  auto two = two_connections();
  two.progress = [&](double f) {
    fractions.push_back(f);
    return true;
  };
  const TraceModel a = TraceModel::load(reader.db(), two);
  const TraceModel b = TraceModel::load(reader.db(), one_connection());
  ASSERT_GE(b.contexts().size(), 600u);
  ASSERT_GE(b.waits().size(), 300u);  // every handler's wait for its context (more where a reply was not ready)
  expect_identical(a, b);
  // The waits' rows are not in time order (the main thread's id block holds
  // the replies' waits of the whole run, the handlers' blocks come after), so
  // the time index is sorted, not copied.
  bool rows_in_time_order = true;
  for (std::size_t w = 1; w < b.waits().size(); ++w)
    rows_in_time_order = rows_in_time_order && b.waits()[w - 1].begin_ns <= b.waits()[w].begin_ns;
  EXPECT_FALSE(rows_in_time_order);
  expect_time_ordered(a);
  expect_time_ordered(b);
  ASSERT_FALSE(fractions.empty());
  EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
  EXPECT_EQ(fractions.back(), 1.0);
}

// Tables of several chunks each (synthetic rows, ids interleaved across the
// tables as the recorder's are): the two readers meet wherever their speeds
// put them — a different row each load — and the rows moved across the
// meeting point to align the chunks lose and repeat nothing.  Several loads,
// each equal to the one-connection load.
TEST(TraceModel, TwoReadersMeetingAnywhereInTablesOfManyChunksLoadWhatOneLoads) {
  const auto db = test_dir() / "chunks.db";
  const std::int64_t n_ctx = static_cast<std::int64_t>(analysis::ChunkedVector<analysis::Context>::kPerChunk) * 2 + 77;
  const std::int64_t n_threads = static_cast<std::int64_t>(analysis::ChunkedVector<analysis::Thread>::kPerChunk) + 901;
  const std::int64_t n_waits = static_cast<std::int64_t>(analysis::ChunkedVector<analysis::Wait>::kPerChunk) + 1234;
  {
    TraceBuilder b(db, 10'000'000);
    b.exec("BEGIN");
    const auto site = b.site("server.cpp", 12);
    std::int64_t id = 3;  // 1, 2: the builder's background and todo
    std::vector<std::int64_t> ctx_ids{1};
    for (std::int64_t t = 2; t <= n_threads; ++t) b.thread({.id = t, .name = "w" + std::to_string(t), .spawn_ns = t});  // 1: the builder's main
    for (std::int64_t i = 0, w = 0; i < n_ctx; ++i) {
      CtxRow c{.id = id++, .parent = ctx_ids[static_cast<std::size_t>(i / 2)],
               .thread = 1 + i % n_threads, .created_ns = 100 + i, .site = site};
      ctx_ids.push_back(c.id);
      if (i % 4 == 1) c.cancel_ns = 5'000'000 + i, c.cancel_reason = "explicit";
      if (i % 4 == 3) c.cancel_ns = 5'000'000 + i, c.cancel_reason = "parent", c.cancel_origin = c.parent;
      b.ctx(c);
      for (; w < n_waits * (i + 1) / n_ctx; ++w)
        b.wait({.id = id++, .thread = 1 + w % n_threads, .done_ctx = c.id, .begin_ns = 200 + (w * 7919) % n_waits,
                .end_ns = 6'000'000 + w, .outcome = w % 2 ? "done" : "value"});
    }
    b.exec("COMMIT");
  }
  auto reader = open_reader(db);
  const TraceModel one = TraceModel::load(reader.db(), one_connection());
  ASSERT_EQ(one.contexts().size(), static_cast<std::size_t>(n_ctx) + 2);
  ASSERT_EQ(one.waits().size(), static_cast<std::size_t>(n_waits));
  ASSERT_EQ(one.threads().size(), static_cast<std::size_t>(n_threads));
  for (int round = 0; round < 3; ++round) {
    const TraceModel two = TraceModel::load(reader.db(), two_connections());
    expect_identical(two, one);
    for (std::size_t i = 1; i < two.contexts().size(); ++i)
      ASSERT_LT(two.contexts()[i - 1].id, two.contexts()[i].id) << "round " << round << " row " << i;
    for (std::size_t i = 1; i < two.waits().size(); ++i)
      ASSERT_LT(two.waits()[i - 1].id, two.waits()[i].id) << "round " << round << " row " << i;
    expect_time_ordered(two);
  }
}

// A prefix load (the viewer's preview) holds exactly the rows whose ids lie
// in the lowest part of each table's id span, linked among themselves.
TEST(TraceModel, APrefixLoadHoldsTheRowsBelowTheCutOfEachTable) {
  const auto db = test_dir() / "prefix.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  record_requests(200);
  trace::stop();
  auto reader = open_reader(db);
  const TraceModel whole = TraceModel::load(reader.db(), one_connection());
  analysis::LoadOptions o;
  o.prefix = 0.3;
  const TraceModel part = TraceModel::load(reader.db(), o);
  auto check = [&](auto rows_of, const char* what) {
    const auto all = rows_of(whole), some = rows_of(part);
    ASSERT_FALSE(all.empty()) << what;
    const auto lo = all.front().id, hi = all.back().id;
    const auto cut = lo + static_cast<std::uint64_t>(std::ceil(0.3 * static_cast<double>(hi - lo + 1)));
    std::size_t below = 0;
    for (const auto& r : all) below += r.id < cut;
    EXPECT_EQ(some.size(), below) << what;
    EXPECT_GT(below, 0u) << what;
    EXPECT_LT(below, all.size()) << what;
    for (std::size_t i = 0; i < some.size(); ++i) EXPECT_EQ(some[i].id, all[i].id) << what << " row " << i;
  };
  check([](const TraceModel& m) { return m.contexts(); }, "contexts");
  check([](const TraceModel& m) { return m.waits(); }, "waits");
  check([](const TraceModel& m) { return m.threads(); }, "threads");
  // Linked among themselves: a parent in the prefix is found, one past it is not.
  for (const auto& c : part.contexts()) {
    const auto in_part = c.parent_id ? part.find_context(c.parent_id) : kNoIndex;
    if (in_part != kNoIndex) {
      EXPECT_EQ(part.contexts()[in_part].id, c.parent_id);
    }
    EXPECT_EQ(c.parent, in_part);
  }
  expect_time_ordered(part);
}

// A live trace: the caller holds a read snapshot while the recorder commits
// more.  A second connection would see the newer commit, so the model must
// come from the caller's snapshot alone: what one connection gives, without
// the rows committed after it.
TEST(TraceModel, ATwoConnectionLoadOfALiveTraceSeesOnlyTheCallersSnapshot) {
  const auto db = test_dir() / "live2.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  record_requests(50);
  trace::flush();
  auto reader = open_reader(db);
  ASSERT_EQ(sqlite3_exec(reader.db(), "BEGIN; SELECT count(*) FROM contexts;", nullptr, nullptr, nullptr), SQLITE_OK);
  record_requests(50);  // committed after the caller's snapshot
  auto [late, cancel_late] = with_cancel(background());
  trace::flush();
  const TraceModel a = TraceModel::load(reader.db(), two_connections());
  const TraceModel b = TraceModel::load(reader.db(), one_connection());
  sqlite3_exec(reader.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  expect_identical(a, b);
  EXPECT_EQ(a.find_context(late.id()), kNoIndex) << "a row committed after the caller's snapshot";
  const TraceModel now = TraceModel::load(reader.db(), two_connections());
  EXPECT_NE(now.find_context(late.id()), kNoIndex);
  EXPECT_GT(now.contexts().size(), a.contexts().size() + 100);
  cancel_late();
  trace::stop();
}

// A copy is a snapshot: equal to its original entity by entity (moments
// included), and unchanged when the original follows more commits.
TEST(TraceModel, ACopyIsASnapshotThatTheOriginalsUpdatesDoNotChange) {
  const auto db = test_dir() / "copy.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  record_requests(20);
  trace::flush();
  auto reader = open_reader(db);
  TraceModel m = TraceModel::load(reader.db());
  (void)m.moments();  // computed: the copy must carry them
  const TraceModel copy = m;
  expect_identical(copy, m);
  EXPECT_TRUE(std::equal(copy.moments().begin(), copy.moments().end(), m.moments().begin(), m.moments().end()));
  const std::size_t contexts = copy.contexts().size(), moments = copy.moments().size();
  // What the update below writes in the original's shared chunks (the root's
  // children, cancels, releases, edges) must not reach the copy.
  auto facts = [](const TraceModel& x) {
    std::vector<std::int64_t> f;
    for (const auto& c : x.contexts()) f.insert(f.end(), {std::int64_t(c.children.size()), c.cancel_ns, c.released_ns});
    for (const auto& w : x.waits()) f.insert(f.end(), {w.end_ns, w.outcome});
    for (const auto& t : x.threads()) f.insert(f.end(), {std::int64_t(t.waits.size()), t.exit_ns});
    f.push_back(std::int64_t(x.edges().size()));
    return f;
  };
  const auto before = facts(copy);
  record_requests(20);
  trace::stop();
  EXPECT_FALSE(m.update(reader.db()).empty());
  EXPECT_GT(m.contexts().size(), contexts);
  EXPECT_EQ(copy.contexts().size(), contexts);
  EXPECT_EQ(copy.moments().size(), moments);
  EXPECT_EQ(facts(copy), before);
  TraceModel assigned;
  assigned = m;
  expect_identical(assigned, m);
  const TraceModel fresh = TraceModel::load(reader.db());
  expect_same(assigned, fresh);
}

TEST(TraceModel, ADamagedTableIsAnErrorNotACrash) {
  const auto db = test_dir() / "empty.db";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.string().c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE run(x); CREATE TABLE enums(type, value, name);", nullptr, nullptr, nullptr);
  EXPECT_THROW(TraceModel::load(raw), analysis::ModelError);
  sqlite3_close(raw);
}

TEST(TraceModel, LoadCanBeCancelledFromItsProgressCallback) {
  const auto db = test_dir() / "t.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  trace::stop();
  auto reader = open_reader(db);
  analysis::LoadOptions o;
  o.progress = [](double) { return false; };
  EXPECT_THROW(TraceModel::load(reader.db(), o), analysis::LoadCancelled);
}

}  // namespace
}  // namespace ctxscope::testing
