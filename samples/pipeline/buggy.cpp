// Scenario 4, buggy: the stages only send.  Once the consumer stops reading,
// every upstream sender blocks forever, and so does merge's closer.
//
// Expected findings (dynamic): stuck-wait at gen's send (1), at sq's send (2,
// one per worker), at merge's forwarding send (2, one per input) and at merge's
// closer, whose WaitGroup never reaches zero (1).
//
// Determinism: the final state does not depend on scheduling.  gen has 100
// numbers, far more than the consumer takes, and every channel is unbuffered,
// so the pipeline can only stop when each forwarder holds a value it cannot
// deliver (nobody reads `out`), each sq worker holds one its forwarder will not
// take, and gen holds one no worker will take; any other state still has a
// rendezvous to make.  run_buggy settle()s until every other thread is asleep,
// i.e. all six are parked, before the trace is flushed.  No context is ever
// cancelled, so there is no blind-wait or late-exit.
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
using namespace std::chrono_literals;

Chan<int> gen(const Context& ctx, int count) {
  Chan<int> out(0, "gen");
  go(ctx, "gen", [out, count]() mutable {
    for (int n = 1; n <= count; ++n) out.send(n);  // trace-expect: stuck-wait
    out.close();
  });
  return out;
}

Chan<int> sq(const Context& ctx, const char* name, Chan<int> in) {
  Chan<int> out(0, name);
  go(ctx, name, [in, out]() mutable {
    while (std::optional<int> n = in.recv()) out.send(*n * *n);  // trace-expect: stuck-wait x2
    out.close();
  });
  return out;
}

// Fan-in: one forwarder per input, and a closer that closes `out` once every
// forwarder is done.
Chan<int> merge(const Context& ctx, Chan<int> c1, Chan<int> c2) {
  Chan<int> out(0, "merged");
  WaitGroup wg;
  wg.add(2);
  for (Chan<int> c : {c1, c2})
    go(ctx, "forward", [c, out, wg]() mutable {
      while (std::optional<int> v = c.recv()) out.send(*v);  // trace-expect: stuck-wait x2
      wg.done();
    });
  go(ctx, "close-merged", [out, wg]() mutable {
    wg.wait();  // trace-expect: stuck-wait
    out.close();
  });
  return out;
}

}  // namespace

void run_buggy(const Options& o) {
  const Context ctx = background();
  Chan<int> in = gen(ctx, 100);
  Chan<int> out = merge(ctx, sq(ctx, "sq-1", in), sq(ctx, "sq-2", in));
  std::string got;
  for (int i = 0; i < o.take; ++i) {
    Received<int> v = out.recv(ctx);
    if (!v.ok()) break;
    got += (got.empty() ? "" : ", ") + std::to_string(*v.value);
  }
  std::printf("consumer took %s and returned\n", got.c_str());
  samples::settle(50ms);
  std::printf("upstream is stuck: gen, both sq workers and both forwarders are blocked sending, and "
              "merge's closer waits for forwarders that never finish\n");
}

}  // namespace pipeline
