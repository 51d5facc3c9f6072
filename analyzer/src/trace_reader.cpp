// Opening traces as untrusted input: defensive configuration, then checks from
// the cheapest and most specific (magic, application_id, version) to the most
// expensive (quick_check), so each bad file gets the one line that explains it.
#include "ctxscope/trace_reader.hpp"

#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "ctxscope/trace_schema.hpp"
#include "ctxscope/detail/trace_file.hpp"
#include "sql.hpp"

namespace ctxscope::trace {
namespace {

using sql::query_int;
using sql::Stmt;

std::string hex32(std::int64_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08X", static_cast<unsigned>(static_cast<std::uint32_t>(v)));
  return b;
}

// Removes a recovery directory made by recover_wal_copy (its three files and itself).
void remove_recovered(const std::string& dir) {
  if (dir.empty()) return;
  for (const char* f : {"/trace.db", "/trace.db-wal", "/trace.db-shm"}) ::unlink((dir + f).c_str());
  ::rmdir(dir.c_str());
}

bool copy_file(const std::string& from, const std::string& to, std::string* why) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) {
    *why = from + ": " + std::strerror(errno);
    return false;
  }
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    *why = to + ": " + std::strerror(errno);
    ::close(in);
    return false;
  }
  char buf[1 << 16];
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = from + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    for (ssize_t w = 0; w < n;) {
      const ssize_t k = ::write(out, buf + w, static_cast<std::size_t>(n - w));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        *why = to + ": " + std::strerror(errno);
        ok = false;
        break;
      }
      w += k;
    }
    if (!ok) break;
  }
  ::close(in);
  if (::close(out) != 0 && ok) {
    *why = to + ": " + std::strerror(errno);
    ok = false;
  }
  return ok;
}

bool recover_wal_copy(const std::string& path, std::uint32_t page_size, std::string* dir, std::string* open_path,
                      std::string* why) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ctxscope-recover-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    *why = tmpl + ": " + std::strerror(errno);
    return false;
  }
  const std::string main = tmpl + "/trace.db";
  if (!copy_file(path + "-wal", main + "-wal", why)) {
    remove_recovered(tmpl);
    return false;
  }
  const int fd = ::open(main.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, page_size) != 0) {
    *why = main + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    remove_recovered(tmpl);
    return false;
  }
  ::close(fd);
  *dir = tmpl;
  *open_path = main;
  return true;
}

// What every reading connection of an untrusted file gets: no triggers, no
// trusted schema, checked cells, no mmap (a damaged file is an error, not a
// crash), a busy wait while a writer checkpoints.
void apply_read_settings(sqlite3* db) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
#endif
  sqlite3_exec(db, "PRAGMA trusted_schema=OFF; PRAGMA cell_size_check=ON; PRAGMA mmap_size=0;", nullptr, nullptr,
               nullptr);
  sqlite3_busy_timeout(db, 2000);
}

}  // namespace

std::optional<TraceReader> TraceReader::open(const std::string& path, std::string* err, bool quick_check) {
  auto fail = [&](const std::string& what) -> std::optional<TraceReader> {
    if (err) *err = path + ": " + what;
    return std::nullopt;
  };
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(sb.st_mode)) {
    // "is a FIFO (named pipe), ..." says more than "not a regular file".
    std::string what = detail::describe_non_regular(sb.st_mode);
    return fail(what.rfind("is ", 0) == 0 ? what.substr(3) : what);
  }
  // What SQLite is given to open: the file itself, or a private copy (below).
  std::string open_path = path;
  std::string recovered_dir;
  {
    // A main file must start with SQLite's magic, except in one case: an empty
    // main file beside a non-empty -wal (a trace whose header was never
    // checkpointed, e.g. killed at once, or written by an older ctxscope).
    // SQLite must not see that pair: for a database of zero pages it deletes
    // the WAL as stale, even on a read-only connection, destroying every event.
    std::ifstream in(path, std::ios::binary);
    char magic[16] = {};
    in.read(magic, sizeof magic);
    const auto got = in.gcount();
    const detail::WalInfo wi = detail::read_wal_info(path + "-wal");
    if (got == 0 && !wi.exists) return fail("empty file, not a ctxscope trace");
    if (got > 0 && (got < 16 || std::memcmp(magic, "SQLite format 3", 16) != 0)) return fail("not a SQLite database");
    if (got == 0) {
      if (!wi.valid) return fail("the main file is empty and " + path + "-wal beside it is not a SQLite WAL");
      if (!wi.has_page1 || wi.application_id != static_cast<std::uint32_t>(schema::kApplicationId))
        return fail("the main file is empty and " + path + "-wal beside it holds no ctxscope trace header");
      // Recover read-only: copy the WAL into a private directory beside an
      // all-zero first page (a non-empty main file, so SQLite reads the WAL,
      // whose page 1 replaces the zeros), and open the copy.  The user's files
      // are only read.
      std::string why;
      if (!recover_wal_copy(path, wi.page_size, &recovered_dir, &open_path, &why))
        return fail("the main file is empty (never checkpointed) and its -wal could not be recovered: " + why);
    }
  }

  return open_db(open_path, path, recovered_dir, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, err, quick_check);
}

