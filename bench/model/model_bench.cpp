// ctxscope-bench-model — the trace model's figures (issue targets in
// docs/performance.md#trace-model), side by side in one run:
//
//   ctxscope-bench-model TRACE.db [REPEATS]
//       one scan of the stored events (bench_util.hpp: every block read and
//       decoded) vs TraceModel::load,
//       alternating, medians; resident memory of the loaded model
//   ctxscope-bench-model --scan TRACE.db
//       the reference scan alone (bench_analyzer.sh times it)
//   ctxscope-bench-model --live N_REQUESTS
//       records a trace with the real recorder while following it: a
//       TraceModel::update() of ~1,000 new events after N requests loaded
//
// Needs a Release build (-DCTXSCOPE_BUILD_BENCH=ON).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"

namespace {
using ctxscope::bench::Clock;
using ctxscope::bench::median;
using ctxscope::bench::ms_since;
using ctxscope::bench::rss_kb;

ctxscope::trace::TraceReader open(const std::string& path) {
  std::string err;
  auto r = ctxscope::trace::TraceReader::open(path, &err, /*quick_check=*/false);
  if (!r) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(2);
  }
  return std::move(*r);
}

int file_mode(const std::string& path, int reps) {
  auto reader = open(path);
  std::vector<double> scan, load, load1;
  long long events = 0;
  std::size_t model_bytes = 0;
  long rss_before = 0, rss_after = 0;
  ctxscope::analysis::LoadOptions one;
  one.parallel = false;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    events = ctxscope::bench::scan_events(reader.db());
    scan.push_back(ms_since(t0));
    rss_before = rss_kb();
    t0 = Clock::now();
    {
      auto m = ctxscope::analysis::TraceModel::load(reader.db());
      load.push_back(ms_since(t0));
      rss_after = rss_kb();
      model_bytes = m.memory_bytes();
    }
    t0 = Clock::now();
    { auto m = ctxscope::analysis::TraceModel::load(reader.db(), one); }
    load1.push_back(ms_since(t0));
  }
  const double s = median(scan), l = median(load), l1 = median(load1);
  std::printf("trace model: %lld events, %d runs each, interleaved, medians\n", events, reps);
  std::printf("  scan of the events  %9.1f ms\n", s);
  std::printf("  TraceModel::load    %9.1f ms   %.2fx the scan (target <= 2x)\n", l, l / s);
  std::printf("    one connection    %9.1f ms   %.2fx the scan (LoadOptions::parallel = false)\n", l1, l1 / s);
  std::printf("  resident            %9.1f MB   (RSS growth while loaded; model's own count %.1f MB; target <= 150 MB at 1M)\n",
              static_cast<double>(rss_after - rss_before) / 1024, static_cast<double>(model_bytes) / 1e6);
  return 0;
}

// One request: a cancel context with a value child and a timeout child, all cancelled.
void request(const ctxscope::Context& root) {
  auto [c, cancel] = ctxscope::with_cancel(root);
  auto [t, cancel_t] = ctxscope::with_timeout(c, std::chrono::seconds(30));
  cancel_t();
  cancel();
}

int live_mode(long requests) {
  const auto path = (std::filesystem::temp_directory_path() / "ctxscope-bench-model-live.db").string();
  std::filesystem::remove(path);
  std::string err;
  if (!ctxscope::trace::start(path, {}, &err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 2;
  }
  auto [root, cancel_root] = ctxscope::with_cancel(ctxscope::background());
  for (long i = 0; i < requests; ++i) request(root);
  ctxscope::trace::flush();
  auto reader = open(path);
  auto t0 = Clock::now();
  auto m = ctxscope::analysis::TraceModel::load(reader.db());
  const double load_ms = ms_since(t0);
  const auto events0 = m.run().events;
  std::vector<double> upd;
  std::uint64_t per_update = 0;
  for (int round = 0; round < 40; ++round) {  // 20,000 contexts: across chunk boundaries of every array
    const auto before = m.run().events;
    for (int i = 0; i < 250; ++i) request(root);  // ~1,000 events (4 rows a request)
    ctxscope::trace::flush();
    t0 = Clock::now();
    const auto d = m.update(reader.db());
    upd.push_back(ms_since(t0));
    per_update = m.run().events - before;
    if (d.new_contexts.size() != 500) std::fprintf(stderr, "warning: %zu new contexts\n", d.new_contexts.size());
  }
  cancel_root();
  ctxscope::trace::stop();
  std::printf("trace model, live: %llu events loaded in %.1f ms (%zu contexts)\n",
              static_cast<unsigned long long>(events0), load_ms, m.contexts().size());
  std::printf("  update of %llu new events: median %.2f ms, max %.2f ms (target <= 5 ms); each:",
              static_cast<unsigned long long>(per_update), median(upd), *std::max_element(upd.begin(), upd.end()));
  for (double u : upd) std::printf(" %.2f", u);
  std::printf("\n");
  std::filesystem::remove(path);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--live") return live_mode(std::atol(argv[2]));
  if (argc == 3 && std::string(argv[1]) == "--scan") {  // the reference scan alone, for bench_analyzer.sh
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "ctxscope-bench-model: %s: cannot open\n", argv[2]);
      return 2;
    }
    std::printf("%lld events\n", ctxscope::bench::scan_events(db));
    sqlite3_close(db);
    return 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: ctxscope-bench-model TRACE.db [REPEATS] | --live N_REQUESTS | --scan TRACE.db\n");
    return 2;
  }
  return file_mode(argv[1], argc > 2 ? std::atoi(argv[2]) : 5);
}
