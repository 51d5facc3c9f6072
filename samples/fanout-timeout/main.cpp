// sample-fanout-timeout: one request fans out to concurrent tasks under one deadline.
//   sample-fanout-timeout [--mode=buggy|fixed] [--trace FILE] [--deadline-ms=N] [--fail-authz=0|1]
#include <cstdio>

#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace fanout_timeout {

void start_log_source(const char* name, std::chrono::milliseconds latency, ctxscope::Chan<std::string> out) {
  ctxscope::go(ctxscope::background(), name, [name, latency, out]() mutable {
    samples::external_delay(latency);
    out.try_send(std::string(name) + ": 3 lines");
  });
}

}  // namespace fanout_timeout

int main(int argc, char** argv) {
  const samples::Args args =
      samples::parse_args(argc, argv, "deadline-ms,fail-authz", "[--deadline-ms=200] [--fail-authz=0|1]");
  samples::TraceSession trace(args);
  fanout_timeout::Options o;
  o.deadline = std::chrono::milliseconds(args.get("deadline-ms", o.deadline.count()));
  o.fail_authz = args.get("fail-authz", 0) != 0;
  std::printf("fanout-timeout (%s): deadline %lld ms; authorize || (db -> pod status -> events) || logs(a, b)%s\n",
              args.buggy ? "buggy" : "fixed", static_cast<long long>(o.deadline.count()),
              o.fail_authz ? "; authorization fails" : "");
  if (args.buggy)
    fanout_timeout::run_buggy(o);
  else
    fanout_timeout::run_fixed(o);
  return 0;
}
