// ctxscope-gen-trace — writes a synthetic, valid trace of about N events for the
// analyzer benchmark (bench_analyzer.sh).
//
//   ctxscope-gen-trace OUT.db N_EVENTS [SEED]
//   ctxscope-gen-trace --schema-version   (the version of the files it writes)
//
// The file is created from the schema declaration (schema::create_sql), with
// both the events (`event_blocks`) and the entity rows the recorder keeps (contexts,
// threads, waits, channels), consistent with each other.  The mix, per
// "request" (≈21 events): a timeout context per request, two go() workers
// under it, a channel, two selects per worker that observe the request's done,
// a child context created and cancelled by a worker, a done observation, the
// request's explicit cancel and releases; in one request in three a worker's
// last select is woken by that cancel (outcome done).  Injected bugs so every rule has work:
// 1 request in 200 drops a child's cancel (lost-cancel), 1 in 500 has a worker
// whose last receive ignores the context and wakes 200 ms after the cancel
// (blind-wait + late-exit), 1 in 1000 a worker left blocked (stuck-wait), 1 in
// 1000 a read begun after its own thread's cancel (use-after-cancel).
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ctxscope/context.hpp"
#include "ctxscope/detail/events.hpp"
#include "ctxscope/trace_schema.hpp"

namespace {

sqlite3* db = nullptr;

void exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::fprintf(stderr, "ctxscope-gen-trace: SQL error: %s\n", msg ? msg : "?");
    std::exit(2);
  }
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  explicit Stmt(const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "ctxscope-gen-trace: %s\n", sqlite3_errmsg(db));
      std::exit(2);
    }
  }
  ~Stmt() { sqlite3_finalize(s); }
  // Binds each argument in order; INT64_MIN means NULL.
  template <class... A>
  void run(A... a) {
    int i = 1;
    (bind(i++, a), ...);
    if (sqlite3_step(s) != SQLITE_DONE) {
      std::fprintf(stderr, "ctxscope-gen-trace: %s\n", sqlite3_errmsg(db));
      std::exit(2);
    }
    sqlite3_reset(s);
  }
  void bind(int i, std::int64_t v) {
    if (v == INT64_MIN) sqlite3_bind_null(s, i);
    else sqlite3_bind_int64(s, i, v);
  }
  void bind(int i, const char* t) {
    if (!t) sqlite3_bind_null(s, i);
    else sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
  }
};

