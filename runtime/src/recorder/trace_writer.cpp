// TraceWriter: SQLite side of the recorder (see trace_writer.hpp).
#include "recorder/trace_writer.hpp"

#include "recorder/symbolizer.hpp"

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "ctxscope/context.hpp"
#include "ctxscope/version.hpp"


namespace ctxscope::trace::detail {
namespace {

using ctxscope::detail::now_ns;

std::atomic<bool> g_hold_writes{false};  // hold_writes_for_test

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

// The cause of a ctx_cancel is err itself (stored as NULL cause columns, see
// schema contexts.cause_code) when it is ctxscope's own context error with the
// value of err: what the runtime records when no cause was given.
bool cause_is_err(const Event& e) {
  static const char* const ctx_category = ctxscope::context_category().name();
  return e.code == e.err && (e.text == ctx_category || std::strcmp(e.text, ctx_category) == 0);
}

}  // namespace

void hold_writes_for_test(bool held) noexcept { g_hold_writes.store(held, std::memory_order_release); }

std::size_t TraceWriter::SiteKeyHash::operator()(const SiteKey& k) const noexcept {
  std::size_t h = std::hash<const void*>()(k.file);
  h = h * 31 + std::hash<const void*>()(k.func);
  return h * 131 + k.line * 7 + k.col;
}

int TraceWriter::Entity::col(std::string_view name) const {
  for (int i = 0; i < ncols; ++i)
    if (table->columns[static_cast<std::size_t>(i)].name == name) return i;
  std::fprintf(stderr, "ctxscope: internal: no column %.*s\n", static_cast<int>(name.size()), name.data());
  std::abort();
}

TraceWriter::Cell* TraceWriter::Entity::row(std::int64_t id) {
  auto [it, fresh] = index.emplace(id, static_cast<std::uint32_t>(cells.size() / static_cast<std::size_t>(ncols)));
  if (fresh) {
    cells.resize(cells.size() + static_cast<std::size_t>(ncols));
    cells[static_cast<std::size_t>(it->second) * static_cast<std::size_t>(ncols)] = {id, nullptr, 1};
  }
  return &cells[static_cast<std::size_t>(it->second) * static_cast<std::size_t>(ncols)];
}

void TraceWriter::fail_write(const char* what) {
  if (failed_) return;
  failed_ = true;
  failure_ = what;
  std::fprintf(stderr, "ctxscope: %s: trace write failed: %s (recording stopped; the program runs on)\n",
               path_.c_str(), what);
}

// After the first failed write: roll the batch back and mark the run row, in a
// transaction of its own.  A full disk usually still takes it: in WAL mode the
// rolled-back batch's frames are overwritten by the next transaction, so this
// one-page update reuses space the file already has.  Best effort: if even this
// fails, the run keeps end_state 'none' and readers still call it incomplete.
void TraceWriter::record_failure() {
  if (failure_recorded_ || !db_) return;
  failure_recorded_ = true;
  if (!sqlite3_get_autocommit(db_)) sql::try_exec(db_, "ROLLBACK");
  in_txn_ = false;
  auto mark = [&] {
    sql::Stmt s = sql::Stmt::prepare(db_, "UPDATE run SET end_state='failed', failure=?", 0, nullptr);
    if (!s) return SQLITE_ERROR;
    s.bind_text(1, failure_);
    return s.step_rc();
  };
  int rc = mark();
  if (rc != SQLITE_DONE) {
    // The last commit ended within a page of the limit, so the rolled-back
    // frames leave no room for even one page: move the committed frames into
    // the main file and restart the WAL from its beginning (the database file
    // often has the room, its pages being rewritten more than added), then try
    // again.  A checkpoint that cannot finish loses nothing: the WAL stays valid.
    sql::try_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)");
    rc = mark();
  }
  if (rc != SQLITE_DONE)
    std::fprintf(stderr, "ctxscope: %s: the failure could not be recorded in the trace either: %s\n", path_.c_str(),
                 sqlite3_errmsg(db_));
}

bool TraceWriter::exec(const char* sql) {
  std::string err;
  if (!sql::try_exec(db_, sql, &err)) {
    fail_write(err.c_str());
    return false;
  }
  return true;
}

sql::Stmt TraceWriter::prep(const std::string& text) {
  std::string err;
  sql::Stmt s = sql::Stmt::prepare(db_, text, SQLITE_PREPARE_PERSISTENT, &err);
  if (!s) {
    std::fprintf(stderr, "ctxscope: internal: cannot prepare %s: %s\n", text.c_str(), err.c_str());
    failed_ = true;
  }
  return s;
}

