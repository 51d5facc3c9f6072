// Helpers shared by the recorder tests: temp trace paths and small SQL queries.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"
#include "recorder/recorder_internal.hpp"

namespace ctxscope::rectest {

/// A fresh path in the test temp dir (CTXSCOPE_TEST_TMP or /tmp), removed with its -wal/-shm first.
inline std::string temp_trace(const std::string& stem) {
  static std::atomic<int> n{0};
  const char* base = std::getenv("CTXSCOPE_TEST_TMP");
  std::filesystem::path dir = base && *base ? base : "/tmp";
  std::filesystem::create_directories(dir);
  auto p = dir / (stem + "-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".db");
  for (const char* suf : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suf);
  return p.string();
}

/// Opens with the reader, failing the test with the reader's line if it refuses.
inline std::optional<trace::TraceReader> must_open(const std::string& path) {
  std::string err;
  auto r = trace::TraceReader::open(path, &err);
  EXPECT_TRUE(r.has_value()) << err;
  return r;
}

/// First column of the first row as integer; nullopt for NULL or no row.
inline std::optional<std::int64_t> q_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return std::nullopt;
  }
  std::optional<std::int64_t> r;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) r = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return r;
}

/// First column of the first row as text; nullopt for NULL or no row.
inline std::optional<std::string> q_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return std::nullopt;
  }
  std::optional<std::string> r;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    r = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return r;
}

/// The integer code a trace stores for an enumerator (Kind::cancel -> 2, errc::canceled -> 1, ...).
template <class E>
std::int64_t code(E e) {
  return static_cast<std::int64_t>(e);
}

/// Emits `e` through the installed sink exactly as the runtime does.
inline void emit(Event e) {
  if (EventSink* s = detail::sink()) detail::emit_to(s, e);
}

}  // namespace ctxscope::rectest
