// The packed event encoding of schema 6 (a JSON array of events per
// event_blocks row, read through the TEMP view `events`): every column of every emitted event reads
// back exactly — across block boundaries (256 events), commit boundaries
// (flush), several producer threads, time going backwards, wide and negative
// values — and the trace model's update() decodes the same ids and threads.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <climits>
#include <cstdint>
#include <map>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/trace_schema.hpp"
#include "recorder/recorder_test_util.hpp"

namespace ctxscope {
namespace {

namespace enc = trace::schema::event_encoding;

TEST(EventEncoding, OpPacksEveryFieldAndUnpacksIt) {
  for (unsigned type = 0; type <= enc::kTypeMax; ++type)
    for (unsigned kind = 0; kind <= enc::kKindMax; ++kind)
      for (unsigned err = 0; err <= enc::kErrMax; ++err)
        for (unsigned aux : {0u, 1u, 2u, 127u, 128u, 255u})
          for (std::int32_t code : {0, 1, -1, 2, 42, -42, INT32_MAX, INT32_MIN}) {
            const std::int64_t op = enc::pack_op(type, kind, err, aux, code);
            ASSERT_EQ(enc::op_type(op), static_cast<int>(type));
            ASSERT_EQ(enc::op_kind(op), static_cast<int>(kind));
            ASSERT_EQ(enc::op_err(op), static_cast<int>(err)) << type << " " << kind << " " << aux << " " << code;
            ASSERT_EQ(enc::op_aux(op), static_cast<int>(aux));
            ASSERT_EQ(enc::op_code(op), code);
          }
  // What the layout is for: the common events are one byte on disk (<= 127).
  EXPECT_LE(enc::pack_op(1, 7, 0, 0, 0), 127);  // ctx_create of a value context
  EXPECT_LE(enc::pack_op(2, 1, 1, 0, 0), 127);  // ctx_cancel, reason parent, err canceled
  EXPECT_LE(enc::pack_op(7, 4, 0, 0, 0), 127);  // wait_end, outcome timeout
}

TEST(EventEncoding, RefIsAbsoluteOrBlockRelativeAndUnpacks) {
  for (std::int64_t block : {std::int64_t{0}, std::int64_t{1}, std::int64_t{4194304}, std::int64_t{1} << 40})
    for (std::uint64_t ref : {0ull, 1ull, 2ull, 77ull, 4194303ull, 4194304ull, 4194305ull, (1ull << 40) - 5,
                              (1ull << 40) + 1000, 1ull << 42, (1ull << 61) + 3}) {
      const std::int64_t stored = enc::pack_ref(ref, block);
      ASSERT_EQ(enc::unpack_ref(stored, block), static_cast<std::int64_t>(ref)) << ref << " in block " << block;
    }
  EXPECT_EQ(enc::pack_ref(0, 4194304), 0);          // none: zero bytes on disk
  EXPECT_EQ(enc::pack_ref(1, 4194304), 1);          // background: absolute, zero bytes on disk
  EXPECT_EQ(enc::pack_ref(4194303, 4194304), -2);   // the context just before: relative
  EXPECT_EQ(enc::pack_ref(4194304, 4194304), 2 * 4194304 - 1);  // the block's own id: absolute (0 means none)
}

TEST(EventEncoding, BlocksRoundTripThroughAppendAndDecode) {
  const std::int64_t wide[] = {0, 1, -1, 127, -128, 1234567, INT64_MAX, INT64_MIN, INT32_MIN};
  std::vector<enc::Fields> want;
  enc::BlockText text;
  for (std::int64_t a : wide)
    for (int zeros = 0; zeros < 16; ++zeros) {  // every pattern of zeros in the optional fields
      const auto neg_a = static_cast<std::int64_t>(0 - static_cast<std::uint64_t>(a));  // -a, wrapping at INT64_MIN
      enc::Fields f{a, enc::pack_op(1 + (zeros % 13), 2, 0, 0, 0), zeros & 1 ? a : 0, zeros & 2 ? 42 : 0,
                    zeros & 4 ? neg_a : 0, zeros & 8 ? a : 0};
      text.append(f);
      want.push_back(f);
    }
  std::vector<enc::Fields> got;
  ASSERT_TRUE(enc::decode_block(text.finish(), got)) << text.str().substr(0, 200);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].dt, want[i].dt);
    EXPECT_EQ(got[i].op, want[i].op);
    EXPECT_EQ(got[i].did, want[i].did);
    EXPECT_EQ(got[i].site, want[i].site);
    EXPECT_EQ(got[i].ref, want[i].ref);
    EXPECT_EQ(got[i].value, want[i].value);
  }
  // Trailing zeros are left out; dt and op always written; dt and did stored
  // as deltas from the previous event, given and decoded relative to the block.
  enc::BlockText one;
  one.append({0, 33, 0, 0, 0, 0});
  one.append({5, 6, 1, 0, 2, 0});
  one.append({1005, 7, 1, 0, 0, 0});
  one.append({1000, 2, 0, 3, 0, 0});
  EXPECT_EQ(one.finish(), "[[0,33],[5,6,1,0,2],[1000,7],[-5,2,-1,3]]");
  EXPECT_EQ(one.finish(), "[[0,33],[5,6,1,0,2],[1000,7],[-5,2,-1,3]]") << "finish() closes once";
  one.clear();
  one.append({7, 33, 2, 0, 0, 0});
  EXPECT_EQ(one.finish(), "[[7,33,2]]") << "a cleared text starts a new block";
  enc::BlockText none;
  EXPECT_EQ(none.finish(), "[]");
  EXPECT_TRUE(enc::decode_block(none.str(), got));
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(enc::decode_block(" [ [1, 2] ,[3,4,5,6,7,8] ] ", got));  // JSON whitespace anywhere
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].dt, 4);
  EXPECT_EQ(got[1].did, 5);
  // Anything else is refused: not an array, an element of one field or of
  // seven, a non-integer, a number out of range, text after the array.
  for (const char* bad : {"", "{}", "[1,2]", "[[1]]", "[[1,2,3,4,5,6,7]]", "[[1,\"2\"]]", "[[1,2.5]]", "[[1,2]",
                          "[[1,2]]x", "[[1,2],]", "[[1,99999999999999999999]]", "[[,1,2]]", "[[1 2]]"})
    EXPECT_FALSE(enc::decode_block(bad, got)) << bad;
}