void TraceWriter::step(sql::Stmt& s) {
  if (!s) return;
  if (s.step_rc() != SQLITE_DONE) fail_write(s.errmsg());
  s.rewind();
  give_way_.point();
}

// Builds the first-wins multi-row upserts of one entity table.
bool TraceWriter::init_entity(Entity& e, const char* name) {
  e.table = schema::find_table(name);
  e.ncols = static_cast<int>(e.table->columns.size());
  std::string cols, one = "(", set;
  for (int i = 0; i < e.ncols; ++i) {
    const std::string c(e.table->columns[static_cast<std::size_t>(i)].name);
    cols += (i ? "," : "") + c;
    one += i ? ",?" : "?";
    if (i == 0) continue;  // the id
    set += set.empty() ? "" : ",";
    if (c == "first_ns")
      set += c + "=min(coalesce(" + c + ",excluded." + c + "),coalesce(excluded." + c + "," + c + "))";
    else
      set += c + "=coalesce(" + c + ",excluded." + c + ")";
  }
  one += ")";
  auto sql = [&](int rows) {
    std::string s = "INSERT INTO " + std::string(name) + "(" + cols + ") VALUES ";
    for (int r = 0; r < rows; ++r) s += (r ? "," : "") + one;
    return s + " ON CONFLICT(id) DO UPDATE SET " + set;
  };
  e.upsert1 = prep(sql(1));
  e.upsertK = prep(sql(kEntitiesPerStmt));
  e.bound1.assign(static_cast<std::size_t>(e.ncols), Cell{});  // a fresh statement's parameters are NULL
  e.boundK.assign(static_cast<std::size_t>(e.ncols) * kEntitiesPerStmt, Cell{});
  e.cells.reserve(static_cast<std::size_t>(e.ncols) * 4096);
  return !failed_;
}

