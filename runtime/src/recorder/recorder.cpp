// The recorder: an EventSink that turns runtime events into a SQLite trace.
//
// Hot path (any thread, on_event): copy the 64-byte Event into the calling
// thread's own SPSC ring (plus raw stack frames when stacks are on).  No lock,
// no SQLite, no allocation once the ring exists.  A full ring makes the producer
// wait (bounded) for the recorder, or, in drop mode, drop and count.
//
// Recorder thread (one): polls every ring (woken when a ring passes half full,
// otherwise every 10 ms), writes rows with prepared statements inside one open
// transaction and commits at least every 50 ms, at every flush() barrier and at
// stop().  It symbolizes and deduplicates stacks and sites.  A thread_local guard
// keeps the recorder from recording itself.
//
// Lifetime: the sink, the rings and the registry are never destroyed (detached
// threads may emit until the very end of the process); a ring whose thread has
// exited is freed by the recorder once drained.
//
// fork(): recording is off in the child (it never touches the parent's file or
// connection); the child may start its own trace.
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/stacktrace/frame.hpp>
#include <boost/stacktrace/safe_dump_to.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_schema.hpp"
#include "recorder/recorder_internal.hpp"

#ifndef CTXSCOPE_VERSION
#define CTXSCOPE_VERSION "0.0.0"
#endif

