// Hand-built traces for rule tests: a valid trace file of the current schema
// version (created from the schema declaration, so it passes TraceReader's
// checks) whose entity rows the test writes directly — deterministic ids,
// sites and times.  Tests name enumerations ("cancel", "explicit"); the builder
// stores their codes, as the recorder does.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ctxscope/trace_schema.hpp"

namespace ctxscope::testing {

using I = std::optional<std::int64_t>;

struct CtxRow {
  std::int64_t id = 0;
  I parent = 1;
  std::string kind = "cancel";
  std::int64_t thread = 1;
  std::int64_t created_ns = 0;
  I site;
  I registered = 0;
  I cancel_ns;
  std::string cancel_reason;  ///< explicit | parent | deadline | born_done
  I cancel_parent, cancel_origin, cancel_thread, cancel_site;
  I cancel_called_ns;
  I dropped_ns;
  I dropped_when_done;
  I released_ns;
  I stack;
};

struct ThreadRow {
  std::int64_t id = 0;
  std::string name;  ///< empty: NULL
  I ctx;
  I parent_thread = 1;
  I spawn_ns;
  I spawn_site;
  I exit_ns;
};

struct WaitRow {
  std::int64_t id = 0;
  std::int64_t thread = 1;
  std::string object = "chan_recv";
  I object_id;
  std::string label;
  I done_ctx;
  I site;
  std::int64_t begin_ns = 0;
  I end_ns;
  std::string outcome;  ///< empty: NULL
};

class TraceBuilder {
 public:
  /// Creates `path` (overwriting) with the schema and a run row; `end_ns` is
  /// the end marker time, or with `complete=false` the last commit time.
  TraceBuilder(const std::filesystem::path& path, std::int64_t end_ns, bool complete = true) {
    std::filesystem::remove(path);
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path.string());
    exec("PRAGMA application_id=" + std::to_string(trace::schema::kApplicationId));
    exec("PRAGMA user_version=" + std::to_string(trace::schema::kVersion));
    exec(trace::schema::create_sql());
    exec("INSERT INTO run(schema_version, ctxscope_version, pid, executable, argv, clock, start_wall_ns, "
         "start_steady_ns, end_state, end_ns, last_commit_ns, events_recorded, events_dropped, drop_mode, "
         "stack_frames) VALUES(" + std::to_string(trace::schema::kVersion) +
         ", 'test', 42, '/bin/sample', '[\"sample\"]', 'CLOCK_MONOTONIC', 0, 0, '" +
         std::string(complete ? "stopped" : "none") + "', " + (complete ? std::to_string(end_ns) : "NULL") + ", " +
         std::to_string(end_ns) + ", 0, 0, 0, 0)");
    exec(trace::schema::enums_sql());
    exec("INSERT INTO contexts(id, kind) VALUES(1, " + code("kind", "background") + "), (2, " + code("kind", "todo") +
         ")");
    exec("INSERT INTO threads(id, first_ns) VALUES(1, 0)");
  }
  ~TraceBuilder() { sqlite3_close(db_); }
  TraceBuilder(const TraceBuilder&) = delete;
  TraceBuilder& operator=(const TraceBuilder&) = delete;

  void exec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "?";
      sqlite3_free(msg);
      throw std::runtime_error(m + " in: " + sql);
    }
  }

  std::int64_t site(const std::string& file, int line, const std::string& function = "f", int col = 0) {
    exec("INSERT INTO sites(file, line, col, function) VALUES(" + q(file) + ", " + std::to_string(line) + ", " +
         std::to_string(col) + ", " + q(function) + ")");
    return sqlite3_last_insert_rowid(db_);
  }

  void ctx(const CtxRow& c) {
    exec("INSERT INTO contexts(id, parent, kind, thread, created_ns, site, registered, cancel_ns, cancel_reason, "
         "cancel_parent, cancel_origin, cancel_thread, cancel_site, cancel_called_ns, dropped_ns, "
         "dropped_when_done, released_ns, stack, err) VALUES(" +
         std::to_string(c.id) + ", " + n(c.parent) + ", " + code("kind", c.kind) + ", " + std::to_string(c.thread) +
         ", " + std::to_string(c.created_ns) + ", " + n(c.site) + ", " + n(c.registered) + ", " + n(c.cancel_ns) +
         ", " + (c.cancel_reason.empty() ? "NULL" : code("cancel_reason", c.cancel_reason)) + ", " +
         n(c.cancel_parent) + ", " + n(c.cancel_origin) + ", " + n(c.cancel_thread) + ", " + n(c.cancel_site) +
         ", " + n(c.cancel_called_ns) + ", " + n(c.dropped_ns) + ", " + n(c.dropped_when_done) + ", " + n(c.released_ns) + ", " + n(c.stack) +
         ", " + (c.cancel_ns ? code("errc", "canceled") : "NULL") + ")");
  }

  void thread(const ThreadRow& t) {
    exec("INSERT INTO threads(id, name, ctx, parent_thread, spawn_ns, spawn_site, exit_ns, first_ns) VALUES(" +
         std::to_string(t.id) + ", " + (t.name.empty() ? "NULL" : q(t.name)) + ", " + n(t.ctx) + ", " +
         n(t.parent_thread) + ", " + n(t.spawn_ns) + ", " + n(t.spawn_site) + ", " + n(t.exit_ns) + ", " +
         n(t.spawn_ns) + ")");
  }

  void wait(const WaitRow& w) {
    exec("INSERT INTO waits(id, thread, object, object_id, label, done_ctx, n_cases, site, begin_ns, end_ns, "
         "outcome) VALUES(" +
         std::to_string(w.id) + ", " + std::to_string(w.thread) + ", " + code("wait_object", w.object) + ", " +
         n(w.object_id) + ", " + (w.label.empty() ? "NULL" : q(w.label)) + ", " + n(w.done_ctx) + ", 1, " +
         n(w.site) + ", " + std::to_string(w.begin_ns) + ", " + n(w.end_ns) + ", " +
         (w.outcome.empty() ? "NULL" : code("wait_outcome", w.outcome)) + ")");
  }

  /// A stack of symbolized frames, innermost first; returns its id.
  std::int64_t stack(std::initializer_list<std::string> fns) {
    exec("INSERT INTO stacks(depth) VALUES(" + std::to_string(fns.size()) + ")");
    const auto sid = sqlite3_last_insert_rowid(db_);
    int d = 0;
    for (const auto& f : fns) {
      exec("INSERT INTO frames(address, function, file, line) VALUES(" + std::to_string(0x1000 + d) + ", " + q(f) +
           ", NULL, NULL)");
      const auto fid = sqlite3_last_insert_rowid(db_);
      exec("INSERT INTO stack_frames(stack_id, depth, frame_id) VALUES(" + std::to_string(sid) + ", " +
           std::to_string(d++) + ", " + std::to_string(fid) + ")");
    }
    return sid;
  }

  sqlite3* db() const { return db_; }

 private:
  static std::string q(const std::string& s) {
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("''") : std::string(1, c);
    return o + "'";
  }
  static std::string n(const I& v) { return v ? std::to_string(*v) : "NULL"; }
  /// The code of `name` in enumeration `type` (the rows of table `enums`).
  static std::string code(std::string_view type, std::string_view name) {
    for (const auto& e : trace::schema::enum_values())
      if (e.type == type && e.name == name) return std::to_string(e.value);
    throw std::runtime_error("no " + std::string(type) + " named " + std::string(name));
  }
  sqlite3* db_ = nullptr;
};

}  // namespace ctxscope::testing
