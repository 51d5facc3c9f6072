// Channel benchmarks, mirroring bench/go/chan_test.go.  Both use a second
// thread (std::thread; the Go peers a goroutine) and report real time.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include <sys/resource.h>
#include <time.h>

#include "ctxscope/chan.hpp"

namespace ctx = ctxscope;

namespace {

constexpr std::size_t kBufferedCap = 128;

/// CPU time of the whole process (every thread: the partner's spinning shows
/// here, not in the benchmarking thread's cpu_time) and the context switches
/// (voluntary: blocking in the kernel) over a benchmark run, reported per
/// iteration next to the wall time: `proc_cpu_ns` and `vcsw`.
class ProcessCpuWindow {
 public:
  explicit ProcessCpuWindow(benchmark::State& s) : s_(s), cpu0_(cpu_ns()), csw0_(vcsw()) {}
  void report() {
    const double n = static_cast<double>(s_.iterations() ? s_.iterations() : 1);
    s_.counters["proc_cpu_ns"] = static_cast<double>(cpu_ns() - cpu0_) / n;
    s_.counters["vcsw"] = static_cast<double>(vcsw() - csw0_) / n;
  }

 private:
  static std::int64_t cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  static long vcsw() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw + ru.ru_nivcsw;
  }
  benchmark::State& s_;
  std::int64_t cpu0_;
  long csw0_;
};

// A producer thread streams max_iterations ints through Chan<int>(128) to the
// benchmarking thread.  Time per op is per element.
void ChanBufferedThroughput(benchmark::State& state) {
  ctx::Chan<int> ch(kBufferedCap);
  const std::int64_t n = state.max_iterations;
  ProcessCpuWindow cpu(state);
  std::thread producer([ch, n]() mutable {
    for (std::int64_t i = 0; i < n; ++i) ch.send(static_cast<int>(i));
    ch.close();
  });
  std::int64_t sum = 0;
  for (auto _ : state) {
    auto v = ch.recv();
    sum += *v;
  }
  if (ch.recv().has_value()) state.SkipWithError("extra value");
  producer.join();
  cpu.report();
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(ChanBufferedThroughput)->UseRealTime();

// Ping-pong over two unbuffered channels with an echo thread.  Time per op is
// one round trip (two rendezvous).
void ChanUnbufferedPingPong(benchmark::State& state) {
  ctx::Chan<int> ping;
  ctx::Chan<int> pong;
  ProcessCpuWindow cpu(state);
  std::thread echo([ping, pong]() mutable {
    while (auto v = ping.recv()) pong.send(*v);
    pong.close();
  });
  int i = 0;
  for (auto _ : state) {
    ping.send(i);
    auto v = pong.recv();
    if (!v || *v != i) {
      state.SkipWithError("wrong value");
      break;
    }
    ++i;
  }
  ping.close();
  while (pong.recv()) {
  }
  echo.join();
  cpu.report();
}
BENCHMARK(ChanUnbufferedPingPong)->UseRealTime();

// Peer for the ping-pong: the cheapest blocking handoff between two OS threads
// the standard library offers (C++20 atomic wait/notify: a short spin, then a
// futex).  It is the floor for any channel built on OS threads on this machine;
// Go's peer switches goroutines on one OS thread instead.
void StdAtomicWaitPingPong(benchmark::State& state) {
  constexpr std::uint32_t kStop = UINT32_MAX;
  std::atomic<std::uint32_t> ping{0};
  std::atomic<std::uint32_t> pong{0};
  ProcessCpuWindow cpu(state);
  std::thread echo([&] {
    std::uint32_t seen = 0;
    for (;;) {
      ping.wait(seen, std::memory_order_acquire);
      seen = ping.load(std::memory_order_acquire);
      if (seen == kStop) return;
      pong.store(seen, std::memory_order_release);
      pong.notify_one();
    }
  });
  std::uint32_t i = 0;
  for (auto _ : state) {
    ++i;
    ping.store(i, std::memory_order_release);
    ping.notify_one();
    for (std::uint32_t v; (v = pong.load(std::memory_order_acquire)) != i;) pong.wait(v, std::memory_order_acquire);
  }
  ping.store(kStop, std::memory_order_release);
  ping.notify_one();
  echo.join();
  cpu.report();
}
BENCHMARK(StdAtomicWaitPingPong)->UseRealTime();

}  // namespace