namespace ctxscope::trace {
namespace {

using ctxscope::detail::now_ns;

constexpr std::uint64_t kRingCap = detail::kRingCapacity;  // events per thread (128 KiB); power of two
static_assert((kRingCap & (kRingCap - 1)) == 0);
constexpr int kMaxFrames = 64;
constexpr int kInternalFrames = 4;  // on_event / push / emit_to / safe_dump_to, when not inlined
constexpr std::uint64_t kProducerWaitNs = 5'000'000'000;  // bounded wait before a full ring drops
constexpr std::uint64_t kCommitEveryNs = 50'000'000;      // issue: at least every 100 ms
constexpr long kTickNs = 10'000'000;

struct Ring {
  alignas(64) std::atomic<std::uint64_t> head{0};  // written by the producer
  alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the recorder
  alignas(64) std::uint64_t cached_tail = 0;       // producer's private view of tail
  std::atomic<bool> dead{false};                   // producer thread has exited
  std::uint8_t nframes[kRingCap] = {};
  const void** frames = nullptr;  // kRingCap * (kMaxFrames + 1), allocated when stacks are first used
  Event slots[kRingCap];
};

// Registry of rings.  The mutex is taken by a thread once (registration) and by
// the recorder per poll, never on the per-event path.
std::mutex g_reg_mu;
std::vector<Ring*>* g_rings = nullptr;  // leaked on purpose

// Events emitted by a thread after its thread_local ring owner was destroyed
// (other thread_local destructors) go to this shared ring under a lock: rare.
std::mutex g_orphan_mu;
Ring* g_orphan = nullptr;

thread_local Ring* t_ring = nullptr;
thread_local bool t_in_recorder = false;
thread_local bool t_ring_gone = false;

struct RingOwner {
  Ring* r = nullptr;
  ~RingOwner() {
    if (r) r->dead.store(true, std::memory_order_release);
    t_ring = nullptr;
    t_ring_gone = true;
  }
};
thread_local RingOwner t_owner;

// Shared state of the recorder.  Constant-initialized so that the environment
// autostart (another TU's static initializer) can use it in any order.
struct State {
  std::atomic<bool> active{false};
  std::atomic<bool> drop_mode{false};
  std::atomic<int> stack_frames{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint32_t> wake_word{0};
  std::atomic<bool> sleeping{false};
  std::atomic<std::uint64_t> flush_req{0};
  std::atomic<std::uint64_t> flush_done{0};
  std::atomic<bool> stop_req{false};
  std::atomic<bool> paused{false};
  std::atomic<bool> running{false};  // a recorder thread exists (in this process)
  std::atomic<int> owner_pid{0};
  std::mutex control_mu;
  std::thread* thread = nullptr;
  int lock_fd = -1;
};
constinit State g;

void futex_wake(std::atomic<std::uint32_t>* w) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}
void futex_wait(std::atomic<std::uint32_t>* w, std::uint32_t val, long ns) {
  timespec ts{ns / 1000000000, ns % 1000000000};
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAIT_PRIVATE, val, &ts, nullptr, 0);
}

void wake_recorder(bool force) {
  if (force || g.sleeping.load(std::memory_order_relaxed)) {
    g.wake_word.fetch_add(1, std::memory_order_release);
    futex_wake(&g.wake_word);
  }
}

Ring* register_ring() {
  auto* r = new Ring;
  {
    std::lock_guard lk(g_reg_mu);
    if (!g_rings) g_rings = new std::vector<Ring*>;
    g_rings->push_back(r);
  }
  t_owner.r = r;
  t_ring = r;
  return r;
}

bool wants_stack(const Event& e) {
  return e.type == EventType::ctx_create ||
         (e.type == EventType::ctx_cancel && e.kind == static_cast<std::uint8_t>(CancelReason::explicit_call));
}

// Waits for room in `r` (the producer's own ring).  False: give up and drop.
bool wait_for_space(Ring* r, std::uint64_t h) {
  if (g.drop_mode.load(std::memory_order_relaxed)) return false;
  const std::uint64_t deadline = now_ns() + kProducerWaitNs;
  for (int spin = 0;; ++spin) {
    wake_recorder(true);
    r->cached_tail = r->tail.load(std::memory_order_acquire);
    if (h - r->cached_tail < kRingCap) return true;
    if (!g.active.load(std::memory_order_relaxed)) return false;
    if (spin < 16) {
      std::this_thread::yield();
    } else {
      if (now_ns() > deadline) return false;
      timespec ts{0, 50'000};
      nanosleep(&ts, nullptr);
    }
  }
}

void push(Ring* r, const Event& e) {
  const std::uint64_t h = r->head.load(std::memory_order_relaxed);
  if (h - r->cached_tail >= kRingCap) [[unlikely]] {
    r->cached_tail = r->tail.load(std::memory_order_acquire);
    if (h - r->cached_tail >= kRingCap && !wait_for_space(r, h)) {
      g.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  const std::uint64_t i = h & (kRingCap - 1);
  r->slots[i] = e;
  const int nf = g.stack_frames.load(std::memory_order_relaxed);
  if (nf > 0 && wants_stack(e)) [[unlikely]] {
    if (!r->frames) r->frames = new const void*[kRingCap * (kMaxFrames + 1)];
    const void** mem = r->frames + i * (kMaxFrames + 1);
    // The recorder's own frames (how many depends on inlining) are captured
    // too and stripped at symbolization: capture a few more than asked.
    const int want = std::min(nf + kInternalFrames, kMaxFrames);
    std::size_t n = boost::stacktrace::safe_dump_to(0, mem, (want + 1) * sizeof(void*));
    r->nframes[i] = static_cast<std::uint8_t>(n > 0 ? n - 1 : 0);  // n counts the terminating 0
  } else {
    r->nframes[i] = 0;
  }
  r->head.store(h + 1, std::memory_order_release);
  if (h + 1 - r->cached_tail == kRingCap / 2) wake_recorder(false);
}

class Recorder final : public EventSink {
 public:
  constexpr Recorder() = default;
  void on_event(const Event& e) noexcept override {
    if (!g.active.load(std::memory_order_relaxed)) return;
    if (t_in_recorder) return;
    Ring* r = t_ring;
    if (!r) [[unlikely]] {
      if (t_ring_gone) {
        std::lock_guard lk(g_orphan_mu);
        push(g_orphan, e);
        return;
      }
      r = register_ring();
    }
    push(r, e);
  }
};
constinit Recorder g_recorder;

// ---------------------------------------------------------------- writer ---

std::string json_escape(std::string_view s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      r += b;
    } else {
      r += static_cast<char>(c);
    }
  }
  return r + "\"";
}

std::string read_file(const char* p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const char* errc_name(std::uint8_t v) {
  switch (v) {
    case 1: return "canceled";
    case 2: return "deadline_exceeded";
  }
  return nullptr;
}

struct SiteKey {
  const char* file;
  const char* func;
  std::uint32_t line, col;
  bool operator==(const SiteKey&) const = default;
};
struct SiteKeyHash {
  std::size_t operator()(const SiteKey& k) const noexcept {
    std::size_t h = std::hash<const void*>()(k.file);
    h = h * 31 + std::hash<const void*>()(k.func);
    return h * 131 + k.line * 7 + k.col;
  }
};

// Everything SQLite; only ever used by the recorder thread (and by start/stop
// while that thread does not run).
class Writer {
 public:
  bool open(const std::string& path, std::uint64_t t0, int stack_frames, bool drop_mode, std::string* err);
  void write(const Event& e, const void* const* frames, int nframes);
  bool commit(bool final_stop);
  void close();
  std::uint64_t events_written() const { return events_; }

 private:
  struct Stmt {
    sqlite3_stmt* s = nullptr;
  };
  bool exec(const char* sql);
  sqlite3_stmt* prep(const char* sql);
  std::int64_t rel(std::uint64_t abs) const { return static_cast<std::int64_t>(abs - t0_); }
  std::int64_t site_id(const std::source_location& loc);
  std::int64_t stack_id(const void* const* frames, int n);
  struct FrameInfo {
    std::int64_t id;
    bool internal;  // a frame of the recorder or of ctxscope's internals: stripped from the top of stacks
  };
  FrameInfo frame_id(const void* addr);
  int stack_frames_ = 0;
  void see_thread(std::uint64_t id, std::uint64_t t);
  // Binding helpers: 0 / nullptr become NULL where the schema says so.
  static void bind_i(sqlite3_stmt* s, int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); }
  static void bind_opt(sqlite3_stmt* s, int i, std::int64_t v) {
    if (v) sqlite3_bind_int64(s, i, v);
    else sqlite3_bind_null(s, i);
  }
  static void bind_t(sqlite3_stmt* s, int i, const char* v) {
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
  }
  void step(sqlite3_stmt* s);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::uint64_t t0_ = 0;
  std::uint64_t events_ = 0;
  bool failed_ = false;
  bool in_txn_ = false;
  sqlite3_stmt *ins_event_{}, *ctx_create_{}, *ctx_cancel_{}, *ctx_dropped_{}, *ctx_release_{}, *ctx_observed_{},
      *wait_begin_{}, *wait_end_{}, *thr_spawn_{}, *thr_exit_{}, *thr_seen_{}, *chan_create_{}, *chan_close_{},
      *ins_site_{}, *ins_stack_{}, *ins_stack_frame_{}, *ins_frame_{}, *run_commit_{}, *run_end_{};
  std::unordered_map<SiteKey, std::int64_t, SiteKeyHash> site_by_ptr_;
  std::map<std::tuple<std::string, std::string, std::uint32_t, std::uint32_t>, std::int64_t> site_by_text_;
  std::int64_t next_site_ = 1;
  std::unordered_set<std::uint64_t> threads_seen_;
  std::map<std::vector<const void*>, std::int64_t> stacks_;
  std::unordered_map<const void*, FrameInfo> frames_;
  std::int64_t next_stack_ = 1, next_frame_ = 1;
};

Writer* g_writer = nullptr;  // owned by start/stop

bool Writer::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    if (!failed_)
      std::fprintf(stderr, "ctxscope: %s: trace write failed: %s\n", path_.c_str(), msg ? msg : sqlite3_errmsg(db_));
    sqlite3_free(msg);
    failed_ = true;
    return false;
  }
  return true;
}