bool TraceWriter::open(const std::string& path, bool in_memory, std::uint64_t t0, int stack_frames, bool drop_mode,
                       bool tsc_clock, std::string* err) {
  path_ = in_memory ? "memory:" + path : path;
  t0_ = t0;
  clock_.reset(tsc_clock);
  stack_frames_ = stack_frames;
  auto fail = [&] {
    if (err) *err = path_ + ": cannot create trace: " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    close();
    return false;
  };
  // SQLite's memory statistics take a global mutex on every allocation (~12% of
  // the recorder's time).  Only effective before SQLite is initialized in this
  // process; harmless (SQLITE_MISUSE) afterwards.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  if (in_memory) {
    // memdb has no WAL: readers of the process share its pages under
    // rollback locking, so a commit waits (briefly) for a reader to finish.
    const std::string uri = "file:/" + path + "?vfs=memdb";
    if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                        nullptr) != SQLITE_OK)
      return fail();
    sqlite3_busy_timeout(db_, 10000);
  } else if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                             nullptr) != SQLITE_OK) {
    return fail();
  }
  char pragmas[320];
  // application_id and user_version before journal_mode=WAL: they then reach
  // the main file's header at once (rollback mode), so the file says what it is
  // from its first page even if the process dies before any checkpoint.
  // synchronous=NORMAL in WAL: a commit survives the process being killed (the
  // issue's durability case); only an OS crash may lose the last commits.
  // Checkpoints copy every page a second time, on the recorder thread: let the
  // WAL grow to 16384 pages (256 MiB) before one (~8% throughput); stop()
  // checkpoints when it closes the file.
  std::snprintf(pragmas, sizeof pragmas,
                "PRAGMA page_size=16384; PRAGMA application_id=%d; PRAGMA user_version=%d; "
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768; "
                "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=16384;",
                schema::kApplicationId, schema::kVersion);
  if (!exec(pragmas) || !exec("BEGIN") || !exec(schema::create_sql().c_str())) return fail();
  in_txn_ = true;

  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const std::int64_t wall_ns = static_cast<std::int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec -
                               static_cast<std::int64_t>(now_ns() - t0);
  const std::string cmdline = read_file("/proc/self/cmdline");
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
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  if (sql::Stmt run = prep(
          "INSERT INTO run(schema_version, ctxscope_version, pid, executable, argv, clock, start_wall_ns, "
          "start_steady_ns, end_state, events_recorded, events_dropped, drop_mode, stack_frames, last_commit_ns, run_token) "
          "VALUES(?,?,?,?,?,'" + std::string(tsc_clock ? "CLOCK_MONOTONIC (TSC)" : "CLOCK_MONOTONIC") + "',?,?,'none',0,0,?,?,0,?)")) {
    run.bind(1, schema::kVersion);
    run.bind_text(2, CTXSCOPE_VERSION, /*stable=*/true);
    run.bind(3, getpid());
    run.bind_text(4, exe);
    run.bind_text(5, argv.c_str());
    run.bind(6, wall_ns);
    run.bind(7, static_cast<std::int64_t>(t0));
    run.bind(8, drop_mode ? 1 : 0);
    run.bind(9, stack_frames);
    // Set by `ctxscope run` for its child (and inherited by the child's own
    // children): lets it tell its program's trace from another process's.
    const char* token = std::getenv("CTXSCOPE_RUN_TOKEN");
    if (token && *token) run.bind_text(10, token);
    else run.bind_null(10);
    step(run);
  }
  exec(("INSERT INTO contexts(id, kind) VALUES(1, " + std::to_string(static_cast<int>(Kind::background)) + "), (2, " +
        std::to_string(static_cast<int>(Kind::todo)) + ")")
           .c_str());
  exec(schema::enums_sql().c_str());
  {
    std::string b = "INSERT INTO event_blocks(seq,n,thread,t_ns,id,events) VALUES ", oneb = "(?,?,?,?,?,?)";
    ins_block1_ = prep(b + oneb);
    for (int r = 0; r < kBlocksPerStmt; ++r) b += (r ? "," : "") + oneb;
    ins_blockK_ = prep(b);
  }
  init_entity(contexts_, "contexts");
  init_entity(waits_, "waits");
  init_entity(threads_, "threads");
  init_entity(channels_, "channels");
  init_entity(tests_, "tests");
  if (failed_) return fail();
  const Entity& C = contexts_;
  cc_ = {C.col("parent"), C.col("kind"), C.col("thread"), C.col("created_ns"), C.col("site"), C.col("stack"),
         C.col("deadline_ns"), C.col("registered"), C.col("label"), C.col("cancel_ns"), C.col("cancel_reason"),
         C.col("cancel_parent"), C.col("cancel_origin"), C.col("cancel_thread"), C.col("cancel_site"),
         C.col("cancel_stack"), C.col("cancel_called_ns"), C.col("cancel_called_thread"),
         C.col("cancel_called_site"), C.col("err"), C.col("cause_code"), C.col("cause_category"),
         C.col("done_observed_ns"), C.col("done_observed_thread"), C.col("done_observed_site"), C.col("dropped_ns"),
         C.col("dropped_thread"), C.col("dropped_when_done"), C.col("released_ns"), C.col("release_reason"),
         C.col("release_thread"), C.col("test")};
  const Entity& W = waits_;
  wc_ = {W.col("thread"), W.col("object"), W.col("object_id"), W.col("label"), W.col("done_ctx"), W.col("n_cases"),
         W.col("site"), W.col("begin_ns"), W.col("end_ns"), W.col("outcome"), W.col("case_index")};
  const Entity& T = threads_;
  tc_ = {T.col("name"), T.col("ctx"), T.col("parent_thread"), T.col("spawn_ns"), T.col("spawn_site"), T.col("exit_ns"),
         T.col("first_ns"), T.col("test")};
  const Entity& H = channels_;
  chc_ = {H.col("capacity"), H.col("label"), H.col("thread"), H.col("created_ns"), H.col("site"), H.col("closed_ns"),
          H.col("close_thread"), H.col("close_site")};
  const Entity& X = tests_;
  xc_ = {X.col("kind"), X.col("name"), X.col("thread"), X.col("begin_ns"), X.col("end_ns"), X.col("result")};
  ins_site_ = prep("INSERT INTO sites(id,file,line,col,function) VALUES(?,?,?,?,?)");
  ins_stack_ = prep("INSERT INTO stacks(id,depth) VALUES(?,?)");
  ins_stack_frame_ = prep("INSERT INTO stack_frames(stack_id,depth,frame_id) VALUES(?,?,?)");
  ins_frame_ = prep("INSERT INTO frames(id,address,function,file,line) VALUES(?,?,?,?,?)");
  run_commit_ = prep("UPDATE run SET events_recorded=?, events_dropped=?, last_commit_ns=?");
  run_end_ = prep("UPDATE run SET end_state='stopped', end_ns=?");
  if (failed_ || !commit(false, 0, true)) return fail();
  sql_thread_ = std::thread([this] { sql_main(); });
  return true;
}

