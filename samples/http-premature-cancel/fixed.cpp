// Scenario 5, fixed: the cancel is tied to closing the body: get() hands it to
// the Response, and the caller closes the response (runs the cancel) after the
// body was fully read.
//
// Expected findings: none; the whole body arrives.
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
  Response resp = round_trip(ctx, url, chunks, err);
  if (err) {
    cancel();
    return resp;
  }
  resp.close = cancel;  // the body owns the request now: closing it cancels
  return resp;
}

std::error_code read_body(Response& resp, std::string& out) {
  for (;;) {
    Received<std::string> chunk = resp.body.recv(resp.ctx);
    if (chunk.err) return chunk.err;
    if (!chunk.ok()) return {};
    out += *chunk.value;
  }
}

}  // namespace

void run_fixed(const Options& o) {
  const auto t0 = Clock::now();
  std::error_code err;
  Response resp = get(background(), "http://localhost/report", o.timeout, o.chunks, err);
  if (err) {
    std::printf("request failed: %s\n", err.message().c_str());
    return;
  }
  auto close_body = defer(resp.close);
  std::printf("status %d after %ld ms\n", resp.status, samples::ms_since(t0));
  std::string body;
  err = read_body(resp, body);
  std::printf("body: %zu bytes after %ld ms, read %s\n", body.size(), samples::ms_since(t0),
              err ? ("failed: " + err.message()).c_str() : "complete");
  std::printf("%s", body.c_str());
}

}  // namespace http_premature_cancel
