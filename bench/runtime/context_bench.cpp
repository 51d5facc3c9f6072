// Context benchmarks.  Each mirrors the Go benchmark of the same name in
// bench/go/context_test.go; the Std* ones are the standard-library peers the
// targets are stated against (std::stop_source / std::stop_token).
// Run with no trace sink installed: this is the cost every user pays.
#include <benchmark/benchmark.h>

#include <chrono>
#include <stop_token>
#include <vector>

#include "alloc_counter.hpp"
#include "ctxscope/context.hpp"

namespace ctx = ctxscope;
using namespace std::chrono_literals;

namespace {

constexpr int kTreeChildren = 10000;

/// Reports allocs/op and B/op (requested) like Go's -benchmem, for the
/// benchmarking thread.
class AllocWindow {
 public:
  explicit AllocWindow(benchmark::State& s) : s_(s), start_(bench::thread_alloc_stats()) {}
  void report() {
    auto end = bench::thread_alloc_stats();
    s_.counters["allocs/op"] =
        benchmark::Counter(static_cast<double>(end.calls - start_.calls), benchmark::Counter::kAvgIterations);
    s_.counters["B/op"] =
        benchmark::Counter(static_cast<double>(end.bytes - start_.bytes), benchmark::Counter::kAvgIterations);
  }

 private:
  benchmark::State& s_;
  bench::AllocStats start_;
};

// with_cancel + cancel with a live cancelable parent: the child links into the
// parent's listener list and unlinks on cancel.
void WithCancelFromCancelableParent(benchmark::State& state) {
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  AllocWindow w(state);
  for (auto _ : state) {
    auto [c, cancel] = ctx::with_cancel(parent);
    cancel();
    benchmark::DoNotOptimize(c);
  }
  w.report();
  cancel_parent();
}
BENCHMARK(WithCancelFromCancelableParent);

// Not a target: a child of background() (no registration with a parent).
void WithCancelFromBackground(benchmark::State& state) {
  AllocWindow w(state);
  for (auto _ : state) {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    cancel();
    benchmark::DoNotOptimize(c);
  }
  w.report();
}
BENCHMARK(WithCancelFromBackground);

// Peer: the C++20 primitive with_cancel is measured against.
void StdStopSourceCreateRequestStop(benchmark::State& state) {
  AllocWindow w(state);
  for (auto _ : state) {
    std::stop_source s;
    s.request_stop();
    benchmark::DoNotOptimize(s);
  }
  w.report();
}
BENCHMARK(StdStopSourceCreateRequestStop);

// Peer with a parent: a stop_source chained to a parent token through a
// stop_callback (what hand-rolled propagation with std:: looks like).
void StdStopSourceChildOfToken(benchmark::State& state) {
  std::stop_source parent;
  std::stop_token ptok = parent.get_token();
  AllocWindow w(state);
  for (auto _ : state) {
    std::stop_source s;
    std::stop_callback cb(ptok, [&s]() noexcept { s.request_stop(); });
    s.request_stop();
    benchmark::DoNotOptimize(s);
  }
  w.report();
}
BENCHMARK(StdStopSourceChildOfToken);

// Only the parent's cancel is timed; the 10,000 live children are built and
// torn down with the timer paused.
void CancelParent10kChildren(benchmark::State& state) {
  std::vector<ctx::Context> kids;
  std::vector<ctx::CancelFunc> cancels;
  kids.reserve(kTreeChildren);
  cancels.reserve(kTreeChildren);
  ctx::Context parent;
  ctx::CancelFunc cancel_parent;
  for (auto _ : state) {
    state.PauseTiming();
    std::tie(parent, cancel_parent) = ctx::with_cancel(ctx::background());
    for (int i = 0; i < kTreeChildren; ++i) {
      auto [c, f] = ctx::with_cancel(parent);
      kids.push_back(std::move(c));
      cancels.push_back(std::move(f));
    }
    state.ResumeTiming();
    cancel_parent();
    state.PauseTiming();
    if (!kids.back().err()) state.SkipWithError("child not cancelled by its parent");
    for (auto& f : cancels) f();  // no-ops, as in the Go peer
    cancels.clear();
    kids.clear();
    parent = ctx::Context();
    cancel_parent = ctx::CancelFunc();
    state.ResumeTiming();
  }
}
BENCHMARK(CancelParent10kChildren)->Unit(benchmark::kMicrosecond)->MinTime(0.3);

// The whole tree: build 10,000 children, cancel the parent, drop everything.
void Tree10kCreateAndCancel(benchmark::State& state) {
  std::vector<ctx::Context> kids;
  std::vector<ctx::CancelFunc> cancels;
  kids.reserve(kTreeChildren);
  cancels.reserve(kTreeChildren);
  AllocWindow w(state);
  for (auto _ : state) {
    auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
    for (int i = 0; i < kTreeChildren; ++i) {
      auto [c, f] = ctx::with_cancel(parent);
      kids.push_back(std::move(c));
      cancels.push_back(std::move(f));
    }
    cancel_parent();
    cancels.clear();
    kids.clear();
  }
  w.report();
}
BENCHMARK(Tree10kCreateAndCancel)->Unit(benchmark::kMicrosecond);

// err() on a live cancelable context.
void ErrLive(benchmark::State& state) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  for (auto _ : state) {
    std::error_code e = c.err();
    benchmark::DoNotOptimize(e);
  }
  cancel();
}
BENCHMARK(ErrLive);