// The SQL of the view decodes exactly what the C++ helpers encode.
TEST(EventEncoding, ViewDecodesLikeTheHelpers) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, trace::schema::create_sql().c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, trace::schema::events_view_sql().c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  const std::int64_t block_id = 4194304, block_t = 5000;
  struct Want {
    std::int64_t op, ref, dt, did, value, site;
  };
  std::vector<Want> want;
  enc::BlockText text;
  int i = 0;
  for (unsigned type = 0; type <= enc::kTypeMax; ++type)
    for (unsigned err = 0; err <= enc::kErrMax; ++err)
      for (std::int32_t code : {0, 1, -1, INT32_MIN, INT32_MAX})
        for (std::uint64_t ref : {0ull, 1ull, 4194303ull, 1ull << 42}) {
          ++i;
          const std::int64_t op = enc::pack_op(type, (type + err) & 15, err, (type * 37) & 255, code);
          const std::int64_t dt = i % 5 == 0 ? -700 : i * 1000, did = i % 3 == 0 ? 0 : i - 20;
          const std::int64_t value = i % 7 == 0 ? INT64_MIN : i % 7 == 1 ? INT64_MAX : i % 7 == 2 ? 0 : i;
          const std::int64_t site = i % 4 == 0 ? 0 : i % 4;
          text.append({dt, op, did, site, enc::pack_ref(ref, block_id), value});
          want.push_back({op, static_cast<std::int64_t>(ref), dt, did, value, site});
        }
  const std::string& events = text.finish();
  sqlite3_stmt* ins = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO event_blocks VALUES(1, ?, 3, ?, ?, ?)", -1, &ins, nullptr), SQLITE_OK);
  sqlite3_bind_int64(ins, 1, static_cast<std::int64_t>(want.size()));
  sqlite3_bind_int64(ins, 2, block_t);
  sqlite3_bind_int64(ins, 3, block_id);
  sqlite3_bind_text(ins, 4, events.data(), static_cast<int>(events.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE);
  sqlite3_finalize(ins);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT seq, type, kind, aux, err, code, ref, thread, t_ns, id, value, site FROM events",
                               -1, &q, nullptr),
            SQLITE_OK);
  std::int64_t rows = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    const std::int64_t seq = sqlite3_column_int64(q, 0);
    EXPECT_EQ(seq, ++rows);
    const Want& w = want.at(static_cast<std::size_t>(seq - 1));
    EXPECT_EQ(sqlite3_column_int64(q, 1), enc::op_type(w.op));
    EXPECT_EQ(sqlite3_column_int64(q, 2), enc::op_kind(w.op));
    EXPECT_EQ(sqlite3_column_int64(q, 3), enc::op_aux(w.op));
    EXPECT_EQ(sqlite3_column_int64(q, 4), enc::op_err(w.op)) << "op " << w.op;
    EXPECT_EQ(sqlite3_column_int64(q, 5), enc::op_code(w.op));
    EXPECT_EQ(sqlite3_column_int64(q, 6), w.ref);
    EXPECT_EQ(sqlite3_column_int64(q, 7), 3);
    EXPECT_EQ(sqlite3_column_int64(q, 8), block_t + w.dt);
    EXPECT_EQ(sqlite3_column_int64(q, 9), block_id + w.did);
    EXPECT_EQ(sqlite3_column_type(q, 10), SQLITE_INTEGER);
    EXPECT_EQ(sqlite3_column_int64(q, 10), w.value);
    if (w.site == 0) EXPECT_EQ(sqlite3_column_type(q, 11), SQLITE_NULL);
    else EXPECT_EQ(sqlite3_column_int64(q, 11), w.site);
  }
  EXPECT_EQ(rows, static_cast<std::int64_t>(want.size()));
  sqlite3_finalize(q);
  sqlite3_close(db);
}

