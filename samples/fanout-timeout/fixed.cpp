// Scenario 2, fixed: every task checks its context between steps and the logs
// task's select includes ctx.done(): the first error or the deadline cancels
// everything and the handler returns at once.
//
// Expected findings: none.
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

std::error_code query_pod(const Context& ctx, Report& r) {
  if (auto err = sleep_for(ctx, 30ms)) return r.pod = "db: " + err.message(), err;
  if (auto err = sleep_for(ctx, 30ms)) return r.pod = err.message(), err;
  r.pod = "Failed";
  if (auto err = sleep_for(ctx, 500ms)) return r.events = err.message(), err;
  r.events = "12 events";
  return {};
}

// The fastest source wins, unless the request is cancelled first.
std::error_code fetch_logs(const Context& ctx, Report& r) {
  Chan<std::string> a(1, "logs a"), b(1, "logs b");
  start_log_source("log-source-a", kSourceA, a);
  start_log_source("log-source-b", kSourceB, b);
  std::optional<std::string> va, vb;
  switch (select(a.on_recv(va), b.on_recv(vb), ctx.done())) {
    case 0: r.logs = *va; return {};
    case 1: r.logs = *vb; return {};
    default: break;
  }
  const std::error_code err = ctx.err();
  r.logs = err.message();
  return err;
}

std::error_code handle(const Context& parent, const Options& o, Report& r) {
  auto [ctx, cancel] = with_timeout(parent, o.deadline);
  auto _ = defer(cancel);
  auto [g, gctx] = Group::with_context(ctx);
  g.go("authorize", [gctx = gctx, &o, &r] { return authorize(gctx, o.fail_authz, r); });
  g.go("query-pod", [gctx = gctx, &r] { return query_pod(gctx, r); });
  g.go("fetch-logs", [gctx = gctx, &r] { return fetch_logs(gctx, r); });
  return g.wait();
}

}  // namespace

void run_fixed(const Options& o) {
  const auto t0 = Clock::now();
  Report r;
  const std::error_code err = handle(background(), o, r);
  std::printf("handler returned after %ld ms (deadline %lld ms): %s\n", samples::ms_since(t0),
              static_cast<long long>(o.deadline.count()), err ? err.message().c_str() : "ok");
  std::printf("  authorize: %s\n  pod: %s\n  events: %s\n  logs: %s\n", r.authz.c_str(), r.pod.c_str(),
              r.events.c_str(), r.logs.c_str());
}

}  // namespace fanout_timeout