// is_done() on a live cancelable context: the bool done check.
void IsDoneLive(benchmark::State& state) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  for (auto _ : state) {
    bool r = c.is_done();
    benchmark::DoNotOptimize(r);
  }
  cancel();
}
BENCHMARK(IsDoneLive);

// Peer: one atomic load.
void StdStopTokenStopRequested(benchmark::State& state) {
  std::stop_source s;
  std::stop_token t = s.get_token();
  for (auto _ : state) {
    bool r = t.stop_requested();
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(StdStopTokenStopRequested);

// done().ready() on a live context: the select-free done check (Go peer:
// a select on ctx.Done() with a default case).
void DoneReadyLive(benchmark::State& state) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  for (auto _ : state) {
    bool r = c.done().ready();
    benchmark::DoNotOptimize(r);
  }
  cancel();
}
BENCHMARK(DoneReadyLive);

// with_timeout + cancel, one pair per op, one thread.
void WithTimeoutCancelPair(benchmark::State& state) {
  AllocWindow w(state);
  for (auto _ : state) {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), 1h);
    cancel();
    benchmark::DoNotOptimize(c);
  }
  w.report();
}
BENCHMARK(WithTimeoutCancelPair);

// Go's context.BenchmarkWithTimeout, concurrency=40: 40 timers pending, then
// two threads (GOMAXPROCS=2 in the Go run) each create 10 timeout contexts and
// cancel them per op.  Real time per op is per 10 pairs.
std::vector<ctx::Context> g_pending_ctx;
std::vector<ctx::CancelFunc> g_pending_cancel;

void WithTimeout(benchmark::State& state) {
  constexpr int kConcurrentContexts = 40;
  if (state.thread_index() == 0) {
    for (int i = 0; i < kConcurrentContexts; ++i) {
      auto [c, f] = ctx::with_timeout(ctx::background(), 1h);
      g_pending_ctx.push_back(std::move(c));
      g_pending_cancel.push_back(std::move(f));
    }
  }
  ctx::Context wc[10];
  ctx::CancelFunc wcf[10];
  for (auto _ : state) {
    for (int i = 0; i < 10; ++i) std::tie(wc[i], wcf[i]) = ctx::with_timeout(ctx::background(), 1h);
    for (auto& f : wcf) f();
  }
  if (state.thread_index() == 0) {
    for (auto& f : g_pending_cancel) f();
    g_pending_cancel.clear();
    g_pending_ctx.clear();
  }
}
BENCHMARK(WithTimeout)->Threads(2)->UseRealTime();

}  // namespace
