// ctxscope_bench_runtime's main: measures the footprint figures once, in a
// fresh process before any benchmark has started a thread, and publishes them
// in the benchmark context (JSON "context" object, console header):
//   threads_*            entries of /proc/self/task around 10,000 timeout
//                        contexts (target: at most +1, the shared timer thread)
//   with_cancel_*        heap bytes per live with_cancel context (target <= 128)
//   with_timeout_*       the same for with_timeout (informative)
// then runs the benchmarks as BENCHMARK_MAIN would.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "ctxscope/context.hpp"

namespace ctx = ctxscope;
using namespace std::chrono_literals;

namespace {

constexpr int kContexts = 10000;

int count_threads() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

void publish(const std::string& key, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  benchmark::AddCustomContext(key, buf);
}

// No thread per context: 10,000 timeout children of background, then 10,000
// timeout children of a cancelable parent cancelled through that parent.
void measure_threads() {
  const int before = count_threads();
  std::vector<ctx::Context> ctxs;
  std::vector<ctx::CancelFunc> cancels;
  ctxs.reserve(2 * kContexts);
  cancels.reserve(2 * kContexts);
  for (int i = 0; i < kContexts; ++i) {
    auto [c, f] = ctx::with_timeout(ctx::background(), 1h);
    ctxs.push_back(std::move(c));
    cancels.push_back(std::move(f));
  }
  const int after_create = count_threads();
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  for (int i = 0; i < kContexts; ++i) {
    auto [c, f] = ctx::with_timeout(parent, 1h);
    ctxs.push_back(std::move(c));
    cancels.push_back(std::move(f));
  }
  cancel_parent();
  const int after_parent_cancel = count_threads();
  for (auto& f : cancels) f();
  publish("threads_before", before);
  publish("threads_after_10k_timeouts", after_create);
  publish("threads_after_parent_cancel_10k_timeout_children", after_parent_cancel);
  std::fprintf(stderr, "threads: before %d, after 10k with_timeout %d, after cancelling a parent of 10k %d\n",
               before, after_create, after_parent_cancel);
}

// Heap bytes per live context: `kContexts` children of one cancelable parent
// kept alive; the handle vectors are reserved before the window opens.
template <class Make>
void measure_bytes(const char* name, Make make) {
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  std::vector<ctx::Context> ctxs;
  std::vector<ctx::CancelFunc> cancels;
  ctxs.reserve(kContexts);
  cancels.reserve(kContexts);
  bench::set_measure_usable(true);
  const bench::AllocStats s0 = bench::thread_alloc_stats();
  for (int i = 0; i < kContexts; ++i) {
    auto [c, f] = make(parent);
    ctxs.push_back(std::move(c));
    cancels.push_back(std::move(f));
  }
  const bench::AllocStats s1 = bench::thread_alloc_stats();
  bench::set_measure_usable(false);
  const double n = kContexts;
  const double requested = static_cast<double>(s1.bytes - s0.bytes) / n;
  const double allocs = static_cast<double>(s1.calls - s0.calls) / n;
  const double usable =
      (static_cast<double>(s1.usable_alloc - s0.usable_alloc) - static_cast<double>(s1.usable_freed - s0.usable_freed)) / n;
  const std::string k(name);
  publish(k + "_requested_bytes", requested);
  publish(k + "_usable_bytes", usable);
  publish(k + "_allocs", allocs);
  std::fprintf(stderr, "%s: %.1f allocs, %.1f bytes requested, %.1f bytes malloc_usable_size per live context\n",
               name, allocs, requested, usable);
  for (auto& f : cancels) f();
  cancel_parent();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  measure_threads();
  measure_bytes("with_cancel", [](const ctx::Context& p) { return ctx::with_cancel(p); });
  measure_bytes("with_timeout", [](const ctx::Context& p) { return ctx::with_timeout(p, 1h); });
  publish("sizeof_CancelNode", sizeof(ctx::detail::CancelNode));
  publish("sizeof_TimerNode", sizeof(ctx::detail::TimerNode));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
