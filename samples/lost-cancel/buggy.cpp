// Scenario 7, buggy: three ways to lose a cancel.  Each context stays
// registered with the server context (a leak for as long as the server lives,
// a timer kept armed for the timeouts) until the server itself is cancelled.
//
// Expected findings (dynamic, and the same lines statically from
// ctxscope-lint): lost-cancel at each creation line below (3).  Each line runs
// once, except lookup()'s, which runs twice but loses its cancel only on the
// second call (the cache hit).
//
// Determinism: nothing concurrent; every finding follows from which path runs.
#include <cstdio>
#include <string>
#include <tuple>

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

// Not called on one return path: the cache hit returns before cancel().
std::error_code lookup(const Context& parent, Cache& cache, const std::string& key, std::string& out) {
  auto [ctx, cancel] = with_timeout(parent, 500ms);  // trace-expect: lost-cancel
  if (auto hit = cache.find(key); hit != cache.end()) {
    out = hit->second;
    return {};
  }
  std::error_code err = fetch(ctx, key, out);
  if (!err) cache[key] = out;
  cancel();
  return err;
}

// Discarded: only the context is kept.
std::error_code warm_up(const Context& parent, Cache& cache) {
  Context ctx = with_cancel(parent).first;  // trace-expect: lost-cancel
  std::string v;
  std::error_code err = fetch(ctx, "config", v);
  if (!err) cache["config"] = v;
  return err;
}

// Go's `ctx, _ := context.WithTimeout(...)`, spelled with std::ignore.
std::error_code health_check(const Context& parent) {
  Context ctx;
  std::tie(ctx, std::ignore) = with_timeout(parent, 100ms);  // trace-expect: lost-cancel
  std::string v;
  return fetch(ctx, "health", v);
}

}  // namespace

void run_buggy(const Options&) {
  auto [server, stop] = with_cancel(background());
  auto _ = defer(stop);
  Cache cache;
  std::string v;
  std::printf("warm_up: %s\n", warm_up(server, cache) ? "failed" : "ok");
  std::printf("health_check: %s\n", health_check(server) ? "failed" : "ok");
  std::printf("lookup(user:1) from the backend: %s\n", lookup(server, cache, "user:1", v) ? "failed" : v.c_str());
  std::printf("lookup(user:1) from the cache: %s\n", lookup(server, cache, "user:1", v) ? "failed" : v.c_str());
  std::printf("three contexts were never cancelled: they stay registered with the server context until it stops\n");
}

}  // namespace lost_cancel
