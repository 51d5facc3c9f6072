// ctxscope/analysis/stats.hpp — summary figures of a trace (`ctxscope stats`)
// and the Chrome / Perfetto trace export (`ctxscope export --format chrome`).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

struct sqlite3;

namespace ctxscope::analysis {

struct TraceStats {
  std::uint64_t events = 0, contexts = 0, threads = 0, waits = 0, channels = 0;
  std::map<std::string, std::uint64_t> events_by_type;    ///< from `enums` names
  std::map<std::string, std::uint64_t> contexts_by_kind;
  std::map<std::string, std::uint64_t> cancel_reasons;    ///< "never" for contexts never done
  std::map<std::string, std::uint64_t> waits_by_object;
  std::map<std::string, std::uint64_t> wait_outcomes;     ///< "blocked" for waits never ended
  int max_depth = 0;                                       ///< background = depth 0
  std::map<int, std::uint64_t> depth_histogram;
  /// Cancel latency: from a context becoming done to the wake-up (end) of a
  /// wait that observed it and was blocked at that moment.  Nanoseconds.
  std::uint64_t latency_samples = 0;
  std::int64_t latency_p50 = 0, latency_p90 = 0, latency_p99 = 0, latency_max = 0;
  bool complete = true;
  std::int64_t duration_ns = 0;
};

TraceStats compute_stats(sqlite3* db);
std::string stats_to_text(const TraceStats&);
std::string stats_to_json(const TraceStats&);

/// Chrome trace event JSON (opens in Perfetto's UI and chrome://tracing):
/// threads as tracks, waits as slices, contexts as async spans from creation to
/// done, and a flow arrow from each cancel to the wake-up of each wait it ended.
void export_chrome(sqlite3* db, std::ostream& out);

}  // namespace ctxscope::analysis