// One emitted event as the test expects to read it back.
struct Emitted {
  std::uint64_t thread;
  Event e;
};

std::source_location site_a() { return std::source_location::current(); }
std::source_location site_b() { return std::source_location::current(); }

// Events of every type with varied fields.  Times: mostly increasing by small
// steps, sometimes by more than 2^32 ns, now and then backwards (dt < 0).
Event make_event(int t, int i, std::uint64_t t0, std::uint64_t* clock) {
  Event e{};
  const int type = 1 + (i % 13);
  e.type = static_cast<EventType>(type);
  const std::uint64_t base = (1ull << 40) + static_cast<std::uint64_t>(t) * (1ull << 30);
  e.id = base + static_cast<std::uint64_t>(i / 3) + (i % 97 == 0 ? (1ull << 35) : 0);  // a far id now and then
  switch (i % 5) {
    case 0: e.ref = 0; break;
    case 1: e.ref = 1; break;
    case 2: e.ref = e.id - 1; break;
    case 3: e.ref = base + 12345678; break;
    default: e.ref = 1ull << 42;
  }
  e.value = i % 7 == 0 ? (1ull << 50) + static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i % 300);
  e.kind = static_cast<std::uint8_t>(i % 16);
  e.err = static_cast<std::uint8_t>(i % 4);
  // aux: any byte, except the ctx_cancel bit that splits an event into two rows.
  e.aux = static_cast<std::uint8_t>((i * 7) & 255);
  if (e.type == EventType::ctx_cancel) e.aux &= static_cast<std::uint8_t>(~kCancelReleases);
  const std::int32_t codes[] = {0, 1, -1, 2, INT32_MIN, INT32_MAX, 123456};
  e.code = codes[i % 7];
  if (i % 3 == 0) e.site = site_a();
  else if (i % 3 == 1) e.site = site_b();
  if (i % 211 == 0) *clock += 5'000'000'000ull;    // > 2^32 ns later
  else if (i % 53 == 0 && *clock > t0 + 1000) *clock -= 700;  // earlier than the previous event
  else *clock += 1 + static_cast<std::uint64_t>(i % 40);
  e.time = *clock;
  return e;
}

