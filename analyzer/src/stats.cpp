#include "ctxscope/analysis/stats.hpp"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_map>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/analysis/finding.hpp"
#include "ctxscope/trace_codes.hpp"
#include "enum_names.hpp"
#include "event_blocks.hpp"
#include "sql.hpp"

namespace ctxscope::analysis {
namespace {

using Q = sql::Stmt;

// Counts of `SELECT code, count(*) ... GROUP BY 1` over an enumeration
// column of E: counts by the code's name (`null_name` for NULL).
void count_by_code(sqlite3* db, const detail::EnumTable& names, const char* type, const char* sql,
                   std::map<std::string, std::uint64_t>& out, const char* null_name = "") {
  Q q(db, sql);
  while (q.step())
    out[detail::enum_name(names, type, q.opt(0), null_name)] += static_cast<std::uint64_t>(q.i64(1));
}

// One read transaction around a whole stats / export pass: against a trace still
// being written (WAL), every query then sees the same commit, so the counts agree
// with each other (issue 18: 54,892 contexts with cancel reasons summing to
// 59,119 when each query saw a later commit).  Inside a caller's transaction:
// that one is used.
using sql::ReadSnapshot;  // one snapshot per pass (sql.hpp)

std::int64_t pct(const std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

namespace {
TraceStats compute_stats_sql(sqlite3* db) {
  ReadSnapshot snapshot(db);
  const detail::EnumTable names = detail::read_enum_table(db);
  TraceStats st;
  {
    Q q(db, "SELECT end_state, coalesce(end_ns, last_commit_ns, 0), events_recorded FROM run LIMIT 1");
    if (q.step()) {
      st.complete = q.text(0) == "stopped";
      st.duration_ns = q.i64(1);
    }
  }
  {
    // Every event decoded from its block (event_blocks.hpp): the view would
    // have SQLite parse each event's fields one by one.
    std::uint64_t by_type[trace::schema::event_encoding::kTypeMax + 1] = {};
    detail::for_each_event_after(db, 0, [&](const detail::BlockEvent& e) { ++by_type[e.type()]; });
    for (int t = 0; t <= static_cast<int>(trace::schema::event_encoding::kTypeMax); ++t) {
      if (!by_type[t]) continue;
      const auto it = names.find({"event", t});
      st.events_by_type[it != names.end() ? it->second : "type " + std::to_string(t)] += by_type[t];
    }
  }
  for (auto& [k, n] : st.events_by_type) st.events += n;
  count_by_code(db, names, "kind", "SELECT kind, count(*) FROM contexts GROUP BY kind", st.contexts_by_kind);
  for (auto& [k, n] : st.contexts_by_kind) st.contexts += n;
  count_by_code(db, names, "cancel_reason", "SELECT cancel_reason, count(*) FROM contexts GROUP BY 1", st.cancel_reasons,
                              "never");
  count_by_code(db, names, "wait_object", "SELECT object, count(*) FROM waits GROUP BY object", st.waits_by_object);
  for (auto& [k, n] : st.waits_by_object) st.waits += n;
  count_by_code(db, names, "wait_outcome", "SELECT outcome, count(*) FROM waits GROUP BY 1", st.wait_outcomes, "blocked");
  {
    Q q(db, "SELECT count(*) FROM threads");
    if (q.step()) st.threads = static_cast<std::uint64_t>(q.i64(0));
    Q c(db, "SELECT count(*) FROM channels");
    if (c.step()) st.channels = static_cast<std::uint64_t>(c.i64(0));
  }
  // Depths in C++: the trace has no index on contexts.parent, and a hash map
  // walk is linear where a recursive CTE would not be.
  {
    std::unordered_map<std::int64_t, std::int64_t> parent;
    Q q(db, "SELECT id, parent FROM contexts");
    while (q.step()) parent[q.i64(0)] = q.null(1) ? 0 : q.i64(1);
    std::unordered_map<std::int64_t, int> depth;
    std::vector<std::int64_t> chain;
    for (auto& [id, p] : parent) {
      chain.clear();
      std::int64_t cur = id;
      int base = 0;
      while (true) {
        if (auto it = depth.find(cur); it != depth.end()) {
          base = it->second;
          break;
        }
        chain.push_back(cur);
        auto pit = parent.find(cur);
        if (pit == parent.end() || pit->second == 0 || chain.size() > parent.size()) {
          base = -1;
          break;
        }
        cur = pit->second;
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) depth[*it] = ++base;
    }
    for (auto& [id, d] : depth) {
      ++st.depth_histogram[d];
      st.max_depth = std::max(st.max_depth, d);
    }
  }
  {
    std::vector<std::int64_t> lat;
    Q q(db,
        "SELECT w.end_ns - c.cancel_ns FROM waits w JOIN contexts c ON c.id = w.done_ctx WHERE w.outcome = 2 /* done */ "
        "AND c.cancel_ns IS NOT NULL AND w.begin_ns <= c.cancel_ns AND w.end_ns >= c.cancel_ns");
    while (q.step()) lat.push_back(q.i64(0));
    std::sort(lat.begin(), lat.end());
    st.latency_samples = lat.size();
    st.latency_p50 = pct(lat, 0.50);
    st.latency_p90 = pct(lat, 0.90);
    st.latency_p99 = pct(lat, 0.99);
    st.latency_max = lat.empty() ? 0 : lat.back();
  }
  return st;
}
}  // namespace

std::string stats_to_text(const TraceStats& s) {
  std::ostringstream o;
  auto section = [&](const char* title, const std::map<std::string, std::uint64_t>& m) {
    o << title << ":";
    if (m.empty()) o << " none";
    for (auto& [k, n] : m) o << "  " << k << " " << n;
    o << "\n";
  };
  o << "run: " << (s.complete ? "complete" : "INCOMPLETE (no end marker)") << ", "
    << format_duration(s.duration_ns) << "\n";
  o << "events " << s.events << ", contexts " << s.contexts << ", threads " << s.threads << ", waits "
    << s.waits << ", channels " << s.channels << "\n";
  section("events by type", s.events_by_type);
  section("contexts by kind", s.contexts_by_kind);
  section("cancel reasons", s.cancel_reasons);
  section("waits by object", s.waits_by_object);
  section("wait outcomes", s.wait_outcomes);
  o << "context depth: max " << s.max_depth << " (";
  bool first = true;
  for (auto& [d, n] : s.depth_histogram) {
    o << (first ? "" : ", ") << "depth " << d << ": " << n;
    first = false;
  }
  o << ")\n";
  o << "cancel latency (done -> wake-up, " << s.latency_samples << " waits): p50 "
    << format_duration(s.latency_p50) << ", p90 " << format_duration(s.latency_p90) << ", p99 "
    << format_duration(s.latency_p99) << ", max " << format_duration(s.latency_max) << "\n";
  return o.str();
}

std::string stats_to_json(const TraceStats& s) {
  nlohmann::ordered_json j;
  j["complete"] = s.complete;
  j["duration_ns"] = s.duration_ns;
  j["events"] = s.events;
  j["contexts"] = s.contexts;
  j["threads"] = s.threads;
  j["waits"] = s.waits;
  j["channels"] = s.channels;
  j["events_by_type"] = s.events_by_type;
  j["contexts_by_kind"] = s.contexts_by_kind;
  j["cancel_reasons"] = s.cancel_reasons;
  j["waits_by_object"] = s.waits_by_object;
  j["wait_outcomes"] = s.wait_outcomes;
  j["max_depth"] = s.max_depth;
  auto h = nlohmann::ordered_json::object();
  for (auto& [d, n] : s.depth_histogram) h[std::to_string(d)] = n;
  j["depth_histogram"] = h;
  j["cancel_latency_ns"] = {{"samples", s.latency_samples}, {"p50", s.latency_p50}, {"p90", s.latency_p90},
                            {"p99", s.latency_p99}, {"max", s.latency_max}};
  return j.dump(2) + "\n";
}

namespace {
// Chrome's "ts"/"dur" are microseconds; keep ns precision as decimals.
std::string us(std::int64_t ns) {
  char b[48];
  std::snprintf(b, sizeof b, "%lld.%03lld", static_cast<long long>(ns / 1000),
                static_cast<long long>((ns < 0 ? -ns : ns) % 1000));
  if (ns < 0 && ns > -1000) return std::string("-") + b;
  return b;
}
std::string js(const std::string& s) { return nlohmann::json(s).dump(); }
}  // namespace

namespace {
void export_chrome_sql(sqlite3* db, std::ostream& out) {
  ReadSnapshot snapshot(db);
  const detail::EnumTable names = detail::read_enum_table(db);
  std::int64_t end = 0;
  {
    Q q(db, "SELECT coalesce(end_ns, last_commit_ns, 0) FROM run LIMIT 1");
    if (q.step()) end = q.i64(0);
  }
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  out << "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":\"ctxscope trace\"}}";
  {
    Q q(db, "SELECT id, name FROM threads ORDER BY id");
    while (q.step()) {
      std::string name = q.null(1) ? (q.i64(0) == 1 ? "main" : "thread#" + std::to_string(q.i64(0))) : q.text(1);
      out << ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":" << q.i64(0)
          << ",\"name\":\"thread_name\",\"args\":{\"name\":" << js(name) << "}}";
    }
  }
  // Waits as complete slices on their thread's track.
  {
    Q q(db,
        "SELECT w.id, w.thread, w.object, w.label, w.begin_ns, w.end_ns, w.outcome, w.done_ctx, s.file, s.line "
        "FROM waits w LEFT JOIN sites s ON s.id = w.site ORDER BY w.id");
    while (q.step()) {
      const std::int64_t b = q.i64(4), e = q.null(5) ? end : q.i64(5);
      const std::string outcome = detail::enum_name(names, "wait_outcome", q.opt(6));
      std::string name = detail::enum_name(names, "wait_object", q.opt(2)) + (q.null(3) ? "" : " " + q.text(3));
      out << ",\n{\"ph\":\"X\",\"cat\":\"wait\",\"pid\":1,\"tid\":" << q.i64(1) << ",\"ts\":" << us(b)
          << ",\"dur\":" << us(std::max<std::int64_t>(e - b, 0)) << ",\"name\":" << js(name);
      out << ",\"args\":{\"wait\":" << q.i64(0) << ",\"outcome\":" << js(q.null(5) ? "still blocked" : outcome);
      if (!q.null(7)) out << ",\"done_ctx\":" << q.i64(7);
      if (!q.null(8)) out << ",\"site\":" << js(q.text(8) + ":" + std::to_string(q.i64(9)));
      out << "}}";
      // The cancel's arrow ends where the wait ended (a flow bound to the wait
      // slice itself would point at its start, before the cancel): a marker
      // at the wake-up, on the waiting thread.
      if (!q.null(7) && !q.null(5) && q.opt(6) == static_cast<int>(WaitOutcome::done))
        out << ",\n{\"ph\":\"X\",\"cat\":\"wake\",\"pid\":1,\"tid\":" << q.i64(1) << ",\"ts\":" << us(e)
            << ",\"dur\":0,\"name\":\"woken by cancel\",\"bind_id\":\"c" << q.i64(0) << "\",\"flow_in\":true}";
    }
  }
  // Contexts as async spans (creation → done, or the end of the run).
  {
    Q q(db,
        "SELECT c.id, c.kind, c.thread, c.created_ns, c.cancel_ns, c.cancel_reason, c.parent, s.file, s.line "
        "FROM contexts c LEFT JOIN sites s ON s.id = c.site WHERE c.created_ns IS NOT NULL ORDER BY c.id");
    while (q.step()) {
      const std::int64_t id = q.i64(0);
      const std::int64_t tid = q.null(2) ? 0 : q.i64(2);
      std::string name = "ctx#" + std::to_string(id) + " " + detail::enum_name(names, "kind", q.opt(1));
      out << ",\n{\"ph\":\"b\",\"cat\":\"context\",\"pid\":1,\"tid\":" << tid << ",\"id\":\"0x" << std::hex << id
          << std::dec << "\",\"ts\":" << us(q.i64(3)) << ",\"name\":" << js(name) << ",\"args\":{";
      out << "\"parent\":" << (q.null(6) ? 0 : q.i64(6));
      if (!q.null(7)) out << ",\"site\":" << js(q.text(7) + ":" + std::to_string(q.i64(8)));
      out << "}}";
      out << ",\n{\"ph\":\"e\",\"cat\":\"context\",\"pid\":1,\"tid\":" << tid << ",\"id\":\"0x" << std::hex << id
          << std::dec << "\",\"ts\":" << us(q.null(4) ? end : q.i64(4)) << ",\"name\":" << js(name)
          << ",\"args\":{\"done\":" << js(q.null(4) ? "never" : detail::enum_name(names, "cancel_reason", q.opt(5))) << "}}";
    }
  }
  // Cancel → wake-up flows: a marker slice at the cancel on the cancelling
  // thread, bound to the wait slice it woke.
  {
    Q q(db,
        "SELECT w.id, c.id, coalesce(c.cancel_thread, w.thread), c.cancel_ns FROM waits w JOIN contexts c ON "
        "c.id = w.done_ctx WHERE w.outcome = 2 /* done */ AND c.cancel_ns IS NOT NULL ORDER BY w.id");
    while (q.step()) {
      out << ",\n{\"ph\":\"X\",\"cat\":\"cancel\",\"pid\":1,\"tid\":" << q.i64(2) << ",\"ts\":" << us(q.i64(3))
          << ",\"dur\":0,\"name\":\"cancel ctx#" << q.i64(1) << "\",\"bind_id\":\"c" << q.i64(0)
          << "\",\"flow_out\":true}";
    }
  }
  out << "\n]}\n";
}
}  // namespace


// SQL errors of the queries above are the analysis library's errors to its callers.
TraceStats compute_stats(sqlite3* db) {
  try {
    return compute_stats_sql(db);
  } catch (const sql::Error& e) {
    throw AnalysisError(e.what());
  }
}

void export_chrome(sqlite3* db, std::ostream& out) {
  try {
    export_chrome_sql(db, out);
  } catch (const sql::Error& e) {
    throw AnalysisError(e.what());
  }
}

}  // namespace ctxscope::analysis
