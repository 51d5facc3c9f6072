// Scenario 4, fixed: every send selects on ctx.done() and the consumer cancels
// the pipeline's context when it returns, so every stage returns.
//
// Expected findings: none.  run_fixed waits until every stage has returned
// (`stages`) so the whole shutdown is in the trace.
#include <cstdio>
#include <string>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace pipeline {
namespace {

using namespace ctxscope;

// Endless: the consumer decides when to stop.
Chan<int> gen(const Context& ctx, WaitGroup stages) {
  Chan<int> out(0, "gen");
  stages.add(1);
  go(ctx, "gen", [ctx, out, stages]() mutable {
    for (int n = 1; !out.send(ctx, n); ++n) {
    }
    stages.done();
  });
  return out;
}

Chan<int> sq(const Context& ctx, const char* name, Chan<int> in, WaitGroup stages) {
  Chan<int> out(0, name);
  stages.add(1);
  go(ctx, name, [ctx, in, out, stages]() mutable {
    for (;;) {
      Received<int> n = in.recv(ctx);
      if (!n.ok() || out.send(ctx, *n.value * *n.value)) break;
    }
    stages.done();
  });
  return out;
}

Chan<int> merge(const Context& ctx, Chan<int> c1, Chan<int> c2, WaitGroup stages) {
  Chan<int> out(0, "merged");
  WaitGroup wg;
  wg.add(2);
  stages.add(3);
  for (Chan<int> c : {c1, c2})
    go(ctx, "forward", [ctx, c, out, wg, stages]() mutable {
      for (;;) {
        Received<int> v = c.recv(ctx);
        if (!v.ok() || out.send(ctx, *v.value)) break;
      }
      wg.done();
      stages.done();
    });
  go(ctx, "close-merged", [ctx, out, wg, stages]() mutable {
    if (!wg.wait(ctx)) out.close();
    stages.done();
  });
  return out;
}

}  // namespace

void run_fixed(const Options& o) {
  const Context root = background();
  WaitGroup stages;
  std::string got;
  {
    auto [ctx, cancel] = with_cancel(root);
    auto _ = defer(cancel);  // the consumer cancels the pipeline when it returns
    Chan<int> in = gen(ctx, stages);
    Chan<int> out = merge(ctx, sq(ctx, "sq-1", in, stages), sq(ctx, "sq-2", in, stages), stages);
    for (int i = 0; i < o.take; ++i) {
      Received<int> v = out.recv(ctx);
      if (!v.ok()) break;
      got += (got.empty() ? "" : ", ") + std::to_string(*v.value);
    }
  }
  std::printf("consumer took %s and returned, cancelling the pipeline\n", got.c_str());
  stages.wait(root);
  std::printf("every stage returned\n");
}

}  // namespace pipeline