class EventEncodingRecorded : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = rectest::temp_trace("encoding");
    trace::Options o;
    o.fast_clock = false;  // Event::time in CLOCK_MONOTONIC ns: t_ns is exactly time - start
    std::string err;
    ASSERT_TRUE(trace::start(path_, o, &err)) << err;
    // Every event after the run's start, however long start() took (a
    // sanitizer build, a loaded machine): an event stamped before it is not
    // part of the run and is dropped by the writer.
    t0_ = detail::now_ns() + 1'000;
    clock_[0] = t0_;
    clock_[1] = t0_ + 17;
    clock_[2] = t0_ + 1'000'003;
  }
  void TearDown() override { trace::stop(); }

  // kThreads producers, each emitting `n` events in `chunks` parts with a
  // commit (flush barrier) between the parts.
  void emit_all(int first, int n, int chunks) {
    std::vector<std::thread> ts;
    std::vector<std::vector<Emitted>> per(kThreads);
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        const std::uint64_t self = detail::current_thread_id();
        for (int c = 0; c < chunks; ++c) {
          for (int i = first + c * n / chunks; i < first + (c + 1) * n / chunks; ++i) {
            Event e = make_event(t, i, t0_, &clock_[t]);
            per[static_cast<std::size_t>(t)].push_back({self, e});
            rectest::emit(e);
          }
          trace::flush();  // a commit inside every thread's run: blocks end there
        }
      });
    for (auto& t : ts) t.join();
    for (auto& v : per)
      for (auto& x : v) emitted_[x.thread].push_back(x);
  }

  static constexpr int kThreads = 3;
  std::string path_;
  std::uint64_t t0_ = 0;                // set by SetUp, after the run's start
  std::uint64_t clock_[kThreads] = {};
  std::map<std::uint64_t, std::vector<Emitted>> emitted_;  // by thread, in emission order
};

