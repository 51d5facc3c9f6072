// tests/analysis/hostile_corpus.hpp — the hostile trace files every reader is
// tested against (the CLI's subcommands, the viewer's --screenshot and window):
// each must give one line naming the file and the problem, exit 2, never crash.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "trace_builder.hpp"

namespace ctxscope::testing {

/// Writes the corpus into `dir`: (what it is, its path) for each file.
inline std::vector<std::pair<std::string, std::filesystem::path>> hostile_corpus(const std::filesystem::path& dir) {
  std::vector<std::pair<std::string, std::filesystem::path>> cases;
  auto add = [&](const std::string& what, const std::string& name) {
    cases.push_back({what, dir / name});
    return dir / name;
  };
  write_file(add("not sqlite", "text.db"), "hello, this is not a database at all\n");
  write_file(add("empty", "empty.db"), "");
  add("missing", "missing.db");
  std::filesystem::create_directories(add("directory", "adir.db"));
  {
    auto p = add("wrong application id", "otherapp.db");
    sqlite3* db;
    sqlite3_open(p.c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA user_version=1;", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  {
    auto p = add("newer schema", "newer.db");
    { TraceBuilder b(p, 1); }
    sqlite3* db;
    sqlite3_open(p.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version=99;", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  {
    auto p = add("older schema", "older.db");  // version 1: enumerations as names; must be re-recorded
    { TraceBuilder b(p, 1); }
    sqlite3* db;
    sqlite3_open(p.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version=1;", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  {
    auto p = add("planted view", "view.db");
    { TraceBuilder b(p, 1); }
    sqlite3* db;
    sqlite3_open(p.c_str(), &db);
    sqlite3_exec(db, "CREATE VIEW evil AS SELECT 1;", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  {
    auto p = add("missing table", "notable.db");
    { TraceBuilder b(p, 1); }
    sqlite3* db;
    sqlite3_open(p.c_str(), &db);
    sqlite3_exec(db, "DROP TABLE waits;", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  {
    auto p = add("truncated", "truncated.db");
    { TraceBuilder b(p, 1); }
    std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  }
  return cases;
}

}  // namespace ctxscope::testing
