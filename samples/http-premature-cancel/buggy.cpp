// Scenario 5, buggy: get() defers the cancel of the request's timeout context
// and returns the response; the cancel runs at that return, before the caller
// reads the body, so the read fails at once with "canceled" although the
// timeout is one hour.
//
// Expected findings (dynamic): use-after-cancel at the body read.
//
// Determinism: get() returns as soon as the status line arrived; the server
// sends the first body chunk only 10 ms later, so at the moment of the read
// there is no chunk waiting and the only ready case is the (explicitly
// cancelled) context: the read always fails, on its first call, and the read
// loop stops.  The server sees the cancellation in its own sleep or send and
// returns; run_buggy settle()s until it has, so its wait is not left open in
// the trace.
#include <cstdio>
#include <string>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace http_premature_cancel {
namespace {

using namespace ctxscope;

Response get(const Context& parent, const std::string& url, Clock::duration timeout, int chunks,
             std::error_code& err) {
  auto [ctx, cancel] = with_timeout(parent, timeout);
  auto _ = defer(cancel);  // BUG: runs when get() returns, before anyone read the body
  return round_trip(ctx, url, chunks, err);
}

std::error_code read_body(Response& resp, std::string& out) {
  for (;;) {
    Received<std::string> chunk = resp.body.recv(resp.ctx);  // trace-expect: use-after-cancel
    if (chunk.err) return chunk.err;
    if (!chunk.ok()) return {};
    out += *chunk.value;
  }
}

}  // namespace

void run_buggy(const Options& o) {
  const auto t0 = Clock::now();
  std::error_code err;
  Response resp = get(background(), "http://localhost/report", o.timeout, o.chunks, err);
  if (err) {
    std::printf("request failed: %s\n", err.message().c_str());
    return;
  }
  std::printf("status %d after %ld ms\n", resp.status, samples::ms_since(t0));
  std::string body;
  err = read_body(resp, body);
  std::printf("body: %zu bytes after %ld ms, read %s\n", body.size(), samples::ms_since(t0),
              err ? ("failed: " + err.message()).c_str() : "complete");
  samples::settle(std::chrono::milliseconds(0));
}

}  // namespace http_premature_cancel
