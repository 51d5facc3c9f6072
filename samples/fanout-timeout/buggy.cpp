// Scenario 2, buggy: the logs task waits for the fastest of two log sources
// with a select that does not include ctx.done(), so it runs on after the
// group was cancelled and the handler cannot return at its deadline.
//
// Expected findings (dynamic): blind-wait at the logs select; late-exit at the
// g.go() that started the logs task.
//
// Determinism: the logs task starts its select at once; both sources answer
// only after 400 ms, twice the 200 ms deadline, and they are outside systems
// (not cancelled by us).  So the select is blocked when the deadline cancels
// the group and stays blocked ~200 ms past it (well beyond the 50 ms grace),
// and the task then exits ~200 ms after its context was done.  The handler
// waits for every task (errgroup), so all of it is in the trace before main
// ends.  The other tasks are inside a ctx-aware sleep when the deadline (or
// the authorization error) arrives and return at once.
#include <cstdio>
#include <optional>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace fanout_timeout {
namespace {

using namespace ctxscope;
using namespace std::chrono_literals;

std::error_code authorize(const Context& ctx, bool fail, Report& r) {
  if (auto err = sleep_for(ctx, 20ms)) return r.authz = err.message(), err;
  if (fail) {
    r.authz = "denied";
    return std::make_error_code(std::errc::permission_denied);
  }
  r.authz = "ok";
  return {};
}

// Checks its context between steps: database, then pod status, then the
// failed pod's events.
std::error_code query_pod(const Context& ctx, Report& r) {
  if (auto err = sleep_for(ctx, 30ms)) return r.pod = "db: " + err.message(), err;
  if (auto err = sleep_for(ctx, 30ms)) return r.pod = err.message(), err;
  r.pod = "Failed";
  if (auto err = sleep_for(ctx, 500ms)) return r.events = err.message(), err;
  r.events = "12 events";
  return {};
}

// BUG: takes no context; the fastest source wins, but nothing else can end
// the wait.
std::error_code fetch_logs(Report& r) {
  Chan<std::string> a(1, "logs a"), b(1, "logs b");
  start_log_source("log-source-a", kSourceA, a);
  start_log_source("log-source-b", kSourceB, b);
  std::optional<std::string> va, vb;
  const std::size_t i = select(a.on_recv(va), b.on_recv(vb));  // trace-expect: blind-wait
  r.logs = i == 0 ? *va : *vb;
  return {};
}

std::error_code handle(const Context& parent, const Options& o, Report& r) {
  auto [ctx, cancel] = with_timeout(parent, o.deadline);
  auto _ = defer(cancel);
  auto [g, gctx] = Group::with_context(ctx);
  g.go("authorize", [gctx = gctx, &o, &r] { return authorize(gctx, o.fail_authz, r); });
  g.go("query-pod", [gctx = gctx, &r] { return query_pod(gctx, r); });
  g.go("fetch-logs", [&r] { return fetch_logs(r); });  // trace-expect: late-exit
  return g.wait();
}

}  // namespace

void run_buggy(const Options& o) {
  const auto t0 = Clock::now();
  Report r;
  const std::error_code err = handle(background(), o, r);
  std::printf("handler returned after %ld ms (deadline %lld ms): %s\n", samples::ms_since(t0),
              static_cast<long long>(o.deadline.count()), err ? err.message().c_str() : "ok");
  std::printf("  authorize: %s\n  pod: %s\n  events: %s\n  logs: %s\n", r.authz.c_str(), r.pod.c_str(),
              r.events.c_str(), r.logs.c_str());
  std::printf("the logs task ignored the cancellation and held the handler past its deadline\n");
}

}  // namespace fanout_timeout