std::int64_t TraceWriter::site_id(const std::source_location& loc) {
  if (loc.line() == 0 && (!loc.file_name() || !*loc.file_name())) return 0;
  const SiteKey k{loc.file_name(), loc.function_name(), loc.line(), loc.column()};
  auto it = site_by_ptr_.find(k);
  if (it != site_by_ptr_.end()) return it->second;
  // Equal locations may come from different string literals (one per TU).
  auto key = std::make_tuple(std::string(k.file ? k.file : ""), std::string(k.func ? k.func : ""), k.line, k.col);
  auto [jt, fresh] = site_by_text_.emplace(std::move(key), next_site_);
  if (fresh) {
    ++next_site_;
    build_.sites.push_back({jt->second, k.file, k.func, k.line, k.col});
  }
  site_by_ptr_.emplace(k, jt->second);
  return jt->second;
}

namespace {
// The runtime's own code: what a stack starts with before the user's caller.
// By name, so that it works without debug information: the internal
// namespaces, and the public API's entry points (a user's own code may live in
// namespace ctxscope too, so not every ctxscope:: function is ours); with debug
// information also any ctxscope:: function in the runtime's sources or headers.
bool runtime_frame(const SymbolizedFrame& f) {
  const std::string_view n = f.function;
  static constexpr std::string_view kInternal[] = {
      "ctxscope::trace::", "ctxscope::detail::", "ctxscope::probe::", "boost::stacktrace::",
      // The public API (context.hpp, chan.hpp, go.hpp): what creates or cancels.
      "ctxscope::with_", "ctxscope::without_cancel", "ctxscope::after_func", "ctxscope::background",
      "ctxscope::todo", "ctxscope::CancelFunc::", "ctxscope::CancelCauseFunc::", "ctxscope::StopFunc::",
      "ctxscope::Context::", "ctxscope::Group::", "ctxscope::go<", "ctxscope::go(", "ctxscope::Deferred",
      "ctxscope::defer"};
  for (std::string_view p : kInternal)
    if (n.substr(0, p.size()) == p) return true;
  if (n.substr(0, 10) != "ctxscope::" || f.file.empty()) return false;
  return f.file.find("/include/ctxscope/") != std::string::npos ||
         f.file.rfind(CTXSCOPE_RUNTIME_SOURCE_DIR "/", 0) == 0;
}
}  // namespace

const TraceWriter::AddressFrames& TraceWriter::frame_ids(const void* addr) {
  auto it = frames_.find(addr);
  if (it != frames_.end()) return it->second;
  const std::vector<SymbolizedFrame> sym = symbolize(addr);
  AddressFrames af;
  // The function that holds the address is the last (outermost) of its
  // inlined frames: it decides whether the address is the runtime's own.
  af.internal = runtime_frame(sym.back());
  // The runtime's inline functions expanded into the caller (a defer guard's
  // destructor, CancelFunc::operator()) head the caller's own address.
  while (af.leading_runtime + 1 < sym.size() && runtime_frame(sym[af.leading_runtime])) ++af.leading_runtime;
  for (const SymbolizedFrame& f : sym) {
    const std::int64_t id = next_frame_++;
    af.ids.push_back(id);
    build_.frames.push_back({id, reinterpret_cast<std::uintptr_t>(addr), f.function, f.file, f.line});
  }
  return frames_.emplace(addr, std::move(af)).first->second;
}

