// Channel benchmarks, mirroring bench/go/chan_test.go.  Both use a second
// thread (std::thread; the Go peers a goroutine) and report real time.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "ctxscope/chan.hpp"

namespace ctx = ctxscope;

namespace {

constexpr std::size_t kBufferedCap = 128;

// A producer thread streams max_iterations ints through Chan<int>(128) to the
// benchmarking thread.  Time per op is per element.
void ChanBufferedThroughput(benchmark::State& state) {
  ctx::Chan<int> ch(kBufferedCap);
  const std::int64_t n = state.max_iterations;
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
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(ChanBufferedThroughput)->UseRealTime();

// Ping-pong over two unbuffered channels with an echo thread.  Time per op is
// one round trip (two rendezvous).
void ChanUnbufferedPingPong(benchmark::State& state) {
  ctx::Chan<int> ping;
  ctx::Chan<int> pong;
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
}
BENCHMARK(StdAtomicWaitPingPong)->UseRealTime();

}  // namespace
