// bench/common/bench_util.hpp — what the side-by-side benches share: wall
// time, medians, resident memory, and the reference they are measured
// against (one sequential scan of a trace's `events` table).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace ctxscope::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// Resident set size of this process, kB (/proc/self/status VmRSS).
inline long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string k;
  long v = 0;
  while (f >> k) {
    if (k == "VmRSS:") {
      f >> v;
      return v;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

/// The reference scan: one pass over the stored events,
/// `SELECT count(*), sum(dt) FROM event_log` on `db` (schema 5; until schema 4 it
/// was `SELECT count(*), sum(t_ns) FROM events`, a table then); returns the
/// number of events.
inline long long scan_events(sqlite3* db) {
  long long events = 0;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*), sum(dt) FROM event_log", -1, &st, nullptr);
  if (sqlite3_step(st) == SQLITE_ROW) events = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return events;
}

}  // namespace ctxscope::bench
