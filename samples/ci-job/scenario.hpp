// Scenario 1, ci-job: a CI/CD job runner waits for a job's "finished"
// channel under the caller's deadline (seed: the Tau monkey protocol fix).
#pragma once

#include <chrono>
#include <string>
#include <system_error>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>

namespace ci_job {

struct Options {
  std::chrono::milliseconds deadline{100};   ///< the caller's patience
  std::chrono::milliseconds job_takes{2000};  ///< the job is delayed past it
};

/// A job running elsewhere: `finished` is closed when it ends.  The job does
/// not know about the caller's context (it is another system).
struct Job {
  std::string name;
  ctxscope::Chan<int> finished;
};

/// Starts the job on its own thread (main.cpp).
Job start_job(std::string name, std::chrono::milliseconds takes);

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace ci_job