sqlite3_stmt* Writer::prep(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "ctxscope: internal: cannot prepare %s: %s\n", sql, sqlite3_errmsg(db_));
    failed_ = true;
  }
  return s;
}

void Writer::step(sqlite3_stmt* s) {
  if (!s) return;
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE && !failed_) {
    std::fprintf(stderr, "ctxscope: %s: trace write failed: %s\n", path_.c_str(), sqlite3_errmsg(db_));
    failed_ = true;
  }
  sqlite3_reset(s);
}

bool Writer::open(const std::string& path, std::uint64_t t0, int stack_frames, bool drop_mode, std::string* err) {
  path_ = path;
  t0_ = t0;
  stack_frames_ = stack_frames;
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    if (err) *err = path + ": cannot create trace: " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    return false;
  }
  char pragmas[256];
  std::snprintf(pragmas, sizeof pragmas,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA application_id=%d; "
                "PRAGMA user_version=%d; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;",
                schema::kApplicationId, schema::kVersion);
  if (!exec(pragmas) || !exec("BEGIN") || !exec(schema::create_sql().c_str())) {
    if (err) *err = path + ": cannot create trace: " + sqlite3_errmsg(db_);
    sqlite3_close(db_);
    db_ = nullptr;
    return false;
  }
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const std::int64_t wall_ns = static_cast<std::int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec -
                               static_cast<std::int64_t>(now_ns() - t0);
  std::string cmdline = read_file("/proc/self/cmdline");
  std::string argv = "[";
  for (std::size_t p = 0; p < cmdline.size();) {
    std::size_t e = cmdline.find('\0', p);
    if (e == std::string::npos) e = cmdline.size();
    if (argv.size() > 1) argv += ',';
    argv += json_escape(std::string_view(cmdline).substr(p, e - p));
    p = e + 1;
  }
  argv += "]";
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  sqlite3_stmt* run = prep(
      "INSERT INTO run(schema_version, ctxscope_version, pid, executable, argv, clock, start_wall_ns, "
      "start_steady_ns, end_state, events_recorded, events_dropped, drop_mode, stack_frames, last_commit_ns) "
      "VALUES(?,?,?,?,?,'CLOCK_MONOTONIC',?,?,'none',0,0,?,?,0)");
  if (run) {
    bind_i(run, 1, schema::kVersion);
    sqlite3_bind_text(run, 2, CTXSCOPE_VERSION, -1, SQLITE_STATIC);
    bind_i(run, 3, getpid());
    sqlite3_bind_text(run, 4, exe, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(run, 5, argv.c_str(), -1, SQLITE_TRANSIENT);
    bind_i(run, 6, wall_ns);
    bind_i(run, 7, static_cast<std::int64_t>(t0));
    bind_i(run, 8, drop_mode ? 1 : 0);
    bind_i(run, 9, stack_frames);
    step(run);
    sqlite3_finalize(run);
  }
  exec("INSERT INTO contexts(id, kind) VALUES(1, 'background'), (2, 'todo')");
  {
    std::string en = "INSERT INTO enums(type, value, name) VALUES ";
    bool first = true;
    auto add = [&](const char* type, int v, std::string_view name) {
      if (!first) en += ",";
      first = false;
      en += "('" + std::string(type) + "'," + std::to_string(v) + ",'" + std::string(name) + "')";
    };
    for (int v = 1; v <= 11; ++v) add("event", v, to_string(static_cast<EventType>(v)));
    for (int v = 0; v <= 7; ++v) add("kind", v, to_string(static_cast<Kind>(v)));
    for (int v = 0; v <= 3; ++v) add("cancel_reason", v, to_string(static_cast<CancelReason>(v)));
    for (int v = 0; v <= 6; ++v) add("wait_object", v, to_string(static_cast<WaitObject>(v)));
    for (int v = 0; v <= 4; ++v) add("wait_outcome", v, to_string(static_cast<WaitOutcome>(v)));
    for (int v = 0; v <= 2; ++v) add("release_reason", v, to_string(static_cast<ReleaseReason>(v)));
    add("errc", 1, "canceled");
    add("errc", 2, "deadline_exceeded");
    exec(en.c_str());
  }
  ins_event_ = prep("INSERT INTO events(t_ns,type,thread,id,ref,value,kind,aux,err,code,site) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  ctx_create_ = prep(
      "INSERT INTO contexts(id,parent,kind,thread,created_ns,site,stack,deadline_ns,registered,label) "
      "VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET parent=excluded.parent, kind=excluded.kind, "
      "thread=excluded.thread, created_ns=excluded.created_ns, site=excluded.site, stack=excluded.stack, "
      "deadline_ns=excluded.deadline_ns, registered=excluded.registered, label=excluded.label");
  ctx_cancel_ = prep(
      "INSERT INTO contexts(id,cancel_ns,cancel_reason,cancel_parent,cancel_origin,cancel_thread,cancel_site,"
      "cancel_stack,err,cause_code,cause_category,cancel_called_ns,cancel_called_thread,cancel_called_site) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "cancel_ns=coalesce(cancel_ns,excluded.cancel_ns), cancel_reason=coalesce(cancel_reason,excluded.cancel_reason), "
      "cancel_parent=coalesce(cancel_parent,excluded.cancel_parent), cancel_origin=coalesce(cancel_origin,excluded.cancel_origin), "
      "cancel_thread=coalesce(cancel_thread,excluded.cancel_thread), cancel_site=coalesce(cancel_site,excluded.cancel_site), "
      "cancel_stack=coalesce(cancel_stack,excluded.cancel_stack), err=coalesce(err,excluded.err), "
      "cause_code=coalesce(cause_code,excluded.cause_code), cause_category=coalesce(cause_category,excluded.cause_category), "
      "cancel_called_ns=coalesce(cancel_called_ns,excluded.cancel_called_ns), "
      "cancel_called_thread=coalesce(cancel_called_thread,excluded.cancel_called_thread), "
      "cancel_called_site=coalesce(cancel_called_site,excluded.cancel_called_site)");
  ctx_dropped_ = prep(
      "INSERT INTO contexts(id,dropped_ns,dropped_thread,dropped_when_done,site) VALUES(?,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET dropped_ns=excluded.dropped_ns, dropped_thread=excluded.dropped_thread, "
      "dropped_when_done=excluded.dropped_when_done, site=coalesce(site,excluded.site)");
  ctx_release_ = prep(
      "INSERT INTO contexts(id,released_ns,release_reason,release_thread,parent) VALUES(?,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET released_ns=coalesce(released_ns,excluded.released_ns), "
      "release_reason=coalesce(release_reason,excluded.release_reason), "
      "release_thread=coalesce(release_thread,excluded.release_thread), parent=coalesce(parent,excluded.parent)");
  ctx_observed_ = prep(
      "INSERT INTO contexts(id,done_observed_ns,done_observed_thread,done_observed_site) VALUES(?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET done_observed_ns=coalesce(done_observed_ns,excluded.done_observed_ns), "
      "done_observed_thread=coalesce(done_observed_thread,excluded.done_observed_thread), "
      "done_observed_site=coalesce(done_observed_site,excluded.done_observed_site)");
  wait_begin_ = prep(
      "INSERT INTO waits(id,thread,object,object_id,label,done_ctx,n_cases,site,begin_ns) VALUES(?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET thread=excluded.thread, object=excluded.object, object_id=excluded.object_id, "
      "label=excluded.label, done_ctx=excluded.done_ctx, n_cases=excluded.n_cases, site=excluded.site, "
      "begin_ns=excluded.begin_ns");
  wait_end_ = prep(
      "INSERT INTO waits(id,end_ns,outcome,case_index) VALUES(?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "end_ns=excluded.end_ns, outcome=excluded.outcome, case_index=excluded.case_index");
  thr_spawn_ = prep(
      "INSERT INTO threads(id,name,ctx,parent_thread,spawn_ns,spawn_site,first_ns) VALUES(?,?,?,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET name=excluded.name, ctx=excluded.ctx, parent_thread=excluded.parent_thread, "
      "spawn_ns=excluded.spawn_ns, spawn_site=excluded.spawn_site, first_ns=min(coalesce(first_ns,excluded.first_ns),excluded.first_ns)");
  thr_exit_ = prep(
      "INSERT INTO threads(id,exit_ns,first_ns) VALUES(?,?,?) ON CONFLICT(id) DO UPDATE SET exit_ns=excluded.exit_ns");
  thr_seen_ = prep(
      "INSERT INTO threads(id,first_ns) VALUES(?,?) ON CONFLICT(id) DO UPDATE SET "
      "first_ns=min(coalesce(first_ns,excluded.first_ns),excluded.first_ns)");
  chan_create_ = prep(
      "INSERT INTO channels(id,capacity,label,thread,created_ns,site) VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "capacity=excluded.capacity, label=excluded.label, thread=excluded.thread, created_ns=excluded.created_ns, "
      "site=excluded.site");
  chan_close_ = prep(
      "INSERT INTO channels(id,closed_ns,close_thread,close_site) VALUES(?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "closed_ns=coalesce(closed_ns,excluded.closed_ns), close_thread=coalesce(close_thread,excluded.close_thread), "
      "close_site=coalesce(close_site,excluded.close_site)");
  ins_site_ = prep("INSERT INTO sites(id,file,line,col,function) VALUES(?,?,?,?,?)");
  ins_stack_ = prep("INSERT INTO stacks(id,depth) VALUES(?,?)");
  ins_stack_frame_ = prep("INSERT INTO stack_frames(stack_id,depth,frame_id) VALUES(?,?,?)");
  ins_frame_ = prep("INSERT INTO frames(id,address,function,file,line) VALUES(?,?,?,?,?)");
  run_commit_ = prep("UPDATE run SET events_recorded=?, events_dropped=?, last_commit_ns=?");
  run_end_ = prep("UPDATE run SET end_state='stopped', end_ns=?");
  in_txn_ = true;
  if (failed_ || !commit(false)) {
    if (err) *err = path + ": cannot create trace: " + sqlite3_errmsg(db_);
    close();
    return false;
  }
  return true;
}

std::int64_t Writer::site_id(const std::source_location& loc) {
  if (loc.line() == 0 && (!loc.file_name() || !*loc.file_name())) return 0;
  SiteKey k{loc.file_name(), loc.function_name(), loc.line(), loc.column()};
  auto it = site_by_ptr_.find(k);
  if (it != site_by_ptr_.end()) return it->second;
  // Equal locations may come from different string literals (one per TU).
  auto key = std::make_tuple(std::string(k.file ? k.file : ""), std::string(k.func ? k.func : ""), k.line, k.col);
  auto [jt, fresh] = site_by_text_.emplace(std::move(key), next_site_);
  if (fresh) {
    ++next_site_;
    bind_i(ins_site_, 1, jt->second);
    bind_t(ins_site_, 2, k.file);
    bind_i(ins_site_, 3, k.line);
    bind_i(ins_site_, 4, k.col);
    bind_t(ins_site_, 5, k.func);
    step(ins_site_);
  }
  site_by_ptr_.emplace(k, jt->second);
  return jt->second;
}

Writer::FrameInfo Writer::frame_id(const void* addr) {
  auto it = frames_.find(addr);
  if (it != frames_.end()) return it->second;
  const std::int64_t id = next_frame_++;
  boost::stacktrace::frame f(addr);
  std::string name = f.name(), file = f.source_file();
  std::size_t line = f.source_line();
  const bool internal = name.rfind("ctxscope::trace::", 0) == 0 || name.rfind("ctxscope::detail::", 0) == 0 ||
                        name.rfind("boost::stacktrace::", 0) == 0;
  frames_.emplace(addr, FrameInfo{id, internal});
  bind_i(ins_frame_, 1, id);
  bind_i(ins_frame_, 2, static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(addr)));
  if (name.empty()) sqlite3_bind_null(ins_frame_, 3);
  else sqlite3_bind_text(ins_frame_, 3, name.c_str(), -1, SQLITE_TRANSIENT);
  if (file.empty()) sqlite3_bind_null(ins_frame_, 4);
  else sqlite3_bind_text(ins_frame_, 4, file.c_str(), -1, SQLITE_TRANSIENT);
  bind_opt(ins_frame_, 5, static_cast<std::int64_t>(line));
  step(ins_frame_);
  return {id, internal};
}