std::int64_t TraceWriter::stack_id(const void* const* frames, int n) {
  if (n <= 0 || !frames) return 0;
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the addresses
  for (int d = 0; d < n; ++d) h = (h ^ reinterpret_cast<std::uintptr_t>(frames[d])) * 0x100000001b3ull;
  std::vector<RawStack>& bucket = stacks_[h];
  for (const RawStack& s : bucket)
    if (s.frames.size() == static_cast<std::size_t>(n) && std::equal(s.frames.begin(), s.frames.end(), frames))
      return s.id;
  std::vector<std::int64_t> ids;
  for (int d = 0; d < n && static_cast<int>(ids.size()) < stack_frames_; ++d) {
    const AddressFrames& af = frame_ids(frames[d]);
    if (af.internal && ids.empty()) continue;  // only the leading runtime frames
    for (std::size_t k = ids.empty() ? af.leading_runtime : 0; k < af.ids.size(); ++k)
      if (static_cast<int>(ids.size()) < stack_frames_) ids.push_back(af.ids[k]);
  }
  auto [jt, fresh] = stacks_by_frames_.emplace(ids, next_stack_);
  const std::int64_t id = jt->second;
  bucket.push_back({std::vector<const void*>(frames, frames + n), id});
  if (!fresh) return id;
  ++next_stack_;
  build_.stacks.push_back(id);
  build_.stacks.push_back(static_cast<std::int64_t>(ids.size()));
  build_.stacks.insert(build_.stacks.end(), ids.begin(), ids.end());
  return id;
}

void TraceWriter::see_thread(std::uint64_t id, std::int64_t t) {
  if (!threads_seen_.insert(id).second) return;
  Cell* r = threads_.row(static_cast<std::int64_t>(id));
  Cell& f = r[tc_.first_ns];
  if (f.tag == 0 || t < f.i) f = {t, nullptr, 1};
}