constexpr std::int64_t NUL = INT64_MIN;
std::uint64_t rng_state = 1;
std::uint64_t rnd() {  // splitmix64: deterministic for a seed
  std::uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// EventType values (runtime/include/ctxscope/detail/events.hpp).
enum : int { ctx_create = 1, ctx_cancel, cancel_dropped, ctx_release, done_observed, wait_begin, wait_end,
             thread_spawn, thread_exit, chan_create, chan_close };

// The code the trace stores for an enumerator (docs/trace-schema.md).
template <class E>
std::int64_t code(E e) {
  return static_cast<std::int64_t>(e);
}
using ctxscope::CancelReason, ctxscope::Kind, ctxscope::ReleaseReason, ctxscope::WaitObject,
    ctxscope::WaitOutcome;
const std::int64_t kCanceled = code(ctxscope::errc::canceled);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--schema-version") {  // of the files it writes
    std::printf("%d\n", ctxscope::trace::schema::kVersion);
    return 0;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: ctxscope-gen-trace OUT.db N_EVENTS [SEED] | --schema-version\n");
    return 2;
  }
  const std::string out = argv[1];
  const std::int64_t target = std::atoll(argv[2]);
  rng_state = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  std::remove(out.c_str());
  if (sqlite3_open(out.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "ctxscope-gen-trace: %s: cannot create\n", out.c_str());
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;");
  exec("PRAGMA application_id=" + std::to_string(ctxscope::trace::schema::kApplicationId));
  exec("PRAGMA user_version=" + std::to_string(ctxscope::trace::schema::kVersion));
  exec(ctxscope::trace::schema::create_sql());
  exec("BEGIN");

  // Events encoded as the recorder encodes them (schema::event_encoding): a
  // block per run of one thread's events (at most kMaxBlockEvents).
  Stmt blk("INSERT INTO event_blocks(seq, n, thread, t_ns, id, events) VALUES(?,?,?,?,?,?)");
  Stmt ctx("INSERT INTO contexts(id, parent, kind, thread, created_ns, site, deadline_ns, registered, cancel_ns, "
           "cancel_reason, cancel_parent, cancel_origin, cancel_thread, cancel_site, cancel_called_ns, "
           "cancel_called_thread, err, dropped_ns, dropped_thread, dropped_when_done, released_ns, release_reason) "
           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  Stmt thr("INSERT INTO threads(id, name, ctx, parent_thread, spawn_ns, spawn_site, exit_ns, first_ns) "
           "VALUES(?,?,?,?,?,?,?,?)");
  Stmt wt("INSERT INTO waits(id, thread, object, object_id, label, done_ctx, n_cases, site, begin_ns, end_ns, "
          "outcome, case_index) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  Stmt ch("INSERT INTO channels(id, capacity, label, thread, created_ns, site, closed_ns, close_thread, close_site) "
          "VALUES(?,?,?,?,?,?,?,?,?)");
  Stmt site("INSERT INTO sites(id, file, line, col, function) VALUES(?,?,?,?,?)");

  constexpr int kSites = 64;
  static const char* files[] = {"server/handler.cpp", "server/worker.cpp", "lib/client.cpp", "lib/cache.cpp"};
  for (int i = 1; i <= kSites; ++i)
    site.run(std::int64_t{i}, files[i % 4], std::int64_t{10 + i * 7}, std::int64_t{5}, "void handle(Request&)");
  exec("INSERT INTO contexts(id, kind) VALUES(1, " + std::to_string(code(Kind::background)) + "), (2, " +
       std::to_string(code(Kind::todo)) + ")");
  thr.run(std::int64_t{1}, (const char*)nullptr, NUL, NUL, NUL, NUL, NUL, std::int64_t{0});

  std::int64_t events = 0, t = 1000, next_id = 1024, next_thread = 2;
  namespace enc = ctxscope::trace::schema::event_encoding;
  std::int64_t b_seq = 0, b_n = 0, b_thread = 0, b_t = 0, b_id = 0;
  enc::BlockText b_events;
  auto close_block = [&] {
    if (b_n) blk.run(b_seq, b_n, b_thread, b_t, b_id, b_events.finish().c_str());
    b_n = 0;
    b_events.clear();
  };
  auto E = [&](std::int64_t tt, int type, std::int64_t thread, std::int64_t id, std::int64_t ref, std::int64_t value,
               std::int64_t kind, std::int64_t aux, std::int64_t site_id) {
    if (b_n == 0 || thread != b_thread || b_n == enc::kMaxBlockEvents) {
      close_block();
      b_seq = events + 1, b_thread = thread, b_t = tt, b_id = id;
    }
    ++b_n;
    b_events.append({tt - b_t,
                                 enc::pack_op(static_cast<unsigned>(type), static_cast<unsigned>(kind), 0,
                                              static_cast<unsigned>(aux), 0),
                                 id - b_id, site_id, enc::pack_ref(static_cast<std::uint64_t>(ref), b_id), value});
    ++events;
  };
  auto S = [&]() { return static_cast<std::int64_t>(1 + rnd() % kSites); };
  std::int64_t unit = 0;
  while (events < target) {
    ++unit;
    const bool drop_child = unit % 200 == 0, blind = unit % 500 == 0, stuck = unit % 1000 == 7,
               premature = unit % 1000 == 13;
    const std::int64_t start = t;
    const std::int64_t R = next_id++, C = next_id++, CH = next_id++;
    const std::int64_t T1 = next_thread++, T2 = next_thread++;
    const std::int64_t rs = S(), cs = S(), gs = S(), ws = S(), xs = S();
    const std::int64_t dur = 20'000 + static_cast<std::int64_t>(rnd() % 30'000);  // 20-50 µs of work
    const std::int64_t cancel_t = start + dur;
    // Request context, channel, workers.
    E(start, ctx_create, 1, R, 1, start + 1'000'000'000, 3, 0, rs);
    E(start + 100, chan_create, 1, CH, 0, 0, 0, 0, gs);
    E(start + 200, thread_spawn, 1, T1, R, 1, 0, 0, gs);
    E(start + 300, thread_spawn, 1, T2, R, 1, 0, 0, gs);
    ch.run(CH, std::int64_t{0}, "results", std::int64_t{1}, start + 100, gs, cancel_t - 50, std::int64_t{1}, gs);
    // Worker waits: two selects each, observing R, ending on a value.
    std::int64_t w_end[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const std::int64_t T = k == 0 ? T1 : T2;
      std::int64_t tt = start + 400 + k * 100;
      for (int j = 0; j < 2; ++j) {
        const std::int64_t W = next_id++;
        const bool blind_here = blind && k == 1 && j == 1;
        const bool stuck_here = stuck && k == 1 && j == 1;
        // One request in three: the second worker's last select is woken by
        // the request's cancel (outcome done), as a shutdown path does.
        const bool woken = !blind_here && !stuck_here && k == 1 && j == 1 && unit % 3 == 0;
        const std::int64_t b = tt,
                           e = blind_here ? cancel_t + 200'000'000 : woken ? cancel_t + 20'000 : tt + dur / 5;
        E(b, wait_begin, T, W, blind_here || stuck_here ? 0 : R, CH, blind_here ? 0 : 2, 2, ws);
        if (!stuck_here) E(e, wait_end, T, W, woken ? 1 : 0, 0, woken ? 2 : 0, 0, 0);
        wt.run(W, T, code(blind_here ? WaitObject::chan_recv : WaitObject::select), blind_here ? CH : NUL, "results",
               blind_here || stuck_here ? NUL : R, std::int64_t{blind_here ? 1 : 2}, ws, b, stuck_here ? NUL : e,
               stuck_here ? NUL : code(woken ? WaitOutcome::done : WaitOutcome::value),
               stuck_here ? NUL : std::int64_t{woken ? 1 : 0});
        tt = e + 100;
      }
      w_end[k] = tt;
    }
    // Child context of a worker: created, cancelled (or its cancel dropped), released.
    const std::int64_t ct = start + 500;
    E(ct, ctx_create, T1, C, R, 0, 2, 1, cs);
    if (drop_child) {
      E(ct + 1000, cancel_dropped, T1, C, 0, 0, 0, 0, cs);
      E(cancel_t, ctx_cancel, 1, C, R, R, 1, 0, 0);
      E(cancel_t, ctx_release, 1, C, R, 0, 1, 0, 0);
      ctx.run(C, R, code(Kind::cancel), T1, ct, cs, NUL, std::int64_t{1}, cancel_t, code(CancelReason::parent), R, R,
              std::int64_t{1}, NUL, NUL, NUL, kCanceled, ct + 1000, T1, std::int64_t{0}, cancel_t,
              code(ReleaseReason::parent));
    } else {
      E(ct + 2000, ctx_cancel, T1, C, 0, 0, 0, 0, xs);
      E(ct + 2000, ctx_release, T1, C, R, 0, 0, 0, 0);
      ctx.run(C, R, code(Kind::cancel), T1, ct, cs, NUL, std::int64_t{1}, ct + 2000, code(CancelReason::explicit_call),
              NUL, NUL, T1, xs, ct + 2000, T1, kCanceled, NUL, NUL, NUL, ct + 2000, code(ReleaseReason::own_cancel));
    }
    // The request ends: explicit cancel by main, done observed by a worker.
    E(cancel_t, ctx_cancel, 1, R, 0, 0, 0, 0, xs);
    E(cancel_t + 50, done_observed, T2, R, 0, 0, 0, 0, ws);
    E(cancel_t + 60, ctx_release, 1, R, 1, 0, 0, 0, 0);
    E(cancel_t - 50, chan_close, 1, CH, 0, 0, 0, 0, gs);
    ctx.run(R, std::int64_t{1}, code(Kind::timeout), std::int64_t{1}, start, rs, start + 1'000'000'000,
            std::int64_t{0}, cancel_t, code(CancelReason::explicit_call), NUL, NUL, std::int64_t{1}, xs, cancel_t,
            std::int64_t{1}, kCanceled, NUL, NUL, NUL, cancel_t + 60, code(ReleaseReason::own_cancel));
    if (premature) {
      const std::int64_t W = next_id++;
      E(cancel_t + 100, wait_begin, 1, W, R, CH, 0, 1, ws);
      E(cancel_t + 100, wait_end, 1, W, 0, 0, 2, 0, 0);
      wt.run(W, std::int64_t{1}, code(WaitObject::chan_recv), CH, "body", R, std::int64_t{1}, ws, cancel_t + 100,
             cancel_t + 100, code(WaitOutcome::done), std::int64_t{0});
    }
    const std::int64_t x1 = std::max(w_end[0], cancel_t) + 200, x2 = std::max(w_end[1], cancel_t) + 300;
    E(x1, thread_exit, T1, T1, 0, 0, 0, 0, 0);
    if (!stuck) E(x2, thread_exit, T2, T2, 0, 0, 0, 0, 0);
    thr.run(T1, "worker", R, std::int64_t{1}, start + 200, gs, x1, start + 200);
    thr.run(T2, "worker", R, std::int64_t{1}, start + 300, gs, stuck ? NUL : x2, start + 300);
    t = start + 25'000;  // requests overlap: one starts every 25 µs
  }
  close_block();
  const std::int64_t end = t + 300'000'000;
  Stmt run("INSERT INTO run(schema_version, ctxscope_version, pid, executable, argv, clock, start_wall_ns, "
           "start_steady_ns, end_state, end_ns, last_commit_ns, events_recorded, events_dropped, drop_mode, "
           "stack_frames) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  run.run(std::int64_t{ctxscope::trace::schema::kVersion}, "synthetic", std::int64_t{1}, "/synthetic/server",
          "[\"server\"]", "CLOCK_MONOTONIC", std::int64_t{0}, std::int64_t{0}, "stopped", end, end, events,
          std::int64_t{0}, std::int64_t{0}, std::int64_t{0});
  exec(ctxscope::trace::schema::enums_sql());
  exec("COMMIT");
  sqlite3_close(db);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "ctxscope-gen-trace: %s: %lld events, %lld requests in %.1f s\n", out.c_str(),
               static_cast<long long>(events), static_cast<long long>(unit), s);
  return 0;
}