std::int64_t Writer::stack_id(const void* const* frames, int n) {
  if (n <= 0) return 0;
  std::vector<const void*> key(frames, frames + n);
  auto [it, fresh] = stacks_.emplace(std::move(key), next_stack_);
  if (!fresh) return it->second;
  const std::int64_t id = next_stack_++;
  std::vector<std::int64_t> ids;
  for (int d = 0; d < n; ++d) {
    FrameInfo fi = frame_id(frames[d]);
    if (fi.internal && ids.empty()) continue;  // only leading internal frames
    if (static_cast<int>(ids.size()) < stack_frames_) ids.push_back(fi.id);
  }
  bind_i(ins_stack_, 1, id);
  bind_i(ins_stack_, 2, static_cast<std::int64_t>(ids.size()));
  step(ins_stack_);
  for (std::size_t d = 0; d < ids.size(); ++d) {
    bind_i(ins_stack_frame_, 1, id);
    bind_i(ins_stack_frame_, 2, static_cast<std::int64_t>(d));
    bind_i(ins_stack_frame_, 3, ids[d]);
    step(ins_stack_frame_);
  }
  return id;
}

void Writer::see_thread(std::uint64_t id, std::uint64_t t) {
  if (!threads_seen_.insert(id).second) return;
  bind_i(thr_seen_, 1, static_cast<std::int64_t>(id));
  bind_i(thr_seen_, 2, rel(t));
  step(thr_seen_);
}

