// A small program against the installed runtime: one lost cancel, traced with
// CTXSCOPE_TRACE (run.sh checks the trace with the installed `ctxscope check`).
#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>
#include <ctxscope/version.hpp>

#include <cstdio>

using namespace ctxscope;

int main() {
  auto [ctx, cancel] = with_timeout(background(), std::chrono::seconds(5));
  auto _ = defer(cancel);
  Chan<int> ch(1);
  WaitGroup wg;
  wg.add(1);
  go(ctx, "producer", [ch, wg, ctx = ctx]() mutable {
    (void)ch.send(ctx, 42);
    wg.done();
  });
  wg.wait();
  auto [leaked, leaked_cancel] = with_cancel(ctx);  // never cancelled: lost-cancel
  (void)leaked;
  std::printf("consumer %s: got %d\n", CTXSCOPE_VERSION, *ch.recv(ctx).value);
  return 0;
}
