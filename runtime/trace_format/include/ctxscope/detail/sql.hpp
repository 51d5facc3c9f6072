// ctxscope/detail/sql.hpp — the one SQLite statement wrapper of ctxscope: the
// recorder (runtime/src/recorder), the trace reader and the analysis library,
// and the tools all prepare, bind, step and read through it.  Header only; it
// is included by .cpp files, never by a public header (the trace format
// library's compiled part needs nothing but the standard library).
//
// Two error styles, for the two kinds of callers:
//   - throwing (sql::Error with SQLite's message): the readers, whose callers
//     turn it into one line naming the file;
//   - non-throwing (`Stmt::prepare` with `std::string* err`, `step_rc()`,
//     `try_exec`): the recorder, which must never throw out of its thread and
//     records its first failure in the trace instead.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ctxscope::sql {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Runs `sql` (any number of statements, no parameters); false with `*err`.
inline bool try_exec(sqlite3* db, const char* sql, std::string* err = nullptr) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
  if (err) *err = msg ? msg : sqlite3_errmsg(db);
  sqlite3_free(msg);
  return false;
}
/// The same; throws Error.
inline void exec(sqlite3* db, const char* sql) {
  std::string err;
  if (!try_exec(db, sql, &err)) throw Error("SQL error: " + err);
}

/// One prepared statement, finalized by its destructor.  Movable; an empty
/// Stmt (default-constructed, moved from, or failed to prepare) is falsy.
class Stmt {
 public:
  Stmt() = default;
  /// Prepares `sql`; throws Error.
  Stmt(sqlite3* db, std::string_view sql, unsigned flags = 0) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &s_, nullptr) != SQLITE_OK)
      throw Error(std::string("SQL error: ") + sqlite3_errmsg(db));
  }
  /// Prepares `sql`; on failure an empty Stmt, with SQLite's message in `*err`.
  /// `flags`: SQLITE_PREPARE_PERSISTENT for a statement kept for the run.
  static Stmt prepare(sqlite3* db, std::string_view sql, unsigned flags, std::string* err) noexcept {
    Stmt st;
    st.db_ = db;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &st.s_, nullptr) != SQLITE_OK) {
      if (err) *err = sqlite3_errmsg(db);
      sqlite3_finalize(st.s_);
      st.s_ = nullptr;
    }
    return st;
  }
  /// Takes ownership of a statement prepared by other means.
  static Stmt adopt(sqlite3* db, sqlite3_stmt* raw) noexcept {
    Stmt st;
    st.db_ = db;
    st.s_ = raw;
    return st;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(s_);
      db_ = o.db_;
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  explicit operator bool() const noexcept { return s_ != nullptr; }
  sqlite3_stmt* get() const noexcept { return s_; }

  // ---- binding (1-based, as SQLite) ----
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  /// Copies the text (SQLITE_TRANSIENT) unless `stable`: the caller keeps it
  /// alive and unchanged until the statement is reset (SQLITE_STATIC).
  void bind_text(int i, std::string_view v, bool stable = false) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), stable ? SQLITE_STATIC : SQLITE_TRANSIENT);
  }
  /// A C string (NULL for a null pointer), copied unless `stable`.
  void bind_text(int i, const char* v, bool stable = false) {
    if (!v) sqlite3_bind_null(s_, i);
    else sqlite3_bind_text(s_, i, v, -1, stable ? SQLITE_STATIC : SQLITE_TRANSIENT);
  }
  void bind_text(int i, const std::string& v, bool stable = false) { bind_text(i, std::string_view(v), stable); }
  /// Binds `:name` if the statement has that parameter.
  void bind_named(const char* name, std::int64_t v) {
    if (int i = sqlite3_bind_parameter_index(s_, name); i > 0) sqlite3_bind_int64(s_, i, v);
  }

  // ---- stepping ----
  /// SQLite's result code (SQLITE_ROW, SQLITE_DONE, or an error).
  int step_rc() noexcept { return sqlite3_step(s_); }
  /// true: a row; false: done; throws Error on an error.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(std::string("SQL error: ") + sqlite3_errmsg(db_));
  }
  /// Ready to step again; bindings kept.
  void rewind() noexcept { sqlite3_reset(s_); }
  /// Ready to step again; bindings cleared (NULL).
  void reset() noexcept {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  /// The connection's message for the last error.
  const char* errmsg() const noexcept { return sqlite3_errmsg(db_); }

  // ---- columns (0-based) ----
  int type(int c) const { return sqlite3_column_type(s_, c); }
  bool null(int c) const { return type(c) == SQLITE_NULL; }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  /// The column as an integer, or nullopt for NULL.  One call into the
  /// statement (the value's type and integer are read off the value it
  /// returns): a column read as null() then i64() took two, and per-call
  /// overhead is most of what reading a large table costs.
  std::optional<std::int64_t> opt(int c) const {
    sqlite3_value* v = sqlite3_column_value(s_, c);
    if (sqlite3_value_type(v) == SQLITE_NULL) return std::nullopt;
    return sqlite3_value_int64(v);
  }
  int columns() const { return sqlite3_column_count(s_); }
  const char* name(int c) const { return sqlite3_column_name(s_, c); }
  std::string text(int c) const {
    const auto* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
};

/// Runs one query of one integer (a pragma, a count); false with `*err`
/// (SQLite's message, or "no result").
inline bool query_int(sqlite3* db, const char* sql, std::int64_t* out, std::string* err) {
  Stmt s = Stmt::prepare(db, sql, 0, err);
  if (!s) return false;
  const int rc = s.step_rc();
  if (rc == SQLITE_ROW) {
    *out = s.i64(0);
    return true;
  }
  if (err) *err = rc == SQLITE_DONE ? "no result" : s.errmsg();
  return false;
}

/// Prepares and runs each statement of `sql` in turn, calling `bind(stmt)`
/// before stepping it (sqlite3_exec cannot bind); throws Error.
template <class Bind>
void exec_each(sqlite3* db, std::string_view sql, Bind&& bind) {
  const char* p = sql.data();
  const char* end = sql.data() + sql.size();
  while (p < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db, p, static_cast<int>(end - p), &raw, &tail) != SQLITE_OK)
      throw Error(std::string("SQL error: ") + sqlite3_errmsg(db));
    p = tail;
    if (!raw) continue;  // whitespace or comments only
    Stmt st = Stmt::adopt(db, raw);
    bind(st);
    while (st.step()) {
    }
  }
}

struct Closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
/// A connection closed by its destructor.
using Connection = std::unique_ptr<sqlite3, Closer>;

/// One read snapshot of a (possibly live) trace for the guard's lifetime: every
/// statement sees the same commit.  BEGIN is deferred, so a first read is made
/// at once to take the snapshot here.  Inside a caller's transaction, that one
/// is used.  Ends with ROLLBACK (nothing was written).
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) {
    if (!sqlite3_get_autocommit(db)) return;
    if (try_exec(db, "BEGIN; SELECT count(*) FROM sqlite_schema;")) own_ = true;
  }
  ~ReadSnapshot() {
    if (own_) try_exec(db_, "ROLLBACK");
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  sqlite3* db_;
  bool own_ = false;
};

}  // namespace ctxscope::sql
