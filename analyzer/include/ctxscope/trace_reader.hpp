// ctxscope/trace_reader.hpp — opening a trace file for reading (analyzer, probe, viewer).
//
//   std::string err;
//   auto r = ctxscope::trace::TraceReader::open("run.db", &err);
//   if (!r) { std::cerr << err << "\n"; return 1; }   // one line: "run.db: not a ctxscope trace (...)"
//   for (auto& w : r->warnings()) std::cerr << w << "\n";   // "run.db: 12 events dropped", incomplete run
//   sqlite3* db = r->db();                                  // plain SQL over docs/trace-schema.md
//
// The file is untrusted: it is opened read-only with SQLite's defensive settings
// (SQLITE_DBCONFIG_DEFENSIVE, trusted_schema=OFF, triggers disabled,
// cell_size_check=ON, mmap_size=0) and checked before use (application_id,
// user_version = this version, no planted views/triggers, every declared table present,
// quick_check, exactly one `run` row).  Opening never changes or removes a file:
// an empty main file beside a non-empty -wal (SQLite would delete that WAL) is
// read from a private copy in $TMPDIR, removed when the reader is destroyed.  A trace still being written can be
// opened (WAL reader): every statement outside an explicit transaction sees the
// latest commit, so a viewer follows it by re-running its queries.
// Thread safety: one TraceReader per thread (the connection is not shared).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace ctxscope::trace {

/// The `run` row (see docs/trace-schema.md).
struct RunInfo {
  int schema_version = 0;
  std::string ctxscope_version;
  std::int64_t pid = 0;
  std::string executable;
  std::string argv;  ///< JSON array
  std::string clock;
  std::int64_t start_wall_ns = 0;
  std::int64_t start_steady_ns = 0;
  std::string end_state;                ///< "stopped", "none" (killed / still running) or "failed" (write error)
  std::optional<std::int64_t> end_ns;
  std::int64_t last_commit_ns = 0;
  std::int64_t events_recorded = 0;
  std::int64_t events_dropped = 0;
  bool drop_mode = false;
  int stack_frames = 0;
  std::string run_token;  ///< CTXSCOPE_RUN_TOKEN of the traced process ("" if none)
  std::string failure;    ///< why recording failed ("" unless end_state == "failed")

  /// True when the run has its end marker (trace::stop / normal exit).
  bool complete() const { return end_state == "stopped"; }
};

class TraceReader {
 public:
  /// Opens and validates `path`.  On failure returns nullopt and sets `*err` to
  /// one line naming the file and the problem.  Never throws on bad input.
  /// `quick_check = false` skips the whole-file PRAGMA quick_check (it reads
  /// every page: 3-4x a scan of `events`).  For consumers that read the tables
  /// anyway and report SQLITE_CORRUPT from their own queries (the analyzer);
  /// every other check still runs.
  static std::optional<TraceReader> open(const std::string& path, std::string* err, bool quick_check = true);
  /// Opens the in-memory trace `name` of this process (trace::start_in_memory),
  /// with the same checks; path() is "memory:<name>".
  static std::optional<TraceReader> open_in_memory(const std::string& name, std::string* err);

  TraceReader(TraceReader&& o) noexcept;
  TraceReader& operator=(TraceReader&& o) noexcept;
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;
  ~TraceReader();

  /// The read-only connection (owned by the reader).
  sqlite3* db() const noexcept { return db_; }
  const std::string& path() const noexcept { return path_; }
  /// `PRAGMA user_version` of the file (== schema::kVersion: other versions are refused).
  int schema_version() const noexcept { return version_; }

  /// True when the file was a WAL-only trace read from a private copy (see open()).
  bool recovered_from_wal() const noexcept { return !recovered_dir_.empty(); }

  /// Re-reads the run row (a live trace changes it at every commit).
  RunInfo run() const;

  /// Lines every consumer must show: "<path>: N events dropped" and
  /// "<path>: incomplete trace (no end marker: still running or killed)".
  std::vector<std::string> warnings() const;

 private:
  TraceReader(sqlite3* db, std::string path, int version) : db_(db), path_(std::move(path)), version_(version) {}
  static std::optional<TraceReader> open_db(const std::string& open_path, const std::string& path,
                                            const std::string& recovered_dir, int flags, std::string* err,
                                            bool quick_check);
  sqlite3* db_ = nullptr;
  std::string path_;
  int version_ = 0;
  /// Non-empty: db_ is a private copy of a WAL-only trace, removed with the reader.
  std::string recovered_dir_;
};

}  // namespace ctxscope::trace