void TraceWriter::write(const Event& e, const void* const* frames, int nframes) {
  if (failed_.load(std::memory_order_relaxed)) return;
  // A recording holds the events stamped between its start and its stop.  A
  // producer may stamp an event, be preempted across the start, and push it
  // once the recorder is active: its time would precede the run (t_ns < 0).
  // It belongs to no recording, like an event stamped before stop() whose
  // push came after it (issue 18 item 9; seen in CI as a negative t_ns).
  const std::int64_t t = rel(clock_.to_ns(e.time));
  if (t < 0) {
    ++before_start_;
    return;
  }
  if (releases_in_cancel(e)) {  // one event on the hot path, two rows as ever
    const SplitRelease sr = split_release(e);
    write(sr.cancel, frames, nframes);
    write(sr.release, nullptr, 0);
    return;
  }
  if (t > max_t_) max_t_ = t;
  const std::int64_t site = site_id(e.site);
  const auto thread = static_cast<std::int64_t>(e.thread);
  const auto id = static_cast<std::int64_t>(e.id), ref = static_cast<std::int64_t>(e.ref);
  see_thread(e.thread, t);

  // The event's block: a run of one thread's events (rings are per thread, so
  // a drain pass writes long runs), closed at kMaxBlockEvents and at commit.
  if (block_.n == 0 || block_.thread != thread || block_.n == schema::event_encoding::kMaxBlockEvents) {
    close_block();
    block_.seq = next_seq_;
    block_.thread = thread;
    block_.t = t;
    block_.id = id;
  }
  ++block_.n;
  ++next_seq_;
  block_.events.append({t - block_.t,
                      schema::event_encoding::pack_op(static_cast<unsigned>(e.type), e.kind, e.err, e.aux, e.code),
                      static_cast<std::int64_t>(e.id - static_cast<std::uint64_t>(block_.id)), site,
                      schema::event_encoding::pack_ref(e.ref, block_.id), static_cast<std::int64_t>(e.value)});
  ++events_;

  switch (e.type) {
    case EventType::ctx_create: {
      Cell* r = contexts_.row(id);
      set_opt(r, cc_.parent, ref);
      set(r, cc_.kind, e.kind);
      set(r, cc_.thread, thread);
      set(r, cc_.created_ns, t);
      set_opt(r, cc_.site, site);
      set_opt(r, cc_.stack, stack_id(frames, nframes));
      if (e.value) set(r, cc_.deadline_ns, rel(e.value));
      set(r, cc_.registered, e.aux ? 1 : 0);
      set_text(r, cc_.label, e.text);
      set_opt(r, cc_.test, e.code);
      break;
    }
    case EventType::ctx_cancel: {
      Cell* r = contexts_.row(id);
      const auto reason = static_cast<CancelReason>(e.kind);
      const bool explicit_call = reason == CancelReason::explicit_call;
      if (e.aux == 0) {  // the context became done
        set(r, cc_.cancel_ns, t);
        set(r, cc_.cancel_reason, e.kind);
        if (reason == CancelReason::parent) {
          set_opt(r, cc_.cancel_parent, ref);
          set_opt(r, cc_.cancel_origin, static_cast<std::int64_t>(e.value));
        }
        set(r, cc_.cancel_thread, thread);
        if (explicit_call) {
          set_opt(r, cc_.cancel_site, site);
          set_opt(r, cc_.cancel_stack, stack_id(frames, nframes));
        }
        set_opt(r, cc_.err, e.err);
        if (e.text && !cause_is_err(e)) {
          set(r, cc_.cause_code, e.code);
          set_text(r, cc_.cause_category, e.text);
        }
      }
      if (explicit_call) {
        set(r, cc_.called_ns, t);
        set(r, cc_.called_thread, thread);
        set_opt(r, cc_.called_site, site);
      }
      break;
    }
    case EventType::cancel_dropped: {
      Cell* r = contexts_.row(id);
      set(r, cc_.dropped_ns, t);
      set(r, cc_.dropped_thread, thread);
      set(r, cc_.dropped_when_done, e.value ? 1 : 0);
      set_opt(r, cc_.site, site);
      break;
    }
    case EventType::ctx_release: {
      Cell* r = contexts_.row(id);
      set(r, cc_.released_ns, t);
      set(r, cc_.release_reason, e.kind);
      set(r, cc_.release_thread, thread);
      set_opt(r, cc_.parent, ref);
      break;
    }
    case EventType::done_observed: {
      Cell* r = contexts_.row(id);
      set(r, cc_.obs_ns, t);
      set(r, cc_.obs_thread, thread);
      set_opt(r, cc_.obs_site, site);
      break;
    }
    case EventType::wait_begin: {
      Cell* r = waits_.row(id);
      set(r, wc_.thread, thread);
      set(r, wc_.object, e.kind);
      set_opt(r, wc_.object_id, static_cast<std::int64_t>(e.value));
      set_text(r, wc_.label, e.text);
      set_opt(r, wc_.done_ctx, ref);
      set(r, wc_.n_cases, e.aux ? e.aux : 1);
      set_opt(r, wc_.site, site);
      set(r, wc_.begin_ns, t);
      break;
    }
    case EventType::wait_end: {
      Cell* r = waits_.row(id);
      set(r, wc_.end_ns, t);
      set(r, wc_.outcome, e.kind);
      set(r, wc_.case_index, static_cast<std::int64_t>(e.value));
      break;
    }
    case EventType::thread_spawn: {
      Cell* r = threads_.row(id);
      set_text(r, tc_.name, e.text);
      set_opt(r, tc_.ctx, ref);
      set_opt(r, tc_.parent_thread, static_cast<std::int64_t>(e.value ? e.value : e.thread));
      set(r, tc_.spawn_ns, t);
      set_opt(r, tc_.spawn_site, site);
      set_opt(r, tc_.test, e.code);
      Cell& f = r[tc_.first_ns];
      if (f.tag == 0 || t < f.i) f = {t, nullptr, 1};
      threads_seen_.insert(e.id);
      break;
    }
    case EventType::thread_exit: {
      Cell* r = threads_.row(id ? id : thread);
      set(r, tc_.exit_ns, t);
      break;
    }
    case EventType::chan_create: {
      Cell* r = channels_.row(id);
      set(r, chc_.capacity, static_cast<std::int64_t>(e.value));
      set_text(r, chc_.label, e.text);
      set(r, chc_.thread, thread);
      set(r, chc_.created_ns, t);
      set_opt(r, chc_.site, site);
      break;
    }
    case EventType::chan_close: {
      Cell* r = channels_.row(id);
      set(r, chc_.closed_ns, t);
      set(r, chc_.close_thread, thread);
      set_opt(r, chc_.close_site, site);
      break;
    }
    case EventType::test_begin: {
      Cell* r = tests_.row(id);
      set(r, xc_.kind, e.kind);
      set_text(r, xc_.name, e.text ? e.text : "");
      set(r, xc_.thread, thread);
      set(r, xc_.begin_ns, t);
      break;
    }
    case EventType::test_end: {
      Cell* r = tests_.row(id);
      set(r, xc_.kind, e.kind);
      set_text(r, xc_.name, e.text ? e.text : "");
      set(r, xc_.end_ns, t);
      set(r, xc_.result, e.aux);
      break;
    }
  }
}

// The codes fit the fields of op (event_blocks.events: trace_schema.hpp, event_encoding).
static_assert(static_cast<unsigned>(EventType::ctx_cancel) == schema::event_encoding::kCancelType &&
                  static_cast<unsigned>(EventType::test_end) <= schema::event_encoding::kTypeMax &&
                  static_cast<unsigned>(Kind::value) <= schema::event_encoding::kKindMax &&
                  static_cast<unsigned>(errc::deadline_exceeded) <= schema::event_encoding::kErrMax,
              "a code outgrew its field of op: widen it (a new schema version)");

