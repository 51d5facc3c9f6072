// Scenario 7, fixed: `defer(cancel)` right after every with_cancel /
// with_timeout, so the cancel runs on every path.
//
// Expected findings: none, from the trace and from ctxscope-lint.
#include <cstdio>
#include <string>

#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace lost_cancel {
namespace {

using namespace ctxscope;
using namespace std::chrono_literals;

std::error_code fetch(const Context& ctx, const std::string& key, std::string& out) {
  if (std::error_code err = sleep_for(ctx, 5ms)) return err;  // the backend's latency
  out = "value of " + key;
  return {};
}

std::error_code lookup(const Context& parent, Cache& cache, const std::string& key, std::string& out) {
  auto [ctx, cancel] = with_timeout(parent, 500ms);
  auto _ = defer(cancel);
  if (auto hit = cache.find(key); hit != cache.end()) {
    out = hit->second;
    return {};
  }
  std::error_code err = fetch(ctx, key, out);
  if (!err) cache[key] = out;
  return err;
}

std::error_code warm_up(const Context& parent, Cache& cache) {
  auto [ctx, cancel] = with_cancel(parent);
  auto _ = defer(cancel);
  std::string v;
  std::error_code err = fetch(ctx, "config", v);
  if (!err) cache["config"] = v;
  return err;
}

std::error_code health_check(const Context& parent) {
  auto [ctx, cancel] = with_timeout(parent, 100ms);
  auto _ = defer(cancel);
  std::string v;
  return fetch(ctx, "health", v);
}

}  // namespace

void run_fixed(const Options&) {
  auto [server, stop] = with_cancel(background());
  auto _ = defer(stop);
  Cache cache;
  std::string v;
  std::printf("warm_up: %s\n", warm_up(server, cache) ? "failed" : "ok");
  std::printf("health_check: %s\n", health_check(server) ? "failed" : "ok");
  std::printf("lookup(user:1) from the backend: %s\n", lookup(server, cache, "user:1", v) ? "failed" : v.c_str());
  std::printf("lookup(user:1) from the cache: %s\n", lookup(server, cache, "user:1", v) ? "failed" : v.c_str());
  std::printf("every context was cancelled on every path\n");
}

}  // namespace lost_cancel