void Writer::write(const Event& e, const void* const* frames, int nframes) {
  if (failed_) return;
  if (!in_txn_) {
    if (!exec("BEGIN")) return;
    in_txn_ = true;
  }
  const std::int64_t t = rel(e.time_ns);
  const std::int64_t site = site_id(e.site);
  const auto thread = static_cast<std::int64_t>(e.thread);
  const auto id = static_cast<std::int64_t>(e.id), ref = static_cast<std::int64_t>(e.ref);
  see_thread(e.thread, e.time_ns);

  sqlite3_stmt* s = ins_event_;
  bind_i(s, 1, t);
  bind_i(s, 2, static_cast<int>(e.type));
  bind_i(s, 3, thread);
  bind_i(s, 4, id);
  bind_i(s, 5, ref);
  bind_i(s, 6, static_cast<std::int64_t>(e.value));
  bind_i(s, 7, e.kind);
  bind_i(s, 8, e.aux);
  bind_i(s, 9, e.err);
  bind_i(s, 10, e.code);
  bind_opt(s, 11, site);
  step(s);
  ++events_;

  switch (e.type) {
    case EventType::ctx_create: {
      s = ctx_create_;
      bind_i(s, 1, id);
      bind_opt(s, 2, ref);
      bind_t(s, 3, to_string(static_cast<Kind>(e.kind)).data());
      bind_i(s, 4, thread);
      bind_i(s, 5, t);
      bind_opt(s, 6, site);
      bind_opt(s, 7, stack_id(frames, nframes));
      if (e.value) bind_i(s, 8, rel(e.value));
      else sqlite3_bind_null(s, 8);
      bind_i(s, 9, e.aux ? 1 : 0);
      bind_t(s, 10, e.text);
      step(s);
      break;
    }
    case EventType::ctx_cancel: {
      s = ctx_cancel_;
      const auto reason = static_cast<CancelReason>(e.kind);
      const bool state_change = e.aux == 0;
      const bool explicit_call = reason == CancelReason::explicit_call;
      const std::int64_t stack = explicit_call ? stack_id(frames, nframes) : 0;
      bind_i(s, 1, id);
      for (int i = 2; i <= 14; ++i) sqlite3_bind_null(s, i);
      if (state_change) {
        bind_i(s, 2, t);
        bind_t(s, 3, to_string(reason).data());
        if (reason == CancelReason::parent) {
          bind_opt(s, 4, ref);
          bind_opt(s, 5, static_cast<std::int64_t>(e.value));
        }
        bind_i(s, 6, thread);
        if (explicit_call) {
          bind_opt(s, 7, site);
          bind_opt(s, 8, stack);
        }
        bind_t(s, 9, errc_name(e.err));
        if (e.text) {
          bind_i(s, 10, e.code);
          bind_t(s, 11, e.text);
        }
      }
      if (explicit_call) {
        bind_i(s, 12, t);
        bind_i(s, 13, thread);
        bind_opt(s, 14, site);
      }
      step(s);
      break;
    }
    case EventType::cancel_dropped:
      s = ctx_dropped_;
      bind_i(s, 1, id);
      bind_i(s, 2, t);
      bind_i(s, 3, thread);
      bind_i(s, 4, e.value ? 1 : 0);
      bind_opt(s, 5, site);
      step(s);
      break;
    case EventType::ctx_release:
      s = ctx_release_;
      bind_i(s, 1, id);
      bind_i(s, 2, t);
      bind_t(s, 3, to_string(static_cast<ReleaseReason>(e.kind)).data());
      bind_i(s, 4, thread);
      bind_opt(s, 5, ref);
      step(s);
      break;
    case EventType::done_observed:
      s = ctx_observed_;
      bind_i(s, 1, id);
      bind_i(s, 2, t);
      bind_i(s, 3, thread);
      bind_opt(s, 4, site);
      step(s);
      break;
    case EventType::wait_begin:
      s = wait_begin_;
      bind_i(s, 1, id);
      bind_i(s, 2, thread);
      bind_t(s, 3, to_string(static_cast<WaitObject>(e.kind)).data());
      bind_opt(s, 4, static_cast<std::int64_t>(e.value));
      bind_t(s, 5, e.text);
      bind_opt(s, 6, ref);
      bind_i(s, 7, e.aux ? e.aux : 1);
      bind_opt(s, 8, site);
      bind_i(s, 9, t);
      step(s);
      break;
    case EventType::wait_end:
      s = wait_end_;
      bind_i(s, 1, id);
      bind_i(s, 2, t);
      bind_t(s, 3, to_string(static_cast<WaitOutcome>(e.kind)).data());
      bind_i(s, 4, static_cast<std::int64_t>(e.value));
      step(s);
      break;
    case EventType::thread_spawn:
      s = thr_spawn_;
      bind_i(s, 1, id);
      bind_t(s, 2, e.text);
      bind_opt(s, 3, ref);
      bind_opt(s, 4, static_cast<std::int64_t>(e.value ? e.value : e.thread));
      bind_i(s, 5, t);
      bind_opt(s, 6, site);
      bind_i(s, 7, t);
      step(s);
      threads_seen_.insert(e.id);
      break;
    case EventType::thread_exit:
      s = thr_exit_;
      bind_i(s, 1, id ? id : thread);
      bind_i(s, 2, t);
      bind_i(s, 3, t);
      step(s);
      threads_seen_.insert(e.id ? e.id : e.thread);
      break;
    case EventType::chan_create:
      s = chan_create_;
      bind_i(s, 1, id);
      bind_i(s, 2, static_cast<std::int64_t>(e.value));
      bind_t(s, 3, e.text);
      bind_i(s, 4, thread);
      bind_i(s, 5, t);
      bind_opt(s, 6, site);
      step(s);
      break;
    case EventType::chan_close:
      s = chan_close_;
      bind_i(s, 1, id);
      bind_i(s, 2, t);
      bind_i(s, 3, thread);
      bind_opt(s, 4, site);
      step(s);
      break;
  }
}