TEST_F(EventEncodingRecorded, EveryColumnOfEveryEventReadsBackThroughTheView) {
  emit_all(0, 1500, 4);  // ~6 blocks per thread, 4 commits each
  trace::flush();
  auto r = rectest::must_open(path_);
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  const std::int64_t start = r->run().start_steady_ns;
  // Blocks: never more than 256 events, one thread each, covering seq 1..N without overlap.
  EXPECT_EQ(rectest::q_int(db, "SELECT max(n) FROM event_blocks"), enc::kMaxBlockEvents);
  EXPECT_EQ(rectest::q_int(db, "SELECT sum(n) FROM event_blocks"), rectest::q_int(db, "SELECT count(*) FROM events"));
  EXPECT_EQ(rectest::q_int(db, "SELECT count(*) FROM event_blocks WHERE json_array_length(events) != n"), 0);
  EXPECT_EQ(rectest::q_int(db, "SELECT count(*) FROM event_blocks a JOIN event_blocks b ON b.seq > a.seq AND "
                               "b.seq < a.seq + a.n"),
            0);
  EXPECT_EQ(rectest::q_int(db, "SELECT max(seq) FROM events"), rectest::q_int(db, "SELECT count(*) FROM events"));
  EXPECT_GT(rectest::q_int(db, "SELECT count(*) FROM event_blocks, json_each(events) e WHERE "
                               "json_extract(e.value, '$[0]') < 0"),
            0);

  std::map<std::uint64_t, std::size_t> next;  // per thread: index of the next expected event
  std::size_t matched = 0;
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT e.seq, e.t_ns, e.type, e.thread, e.id, e.ref, e.value, e.kind, e.aux, e.err, "
                               "e.code, e.site, s.line FROM events e LEFT JOIN sites s ON s.id = e.site ORDER BY e.seq",
                               -1, &q, nullptr),
            SQLITE_OK);
  std::int64_t last_seq = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    const std::int64_t seq = sqlite3_column_int64(q, 0);
    EXPECT_EQ(seq, last_seq + 1);
    last_seq = seq;
    const auto thread = static_cast<std::uint64_t>(sqlite3_column_int64(q, 3));
    auto it = emitted_.find(thread);
    if (it == emitted_.end()) continue;  // an event of another thread (the runtime's own)
    std::size_t& k = next[thread];
    ASSERT_LT(k, it->second.size()) << "thread " << thread;
    const Event& e = it->second[k++].e;
    SCOPED_TRACE("seq " + std::to_string(seq) + ", thread " + std::to_string(thread) + ", event " + std::to_string(k - 1));
    EXPECT_EQ(sqlite3_column_int64(q, 1), static_cast<std::int64_t>(e.time) - start);
    EXPECT_EQ(sqlite3_column_int64(q, 2), static_cast<std::int64_t>(e.type));
    EXPECT_EQ(sqlite3_column_int64(q, 4), static_cast<std::int64_t>(e.id));
    EXPECT_EQ(sqlite3_column_int64(q, 5), static_cast<std::int64_t>(e.ref));
    EXPECT_EQ(sqlite3_column_int64(q, 6), static_cast<std::int64_t>(e.value));
    EXPECT_EQ(sqlite3_column_int64(q, 7), e.kind);
    EXPECT_EQ(sqlite3_column_int64(q, 8), e.aux);
    EXPECT_EQ(sqlite3_column_int64(q, 9), e.err);
    EXPECT_EQ(sqlite3_column_int64(q, 10), e.code);
    if (e.site.line() == 0) {
      EXPECT_EQ(sqlite3_column_type(q, 11), SQLITE_NULL);
    } else {
      EXPECT_EQ(sqlite3_column_int64(q, 12), static_cast<std::int64_t>(e.site.line()));
    }
    ++matched;
  }
  sqlite3_finalize(q);
  EXPECT_EQ(matched, static_cast<std::size_t>(kThreads) * 1500);
  for (auto& [thread, v] : emitted_) EXPECT_EQ(next[thread], v.size()) << "thread " << thread;
}

