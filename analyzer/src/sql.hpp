// A thin RAII wrapper over one prepared SQLite statement, for the readers of
// the analysis library.  Errors throw sql::Error with SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ctxscope::analysis::sql {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = std::string("SQL error: ") + (msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    throw Error(m);
  }
}

struct Closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
using Connection = std::unique_ptr<sqlite3, Closer>;

/// A second read-only connection to the file `db` reads, with the trace
/// reader's safety settings (trace_reader.cpp); empty for an in-memory trace
/// or when it cannot be opened.  For reading one trace on two cores.
Connection open_sibling(sqlite3* db);

class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s_, nullptr) != SQLITE_OK)
      throw Error(std::string("SQL error: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  /// Binds `:name` if the statement has that parameter.
  void bind_named(const char* name, std::int64_t v) {
    if (int i = sqlite3_bind_parameter_index(s_, name); i > 0) sqlite3_bind_int64(s_, i, v);
  }
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(std::string("SQL error: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int type(int c) const { return sqlite3_column_type(s_, c); }
  bool null(int c) const { return type(c) == SQLITE_NULL; }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::optional<std::int64_t> opt(int c) const {
    if (null(c)) return std::nullopt;
    return i64(c);
  }
  int columns() const { return sqlite3_column_count(s_); }
  const char* name(int c) const { return sqlite3_column_name(s_, c); }
  std::string text(int c) const {
    const auto* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

/// One read snapshot of a (possibly live) trace for the guard's lifetime: every
/// statement sees the same commit.  BEGIN is deferred, so a first read is made
/// at once to take the snapshot here.  Inside a caller's transaction, that one
/// is used.  Ends with ROLLBACK (nothing was written).
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) {
    if (!sqlite3_get_autocommit(db)) return;
    if (sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_schema;", nullptr, nullptr, nullptr) == SQLITE_OK)
      own_ = true;
  }
  ~ReadSnapshot() {
    if (own_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  sqlite3* db_;
  bool own_ = false;
};

}  // namespace ctxscope::analysis::sql