bool Writer::commit(bool final_stop) {
  if (!db_ || failed_) return false;
  if (!in_txn_) {
    if (!final_stop) return true;
    if (!exec("BEGIN")) return false;
    in_txn_ = true;
  }
  const std::int64_t now = rel(now_ns());
  bind_i(run_commit_, 1, static_cast<std::int64_t>(events_));
  bind_i(run_commit_, 2, static_cast<std::int64_t>(g.dropped.load(std::memory_order_relaxed)));
  bind_i(run_commit_, 3, now);
  step(run_commit_);
  if (final_stop) {
    bind_i(run_end_, 1, now);
    step(run_end_);
  }
  in_txn_ = false;
  return exec("COMMIT");
}

void Writer::close() {
  if (!db_) return;
  for (sqlite3_stmt* s : {ins_event_, ctx_create_, ctx_cancel_, ctx_dropped_, ctx_release_, ctx_observed_, wait_begin_,
                          wait_end_, thr_spawn_, thr_exit_, thr_seen_, chan_create_, chan_close_, ins_site_, ins_stack_,
                          ins_stack_frame_, ins_frame_, run_commit_, run_end_})
    sqlite3_finalize(s);
  if (in_txn_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
  db_ = nullptr;
}

// --------------------------------------------------------- recorder loop ---

// Drains every ring once.  Returns the number of events written.
std::size_t drain_all(Writer& w, std::vector<Ring*>& snapshot) {
  snapshot.clear();
  {
    std::lock_guard lk(g_reg_mu);
    if (g_rings) snapshot = *g_rings;
  }
  snapshot.push_back(g_orphan);
  std::size_t total = 0;
  for (Ring* r : snapshot) {
    const bool dead = r->dead.load(std::memory_order_acquire);
    const std::uint64_t h = r->head.load(std::memory_order_acquire);
    std::uint64_t t = r->tail.load(std::memory_order_relaxed);
    while (t != h) {
      // Publish progress in chunks so that a waiting producer resumes early.
      const std::uint64_t end = std::min(h, t + kRingCap / 4);
      for (; t != end; ++t) {
        const std::uint64_t i = t & (kRingCap - 1);
        const int nf = r->nframes[i];
        w.write(r->slots[i], nf ? r->frames + i * (kMaxFrames + 1) : nullptr, nf);
        ++total;
      }
      r->tail.store(t, std::memory_order_release);
    }
    if (dead && r != g_orphan) {
      std::lock_guard lk(g_reg_mu);
      auto& v = *g_rings;
      v.erase(std::remove(v.begin(), v.end(), r), v.end());
      delete[] r->frames;
      delete r;
    }
  }
  return total;
}

void recorder_main(Writer* w) {
  t_in_recorder = true;
  std::vector<Ring*> snapshot;
  std::uint64_t last_commit = now_ns();
  bool pending = false;
  for (;;) {
    const bool stopping = g.stop_req.load(std::memory_order_acquire);
    const std::uint64_t freq = g.flush_req.load(std::memory_order_acquire);
    const std::uint32_t word = g.wake_word.load(std::memory_order_acquire);
    const bool paused = g.paused.load(std::memory_order_acquire) && !stopping;
    const std::size_t n = paused ? 0 : drain_all(*w, snapshot);
    pending = pending || n > 0;
    const std::uint64_t now = now_ns();
    const bool flush_wanted = !paused && freq > g.flush_done.load(std::memory_order_relaxed);
    if (stopping) {
      w->commit(true);
      break;
    }
    if (pending && (flush_wanted || now - last_commit >= kCommitEveryNs)) {
      w->commit(false);
      last_commit = now;
      pending = false;
    }
    if (flush_wanted) {
      g.flush_done.store(freq, std::memory_order_release);
      g.flush_done.notify_all();
    }
    if (n == 0) {
      g.sleeping.store(true, std::memory_order_seq_cst);
      futex_wait(&g.wake_word, word, kTickNs);
      g.sleeping.store(false, std::memory_order_relaxed);
    }
  }
  // Nobody waits forever on a barrier once the recorder is gone.
  g.flush_done.store(UINT64_MAX, std::memory_order_release);
  g.flush_done.notify_all();
}

void at_exit_stop() { stop(); }

void atfork_prepare() {
  g_reg_mu.lock();
  g_orphan_mu.lock();
}
void atfork_parent() {
  g_orphan_mu.unlock();
  g_reg_mu.unlock();
}
// The child has only the forking thread: forget the parent's recorder, rings and
// connection without touching them (closing the connection could checkpoint or
// delete the parent's WAL).
void atfork_child() {
  new (&g_orphan_mu) std::mutex;
  new (&g_reg_mu) std::mutex;
  g.active.store(false);
  g.running.store(false);
  g.thread = nullptr;
  g_writer = nullptr;
  g.lock_fd = -1;  // inherited (CLOEXEC only matters for exec); never used by the child
  g_rings = new std::vector<Ring*>;
  g_orphan = new Ring;
  t_ring = nullptr;  // the parent's ring of this thread stays with the parent's (dead) recorder
  t_owner.r = nullptr;
  new (&g.control_mu) std::mutex;
}

std::once_flag g_once;
void init_once() {
  std::call_once(g_once, [] {
    g_orphan = new Ring;
    std::atexit(at_exit_stop);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  });
}

}  // namespace