std::optional<TraceReader> TraceReader::open_in_memory(const std::string& name, std::string* err) {
  // memdb names that begin with '/' are shared by every connection of the process.
  return open_db("file:/" + name + "?vfs=memdb", "memory:" + name, {},
                 SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, err, false);
}

std::optional<TraceReader> TraceReader::open_db(const std::string& open_path, const std::string& path,
                                                const std::string& recovered_dir, int flags, std::string* err,
                                                bool quick_check) {
  auto fail = [&](const std::string& what) -> std::optional<TraceReader> {
    if (err) *err = path + ": " + what;
    return std::nullopt;
  };
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(open_path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    remove_recovered(recovered_dir);
    return fail("cannot open: " + m);
  }
  TraceReader r(db, path, 0);  // closes db (and removes a recovery copy) on every early return
  r.recovered_dir_ = recovered_dir;
  apply_read_settings(db);

  std::string msg;
  std::int64_t app = 0, ver = 0;
  if (!query_int(db, "PRAGMA application_id", &app, &msg)) {
    if (sqlite3_errcode(db) == SQLITE_NOTADB) return fail("not a SQLite database");
    return fail("file is truncated or corrupt (" + msg + ")");
  }
  if (app != schema::kApplicationId)
    return fail("not a ctxscope trace (application_id " + hex32(app) + ", expected " + hex32(schema::kApplicationId) + ")");
  if (!query_int(db, "PRAGMA user_version", &ver, &msg)) return fail("file is truncated or corrupt (" + msg + ")");
  if (ver > schema::kVersion)
    return fail("schema version " + std::to_string(ver) + " is newer than this ctxscope (max " +
                std::to_string(schema::kVersion) + ")");
  if (ver < 1) return fail("not a ctxscope trace (schema version " + std::to_string(ver) + ")");
  if (ver < schema::kVersion)
    return fail("written by an older ctxscope (schema version " + std::to_string(ver) + ", this ctxscope reads " +
                std::to_string(schema::kVersion) + "): re-record the trace with this ctxscope");
  r.version_ = static_cast<int>(ver);

  {
    Stmt st = Stmt::prepare(db, "SELECT type, name FROM sqlite_schema WHERE type IN ('view','trigger') LIMIT 1", 0,
                            &msg);
    if (!st) return fail("file is truncated or corrupt (" + msg + ")");
    int rc = st.step_rc();
    if (rc == SQLITE_ROW)
      return fail("refusing a trace that contains a " + st.text(0) + " ('" + st.text(1) +
                  "'): traces never hold views or triggers");
    if (rc != SQLITE_DONE) return fail("file is truncated or corrupt (" + std::string(sqlite3_errmsg(db)) + ")");
  }
  if (quick_check) {
    Stmt st = Stmt::prepare(db, "PRAGMA quick_check", 0, &msg);
    if (!st) return fail("file is truncated or corrupt (quick_check: " + msg + ")");
    int rc = st.step_rc();
    if (rc != SQLITE_ROW)
      return fail("file is truncated or corrupt (quick_check: " + std::string(sqlite3_errmsg(db)) + ")");
    std::string first = st.text(0);
    if (first != "ok") return fail("file is truncated or corrupt (quick_check: " + first + ")");
  }
  {
    // A recorder writes its header (application_id, user_version) first and
    // the tables in its first commit: a trace with none was cut off before it
    // (killed in its first milliseconds, or still starting).
    std::int64_t n = 0;
    if (!query_int(db, "SELECT count(*) FROM sqlite_schema", &n, &msg)) return fail("file is truncated or corrupt (" + msg + ")");
    if (n == 0)
      return fail("ctxscope trace with no data: the program was killed (or is still starting) before its first commit");
  }
  for (const schema::Table& t : schema::tables()) {
    std::int64_t n = 0;
    std::string q = "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='" + std::string(t.name) + "'";
    if (!query_int(db, q.c_str(), &n, &msg)) return fail("file is truncated or corrupt (" + msg + ")");
    if (n != 1) return fail("not a complete ctxscope trace (table '" + std::string(t.name) + "' is missing)");
  }
  std::int64_t runs = 0;
  if (!query_int(db, "SELECT count(*) FROM run", &runs, &msg)) return fail("file is truncated or corrupt (" + msg + ")");
  if (runs != 1) return fail("not a complete ctxscope trace (" + std::to_string(runs) + " rows in table 'run')");
  // Events are stored packed (event_blocks.events); every reader sees
  // them decoded through the TEMP view `events` (this connection only: the file
  // itself holds no view).
  if (!sql::try_exec(db, schema::events_view_sql().c_str(), &msg))
    return fail("cannot create the events view (" + msg + ")");
  return std::optional<TraceReader>(std::move(r));
}

