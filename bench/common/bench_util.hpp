// bench/common/bench_util.hpp — what the side-by-side benches share: wall
// time, medians, resident memory, and the reference they are measured
// against (one sequential pass over a trace's stored events).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "ctxscope/trace_schema.hpp"

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

/// The reference scan: one pass over the stored events on `db` — every block
/// of `event_blocks` read and its events decoded (schema 6; schema 5 scanned
/// `SELECT count(*), sum(dt) FROM event_log`, schema 4 the table `events`), the
/// times summed; returns the number of events.
inline long long scan_events(sqlite3* db) {
  long long events = 0, sum = 0;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT events FROM event_blocks", -1, &st, nullptr);
  std::vector<trace::schema::event_encoding::Fields> evs;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    trace::schema::event_encoding::decode_block({t, static_cast<std::size_t>(sqlite3_column_bytes(st, 0))}, evs);
    events += static_cast<long long>(evs.size());
    for (const auto& e : evs) sum += e.dt;
  }
  sqlite3_finalize(st);
  return sum == -1 ? -1 : events;  // sum read, so the decode is not optimized away
}

}  // namespace ctxscope::bench
