// sample-first-response: ask N replicas, keep the first answer.
//   sample-first-response [--mode=buggy|fixed] [--trace FILE] [--replicas=N]
#include <cstdio>

#include "sample.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "replicas", "[--replicas=3]");
  samples::TraceSession trace(args);
  first_response::Options o;
  o.replicas = args.get("replicas", o.replicas, 1, 64);
  std::printf("first-response (%s): asking %d replicas, keeping the first answer\n",
              args.buggy ? "buggy" : "fixed", o.replicas);
  if (args.buggy)
    first_response::run_buggy(o);
  else
    first_response::run_fixed(o);
  return 0;
}