bool start(const std::string& path, const Options& opts, std::string* err) {
  init_once();
  std::lock_guard lk(g.control_mu);
  if (g.running.load()) {
    if (err) *err = path + ": cannot start: this process is already recording a trace";
    return false;
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (err) *err = path + ": cannot create trace: " + std::strerror(errno);
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (err) *err = path + ": cannot create trace: another process is recording into it";
    ::close(fd);
    return false;
  }
  if (ftruncate(fd, 0) != 0) {
    if (err) *err = path + ": cannot create trace: " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  ::unlink((path + "-wal").c_str());
  ::unlink((path + "-shm").c_str());

  const std::uint64_t t0 = now_ns();
  auto* w = new Writer;
  const int frames = std::clamp(opts.stack_frames, 0, kMaxFrames);
  g.dropped.store(0);
  if (!w->open(path, t0, frames, opts.drop_when_full, err)) {
    delete w;
    ::close(fd);
    return false;
  }
  g_writer = w;
  g.lock_fd = fd;
  g.stack_frames.store(frames);
  g.drop_mode.store(opts.drop_when_full);
  g.stop_req.store(false);
  g.flush_done.store(g.flush_req.load());
  g.owner_pid.store(getpid());
  g.running.store(true);
  g.thread = new std::thread(recorder_main, w);
  g.active.store(true, std::memory_order_release);
  install_event_sink(&g_recorder);
  return true;
}

void stop() {
  std::lock_guard lk(g.control_mu);
  if (!g.running.load() || g.owner_pid.load() != getpid()) return;
  if (!t_in_recorder) flush();  // everything emitted before stop() is in the file
  g.active.store(false, std::memory_order_release);
  EventSink* expected = &g_recorder;
  ctxscope::detail::g_sink.compare_exchange_strong(expected, nullptr);
  g.stop_req.store(true, std::memory_order_release);
  wake_recorder(true);
  g.thread->join();
  delete g.thread;
  g.thread = nullptr;
  g_writer->close();
  delete g_writer;
  g_writer = nullptr;
  ::close(g.lock_fd);
  g.lock_fd = -1;
  g.running.store(false);
}

void flush() {
  if (!g.running.load(std::memory_order_acquire) || t_in_recorder) return;
  if (g.owner_pid.load(std::memory_order_relaxed) != getpid()) return;
  const std::uint64_t mine = g.flush_req.fetch_add(1, std::memory_order_acq_rel) + 1;
  wake_recorder(true);
  for (;;) {
    const std::uint64_t done = g.flush_done.load(std::memory_order_acquire);
    if (done >= mine) return;
    g.flush_done.wait(done, std::memory_order_acquire);
  }
}

bool active() noexcept { return g.active.load(std::memory_order_acquire); }

unsigned long long events_dropped() noexcept { return g.dropped.load(std::memory_order_relaxed); }

namespace detail {
EventSink* recorder_sink() noexcept { return &g_recorder; }
void pause_for_test(bool paused) noexcept {
  g.paused.store(paused, std::memory_order_release);
  wake_recorder(true);
}

bool start_from_environment() {
  const char* path = std::getenv("CTXSCOPE_TRACE");
  if (!path || !*path) return false;
  std::string p = path;
  for (std::size_t i; (i = p.find("%p")) != std::string::npos;) p.replace(i, 2, std::to_string(getpid()));
  Options o;
  if (const char* s = std::getenv("CTXSCOPE_STACKS")) o.stack_frames = std::atoi(s);
  if (const char* s = std::getenv("CTXSCOPE_DROP")) o.drop_when_full = std::atoi(s) != 0;
  std::string err;
  if (!start(p, o, &err)) {
    std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
    return false;
  }
  return true;
}
}  // namespace detail

}  // namespace ctxscope::trace
