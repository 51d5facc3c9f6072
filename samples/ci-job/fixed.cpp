// Scenario 1, fixed: the waiter selects on job.finished and ctx.done(), and
// returns ctx.err() when the caller's deadline passes first.
//
// Expected findings: none.  The waiter returns within microseconds of the
// deadline (no late-exit), and run_fixed waits for its outcome before the end
// of the trace (no stuck wait).
#include <cstdio>
#include <optional>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace ci_job {
namespace {

using namespace ctxscope;

// Waits for the job, or for the caller's context, whichever comes first.
std::error_code wait_for_job(const Context& ctx, const Job& job) {
  std::optional<int> ignored;
  if (select(job.finished.on_recv(ignored), ctx.done()) == 1) return ctx.err();
  return {};
}

// `waiter_left` is done when the waiter thread has returned.
std::error_code run_job(const Context& parent, const Job& job, Clock::duration deadline, WaitGroup waiter_left) {
  auto [ctx, cancel] = with_timeout(parent, deadline);
  auto _ = defer(cancel);
  Chan<std::error_code> outcome(1, "wait-job outcome");
  waiter_left.add(1);
  go(ctx, "wait-job", [ctx = ctx, job, outcome, waiter_left]() mutable {
    outcome.try_send(wait_for_job(ctx, job));
    waiter_left.done();
  });
  Received<std::error_code> r = outcome.recv(ctx);
  return r.err ? r.err : *r.value;
}

}  // namespace

void run_fixed(const Options& o) {
  const auto t0 = Clock::now();
  const Context root = background();
  Job job = start_job("build #42", o.job_takes);
  WaitGroup waiter_left;
  const std::error_code err = run_job(root, job, o.deadline, waiter_left);
  std::printf("caller: gave up on job '%s' after %ld ms: %s\n", job.name.c_str(), samples::ms_since(t0),
              err ? err.message().c_str() : "finished");
  waiter_left.wait(root);
  std::printf("waiter: returned after %ld ms, as soon as the context was done\n", samples::ms_since(t0));
}

}  // namespace ci_job
