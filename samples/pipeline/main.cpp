// sample-pipeline: stages joined by channels, with fan-out and fan-in.
//   sample-pipeline [--mode=buggy|fixed] [--trace FILE] [--take=N]
#include <cstdio>

#include "sample.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "take", "[--take=3]");
  samples::TraceSession trace(args);
  pipeline::Options o;
  o.take = args.get("take", o.take, 1, 90);
  std::printf("pipeline (%s): gen -> sq x2 -> merge -> consumer, which takes %d values\n",
              args.buggy ? "buggy" : "fixed", o.take);
  if (args.buggy)
    pipeline::run_buggy(o);
  else
    pipeline::run_fixed(o);
  return 0;
}
