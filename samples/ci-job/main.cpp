// sample-ci-job: a waiter that never listens for cancellation.
//   sample-ci-job [--mode=buggy|fixed] [--trace FILE] [--deadline-ms=N] [--job-ms=N]
#include <cstdio>

#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace ci_job {

Job start_job(std::string name, std::chrono::milliseconds takes) {
  Job job{std::move(name), ctxscope::Chan<int>(0, "job.finished")};
  ctxscope::go(ctxscope::background(), "job-runner", [finished = job.finished, takes]() mutable {
    samples::external_delay(takes);
    finished.close();
  });
  return job;
}

}  // namespace ci_job

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "deadline-ms,job-ms", "[--deadline-ms=100] [--job-ms=2000]");
  samples::TraceSession trace(args);
  ci_job::Options o;
  o.deadline = std::chrono::milliseconds(args.get("deadline-ms", o.deadline.count()));
  o.job_takes = std::chrono::milliseconds(args.get("job-ms", o.job_takes.count()));
  std::printf("ci-job (%s): the job takes %lld ms, the caller waits at most %lld ms\n",
              args.buggy ? "buggy" : "fixed", static_cast<long long>(o.job_takes.count()),
              static_cast<long long>(o.deadline.count()));
  if (args.buggy)
    ci_job::run_buggy(o);
  else
    ci_job::run_fixed(o);
  return 0;
}