// The trace model reads events only in update(), decoding the blocks itself
// (decode_block): every context and wait id, and every thread, emitted after
// the load must be found, with the columns the model reads from their rows.
TEST_F(EventEncodingRecorded, ModelUpdateFindsEveryObjectAcrossCommitsAndThreads) {
  auto r0 = [&] {
    trace::flush();
    return rectest::must_open(path_);
  }();
  ASSERT_TRUE(r0);
  analysis::TraceModel m = analysis::TraceModel::load(r0->db());
  const std::size_t contexts_before = m.contexts().size();

  // Realistic events this time: a context and a wait per unit, several threads,
  // commits in between, more than one block per thread.
  struct Unit {
    std::uint64_t thread, ctx, wait;
    std::int64_t created, begun;
  };
  std::vector<std::vector<Unit>> units(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      const std::uint64_t self = detail::current_thread_id();
      const std::uint64_t base = (1ull << 41) + static_cast<std::uint64_t>(t) * (1ull << 20);
      for (int i = 0; i < 400; ++i) {
        const std::uint64_t ctx = base + 2 * static_cast<std::uint64_t>(i), wait = ctx + 1;
        Event c{};
        c.type = EventType::ctx_create;
        c.id = ctx;
        c.ref = i ? ctx - 2 : 1;  // a chain: each the parent of the next
        c.kind = static_cast<std::uint8_t>(Kind::cancel);
        c.site = site_a();
        c.time = (clock_[t] += 100);
        rectest::emit(c);
        Event w{};
        w.type = EventType::wait_begin;
        w.id = wait;
        w.ref = ctx;
        w.value = 77;
        w.kind = static_cast<std::uint8_t>(WaitObject::chan_recv);
        w.time = (clock_[t] += 100);
        rectest::emit(w);
        units[static_cast<std::size_t>(t)].push_back({self, ctx, wait, static_cast<std::int64_t>(c.time),
                                                      static_cast<std::int64_t>(w.time)});
        if (i % 150 == 149) trace::flush();
      }
    });
  for (auto& t : ts) t.join();
  trace::flush();
  const analysis::ModelDelta d = m.update(r0->db());
  EXPECT_EQ(d.new_contexts.size(), static_cast<std::size_t>(kThreads) * 400);
  EXPECT_EQ(m.contexts().size(), contexts_before + static_cast<std::size_t>(kThreads) * 400);
  const std::int64_t start = r0->run().start_steady_ns;
  for (const auto& v : units)
    for (const Unit& u : v) {
      const std::uint32_t ci = m.find_context(u.ctx);
      ASSERT_NE(ci, analysis::kNoIndex) << u.ctx;
      const analysis::Context& c = m.contexts()[ci];
      EXPECT_EQ(c.thread, u.thread);
      EXPECT_EQ(c.created_ns, u.created - start);
      EXPECT_EQ(c.kind, static_cast<std::uint8_t>(Kind::cancel));
      EXPECT_EQ(c.parent_id, u.ctx == v.front().ctx ? 1u : u.ctx - 2);
      ASSERT_NE(c.site, analysis::kNoIndex);
      EXPECT_EQ(m.sites()[c.site].line, static_cast<int>(site_a().line()));
      const std::uint32_t wi = m.find_wait(u.wait);
      ASSERT_NE(wi, analysis::kNoIndex) << u.wait;
      const analysis::Wait& w = m.waits()[wi];
      EXPECT_EQ(w.thread, u.thread);
      EXPECT_EQ(w.done_ctx_id, u.ctx);
      EXPECT_EQ(w.object_id, 77u);
      EXPECT_EQ(w.begin_ns, u.begun - start);
      EXPECT_NE(m.find_thread(static_cast<std::uint32_t>(u.thread)), analysis::kNoIndex);
    }
}

// A block whose events are not the JSON the writer writes (a damaged or
// hand-edited file) stops update() with one clear error naming the block,
// never a crash or a silently short model.
TEST_F(EventEncodingRecorded, ModelUpdateRefusesACorruptBlock) {
  trace::flush();
  auto r0 = rectest::must_open(path_);
  ASSERT_TRUE(r0);
  analysis::TraceModel m = analysis::TraceModel::load(r0->db());
  emit_all(0, 300, 1);
  trace::flush();
  sqlite3* rw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &rw), SQLITE_OK);
  sqlite3_busy_timeout(rw, 10'000);  // the recorder may be committing
  ASSERT_EQ(sqlite3_exec(rw, "UPDATE event_blocks SET events = '[[1,2],[3' WHERE seq = (SELECT max(seq) FROM event_blocks)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  const std::int64_t bad = rectest::q_int(rw, "SELECT max(seq) FROM event_blocks").value_or(-1);
  sqlite3_close(rw);
  try {
    m.update(r0->db());
    ADD_FAILURE() << "update() read a corrupt block";
  } catch (const analysis::ModelError& e) {
    EXPECT_EQ(std::string(e.what()), "event block " + std::to_string(bad) +
                                         " is corrupt (its events are not a JSON array of event arrays)");
  }
}

}  // namespace
}  // namespace ctxscope
