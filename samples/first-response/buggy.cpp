// Scenario 3, buggy: the replicas answer on an unbuffered channel; the caller
// takes the first answer and leaves (cancelling the others, `defer cancel`),
// so every loser blocks forever on its send: nobody will ever receive.
//
// Expected findings (dynamic): stuck-wait at the send, one per loser (N-1 = 2
// with the default 3 replicas).
//
// The replica threads are attributed to the caller's context (`parent`, never
// cancelled) while their query observes the per-call `ctx`.  So the losers'
// sends are plain leaks (stuck-wait), not waits of a cancelled goroutine
// (no blind-wait, no late-exit).
//
// Determinism: the winner answers after 50 ms, the losers' queries take 400 ms
// and more, so the cancel always cuts them short and they always reach the
// send.  Each replica signals `reached` just before its send; run_buggy waits
// for all of them, then settle()s until every other thread is asleep (the
// losers are parked in their sends) before the trace is flushed.
#include <cstdio>
#include <string>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace first_response {
namespace {

using namespace ctxscope;
using namespace std::chrono_literals;

Result query_replica(const Context& ctx, int i) {
  if (std::error_code err = sleep_for(ctx, latency(i))) return {i, {}, err};
  return {i, "answer from replica " + std::to_string(i), {}};
}

// `reached` is sample scaffolding: done when a replica is about to send.
Result first(const Context& parent, int n, WaitGroup reached) {
  auto [ctx, cancel] = with_cancel(parent);
  auto _ = defer(cancel);
  Chan<Result> results(0, "results");  // BUG: unbuffered, and only one answer is ever received
  reached.add(n);
  for (int i = 0; i < n; ++i)
    go(parent, "replica-" + std::to_string(i), [ctx = ctx, i, results, reached]() mutable {
      Result r = query_replica(ctx, i);
      reached.done();
      results.send(r);  // trace-expect: stuck-wait x2
    });
  return *results.recv(ctx).value;
}

}  // namespace

void run_buggy(const Options& o) {
  const auto t0 = Clock::now();
  const Context root = background();
  WaitGroup reached;
  const Result r = first(root, o.replicas, reached);
  std::printf("first answer after %ld ms: %s\n", samples::ms_since(t0), r.answer.c_str());
  reached.wait(root);
  samples::settle(100ms);
  std::printf("the %d losing replicas were cancelled, then blocked forever sending their result on an "
              "unbuffered channel nobody reads\n",
              o.replicas - 1);
}

}  // namespace first_response
