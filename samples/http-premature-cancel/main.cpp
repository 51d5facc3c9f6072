// sample-http-premature-cancel: cancel runs before the body is read.
//   sample-http-premature-cancel [--mode=buggy|fixed] [--trace FILE] [--chunks=N]
#include <cstdio>

#include "sample.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "chunks", "[--chunks=8]");
  samples::TraceSession trace(args);
  http_premature_cancel::Options o;
  o.chunks = args.get("chunks", o.chunks, 1, 50);
  std::printf("http-premature-cancel (%s): GET with a 1 h timeout, body of %d chunks\n",
              args.buggy ? "buggy" : "fixed", o.chunks);
  if (args.buggy)
    http_premature_cancel::run_buggy(o);
  else
    http_premature_cancel::run_fixed(o);
  return 0;
}