TraceReader::TraceReader(TraceReader&& o) noexcept
    : db_(o.db_), path_(std::move(o.path_)), version_(o.version_), recovered_dir_(std::move(o.recovered_dir_)) {
  o.db_ = nullptr;
  o.recovered_dir_.clear();
}

TraceReader& TraceReader::operator=(TraceReader&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    remove_recovered(recovered_dir_);
    db_ = o.db_;
    o.db_ = nullptr;
    path_ = std::move(o.path_);
    version_ = o.version_;
    recovered_dir_ = std::move(o.recovered_dir_);
    o.recovered_dir_.clear();
  }
  return *this;
}

TraceReader::~TraceReader() {
  sqlite3_close(db_);
  remove_recovered(recovered_dir_);
}

RunInfo TraceReader::run() const {
  RunInfo ri;
  Stmt st = Stmt::prepare(db_,
                         "SELECT schema_version, ctxscope_version, pid, executable, argv, clock, start_wall_ns, "
                         "start_steady_ns, end_state, end_ns, last_commit_ns, events_recorded, events_dropped, "
                         "drop_mode, stack_frames, run_token, failure FROM run LIMIT 1",
                         0, nullptr);
  if (!st || st.step_rc() != SQLITE_ROW)
    return ri;
  ri.schema_version = static_cast<int>(st.i64(0));
  ri.ctxscope_version = st.text(1);
  ri.pid = st.i64(2);
  ri.executable = st.text(3);
  ri.argv = st.text(4);
  ri.clock = st.text(5);
  ri.start_wall_ns = st.i64(6);
  ri.start_steady_ns = st.i64(7);
  ri.end_state = st.text(8);
  if (!st.null(9)) ri.end_ns = st.i64(9);
  ri.last_commit_ns = st.i64(10);
  ri.events_recorded = st.i64(11);
  ri.events_dropped = st.i64(12);
  ri.drop_mode = static_cast<int>(st.i64(13)) != 0;
  ri.stack_frames = static_cast<int>(st.i64(14));
  ri.run_token = st.text(15);
  ri.failure = st.text(16);
  return ri;
}

std::vector<std::string> TraceReader::warnings() const {
  std::vector<std::string> w;
  RunInfo ri = run();
  if (ri.events_dropped > 0)
    w.push_back(path_ + ": " + std::to_string(ri.events_dropped) + " events dropped (recorded in drop mode)");
  if (!recovered_dir_.empty())
    w.push_back(path_ + ": the main file is empty (never checkpointed): events read from a private copy of " + path_ +
                "-wal; the files were not changed");
  if (ri.end_state == "failed")
    w.push_back(path_ + ": incomplete trace: recording failed (" + ri.failure + "); events after the last commit are missing");
  else if (!ri.complete())
    w.push_back(path_ + ": incomplete trace (no end marker: the program is still running or was killed)");
  return w;
}

}  // namespace ctxscope::trace

namespace ctxscope::analysis {

sql::Connection open_sibling(sqlite3* db) {
  const char* file = sqlite3_db_filename(db, "main");
  if (!file || !*file || sqlite3_db_readonly(db, "main") != 1) return {};  // a temporary db, or not a reader's
  char* vfs = nullptr;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &vfs);
  const bool in_memory = vfs && std::strstr(vfs, "memdb");
  sqlite3_free(vfs);
  if (in_memory) return {};
  sqlite3* s = nullptr;
  if (sqlite3_open_v2(file, &s, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    sqlite3_close(s);
    return {};
  }
  trace::apply_read_settings(s);
  return sql::Connection(s);
}

}  // namespace ctxscope::analysis
