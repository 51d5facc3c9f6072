// Scenario 1, buggy: the waiter receives on job.finished alone, so it stays
// blocked after the caller's deadline and leaks.
//
// Expected findings (dynamic): blind-wait and stuck-wait at the receive.
//
// Determinism: the waiter's blind receive begins as soon as its thread runs,
// long before the 100 ms deadline, and the job takes 2 s, so the receive is
// still blocked when the deadline fires and when the trace ends.  After the
// caller gives up, run_buggy settle()s: at least 200 ms (four times the
// analyzer's default grace after the deadline) and until every other thread
// is asleep in the kernel, i.e. the waiter is parked in its receive.  Nothing
// races: no event of interest depends on two sleeps finishing in some order.
#include <cstdio>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace ci_job {
namespace {

using namespace ctxscope;
using namespace std::chrono_literals;

// BUG: takes no context and waits on the job's channel alone.  When the
// caller's deadline passes nothing wakes it: the thread leaks until the job
// ends, if it ever does.
std::error_code wait_for_job(Job job) {
  job.finished.recv();  // trace-expect: blind-wait
  return {};
}

// The runner: waits for the job under a deadline, reports through `outcome`.
std::error_code run_job(const Context& parent, const Job& job, Clock::duration deadline,
                        Chan<std::error_code> outcome) {
  auto [ctx, cancel] = with_timeout(parent, deadline);
  auto _ = defer(cancel);
  go(ctx, "wait-job", [job, outcome]() mutable { outcome.try_send(wait_for_job(job)); });
  Received<std::error_code> r = outcome.recv(ctx);
  return r.err ? r.err : *r.value;
}

}  // namespace

void run_buggy(const Options& o) {
  const auto t0 = Clock::now();
  Job job = start_job("build #42", o.job_takes);
  Chan<std::error_code> outcome(1, "wait-job outcome");
  const std::error_code err = run_job(background(), job, o.deadline, outcome);
  std::printf("caller: gave up on job '%s' after %ld ms: %s\n", job.name.c_str(), samples::ms_since(t0),
              err ? err.message().c_str() : "finished");
  samples::settle(200ms);
  if (auto r = outcome.try_recv())
    std::printf("waiter: returned after %ld ms\n", samples::ms_since(t0));
  else
    std::printf("waiter: still blocked on job.finished after %ld ms: it never looked at ctx.done(), "
                "so the thread leaks\n",
                samples::ms_since(t0));
}

}  // namespace ci_job
