// Scenario 3, fixed: the results channel has one slot per replica, so a loser's
// send never blocks after the caller left; the cancel still cuts their queries
// short.
//
// Expected findings: none.
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

Result query_replica(const Context& ctx, int i) {
  if (std::error_code err = sleep_for(ctx, latency(i))) return {i, {}, err};
  return {i, "answer from replica " + std::to_string(i), {}};
}

// `finished` is done when a replica thread has delivered its result.
Result first(const Context& parent, int n, WaitGroup finished) {
  auto [ctx, cancel] = with_cancel(parent);
  auto _ = defer(cancel);
  Chan<Result> results(static_cast<std::size_t>(n), "results");  // room for every replica's answer
  finished.add(n);
  for (int i = 0; i < n; ++i)
    go(parent, "replica-" + std::to_string(i), [ctx = ctx, i, results, finished]() mutable {
      results.try_send(query_replica(ctx, i));  // never fails: one slot per replica
      finished.done();
    });
  return *results.recv(ctx).value;
}

}  // namespace

void run_fixed(const Options& o) {
  const auto t0 = Clock::now();
  const Context root = background();
  WaitGroup finished;
  const Result r = first(root, o.replicas, finished);
  std::printf("first answer after %ld ms: %s\n", samples::ms_since(t0), r.answer.c_str());
  finished.wait(root);
  std::printf("all %d replicas returned after %ld ms: the losers were cancelled and their results "
              "dropped into the buffer\n",
              o.replicas, samples::ms_since(t0));
}

}  // namespace first_response