void TraceWriter::close_block() {
  if (block_.n == 0) return;
  block_.events.finish();
  Batch& b = build_;
  if (b.nblocks == b.blocks.size()) b.blocks.emplace_back();
  std::swap(b.blocks[b.nblocks++], block_);  // block_ takes a used buffer back
  block_.n = 0;
  block_.events.clear();
}

bool TraceWriter::commit(bool final_stop, std::uint64_t dropped, bool wait) {
  if (!db_) return false;
  // A block never spans commits: its row is in the transaction of its events.
  close_block();
  Batch& b = build_;
  // The end-of-data marker is the newest event time of the file, in the same
  // transaction as those events: a reader that takes it as the end of a killed
  // run never sees a window in which events were emitted but not saved (the
  // commit's own clock reading would lie by up to the commit interval).
  b.events = events_;
  b.dropped = dropped;
  b.max_t = max_t_;
  b.end_ns = final_stop ? std::max(max_t_, rel(now_ns())) : -1;
  for (int k = 0; k < kEntities; ++k) {
    std::swap(entities_[k]->cells, b.cells[k]);  // the entity takes a cleared buffer back
    entities_[k]->index.clear();
  }
  if (!sql_thread_.joinable()) {  // open(): the SQL thread starts after the first commit
    write_batch(b);
    return !failed_;
  }
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !shipped_; });
  std::swap(build_, ship_);  // build_ takes the written, cleared batch back
  shipped_ = true;
  cv_.notify_all();
  if (wait) cv_.wait(lk, [&] { return !shipped_; });
  return !failed_;
}

void TraceWriter::sync() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !shipped_; });
}

void TraceWriter::sql_main() {
  pthread_setname_np(pthread_self(), "ctxscope-sql");
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return shipped_ || quit_; });
    if (!shipped_) return;  // quit, nothing left
    lk.unlock();
    while (g_hold_writes.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    give_way_.begin();
    write_batch(ship_);
    lk.lock();
    shipped_ = false;
    cv_.notify_all();
  }
}

// One batch, one transaction (the SQL thread; open()'s own commit before it starts).
void TraceWriter::write_batch(Batch& b) {
  auto clear = [&] {
    b.nblocks = 0;
    for (auto& c : b.cells) c.clear();
    b.sites.clear();
    b.frames.clear();
    b.stacks.clear();
  };
  if (failed_ || (!in_txn_ && !exec("BEGIN"))) {
    record_failure();
    clear();
    return;
  }
  in_txn_ = true;
  for (const SiteRow& r : b.sites) {
    ins_site_.bind(1, r.id);
    ins_site_.bind_text(2, r.file, /*stable=*/true);
    ins_site_.bind(3, r.line);
    ins_site_.bind(4, r.col);
    ins_site_.bind_text(5, r.func, /*stable=*/true);
    step(ins_site_);
  }
  for (const FrameRow& f : b.frames) {
    ins_frame_.bind(1, f.id);
    ins_frame_.bind(2, static_cast<std::int64_t>(f.address));
    if (f.function.empty()) ins_frame_.bind_null(3);
    else ins_frame_.bind_text(3, f.function.c_str(), /*stable=*/true);
    if (f.file.empty()) ins_frame_.bind_null(4);
    else ins_frame_.bind_text(4, f.file.c_str(), /*stable=*/true);
    if (f.line > 0) ins_frame_.bind(5, static_cast<std::int64_t>(f.line));
    else ins_frame_.bind_null(5);
    step(ins_frame_);
  }
  for (std::size_t i = 0; i < b.stacks.size();) {
    const std::int64_t id = b.stacks[i], depth = b.stacks[i + 1];
    ins_stack_.bind(1, id);
    ins_stack_.bind(2, depth);
    step(ins_stack_);
    for (std::int64_t d = 0; d < depth; ++d) {
      ins_stack_frame_.bind(1, id);
      ins_stack_frame_.bind(2, d);
      ins_stack_frame_.bind(3, b.stacks[i + 2 + static_cast<std::size_t>(d)]);
      step(ins_stack_frame_);
    }
    i += 2 + static_cast<std::size_t>(depth);
  }
  flush_blocks(b);
  for (int k = 0; k < kEntities; ++k) flush_entity(*entities_[k], b.cells[k]);
  run_commit_.bind(1, static_cast<std::int64_t>(b.events));
  run_commit_.bind(2, static_cast<std::int64_t>(b.dropped));
  run_commit_.bind(3, b.max_t);
  step(run_commit_);
  if (b.end_ns >= 0) {
    run_end_.bind(1, b.end_ns);
    step(run_end_);
  }
  clear();
  if (failed_) {
    record_failure();
    return;
  }
  in_txn_ = false;
  if (!exec("COMMIT")) record_failure();
}

