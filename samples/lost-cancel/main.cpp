// sample-lost-cancel: cancel functions that are discarded or skipped.
//   sample-lost-cancel [--mode=buggy|fixed] [--trace FILE]
#include <cstdio>

#include "sample.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "", "");
  samples::TraceSession trace(args);
  std::printf("lost-cancel (%s): a cache-backed lookup service under a server context\n",
              args.buggy ? "buggy" : "fixed");
  if (args.buggy)
    lost_cancel::run_buggy({});
  else
    lost_cancel::run_fixed({});
  return 0;
}