void TraceWriter::flush_blocks(Batch& b) {
  auto bind_row = [](sql::Stmt& s, int base, const Block& k) {
    s.bind(base + 1, k.seq);
    s.bind(base + 2, k.n);
    s.bind(base + 3, k.thread);
    s.bind(base + 4, k.t);
    s.bind(base + 5, k.id);
    s.bind_text(base + 6, k.events.str(), /*stable=*/true);  // lives until the step below
  };
  std::size_t i = 0;
  const std::size_t n = b.nblocks;
  for (; n - i >= kBlocksPerStmt; i += kBlocksPerStmt) {
    for (int r = 0; r < kBlocksPerStmt; ++r) bind_row(ins_blockK_, r * 6, b.blocks[i + static_cast<std::size_t>(r)]);
    step(ins_blockK_);
  }
  for (; i < n; ++i) {
    bind_row(ins_block1_, 0, b.blocks[i]);
    step(ins_block1_);
  }
}

void TraceWriter::flush_entity(Entity& e, std::vector<Cell>& cells) {
  const std::size_t nc = static_cast<std::size_t>(e.ncols);
  const std::size_t rows = cells.size() / nc;
  auto bind_row = [&](sql::Stmt& s, std::vector<Cell>& bound, int base, const Cell* row) {
    for (int c = 0; c < e.ncols; ++c) {
      const Cell& v = row[c];
      Cell& was = bound[static_cast<std::size_t>(base + c)];
      if (v == was) continue;  // still bound (texts are static: equal pointers, equal text)
      was = v;
      if (v.tag == 1) s.bind(base + c + 1, v.i);
      else if (v.tag == 2) s.bind_text(base + c + 1, v.s, /*stable=*/true);
      else s.bind_null(base + c + 1);
    }
  };
  // In id order: the rows of two producers (two id ranges) arrive interleaved
  // pass by pass, and inserting them in that order splits a b-tree page at every
  // switch between the ranges (half-empty pages: +7% for contexts with two
  // producers); sorted, a commit inserts each range in one run.
  e.order.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) e.order[r] = static_cast<std::uint32_t>(r);
  std::sort(e.order.begin(), e.order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return cells[a * nc].i < cells[b * nc].i; });
  std::size_t i = 0;
  for (; rows - i >= kEntitiesPerStmt; i += kEntitiesPerStmt) {
    for (int r = 0; r < kEntitiesPerStmt; ++r)
      bind_row(e.upsertK, e.boundK, r * e.ncols, &cells[e.order[i + static_cast<std::size_t>(r)] * nc]);
    step(e.upsertK);
  }
  for (; i < rows; ++i) {
    bind_row(e.upsert1, e.bound1, 0, &cells[e.order[i] * nc]);
    step(e.upsert1);
  }
  cells.clear();
}

void TraceWriter::close() {
  if (sql_thread_.joinable()) {
    {
      std::lock_guard lk(mu_);
      quit_ = true;  // after the batch in hand, if any
    }
    cv_.notify_all();
    sql_thread_.join();
  }
  if (!db_) return;
  // Statements first: SQLite closes a connection only when none is left.
  for (sql::Stmt* s : {&ins_block1_, &ins_blockK_, &contexts_.upsert1, &contexts_.upsertK, &waits_.upsert1,
                       &waits_.upsertK, &threads_.upsert1, &threads_.upsertK, &channels_.upsert1, &channels_.upsertK,
                       &tests_.upsert1, &tests_.upsertK, &ins_site_, &ins_stack_, &ins_stack_frame_, &ins_frame_,
                       &run_commit_, &run_end_})
    *s = sql::Stmt{};
  if (in_txn_) sql::try_exec(db_, "ROLLBACK");
  sqlite3_close(db_);
  db_ = nullptr;
}

}  // namespace ctxscope::trace::detail
