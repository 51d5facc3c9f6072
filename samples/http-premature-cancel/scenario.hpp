// Scenario 5, http-premature-cancel: a request is sent under a context with a
// timeout whose cancel runs before the body is read (seed: Corteza workflow
// HTTP request step, `defer tfn()` in send()).
//
// No network: the "server" is a local thread that streams the response body
// chunk by chunk over a channel under the request's context, as an HTTP
// client's body is tied to the request context.
#pragma once

#include <chrono>
#include <string>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>

namespace http_premature_cancel {

struct Options {
  int chunks = 8;                           ///< body size, in chunks
  std::chrono::hours timeout{1};            ///< the request's timeout: long, it is not the problem
};

/// What round_trip() returns once the status line arrived.  The body is
/// streamed under `ctx`: reading it after `ctx` is done fails.
struct Response {
  int status = 0;
  ctxscope::Context ctx;               ///< the request context the body is tied to
  ctxscope::Chan<std::string> body = ctxscope::Chan<std::string>(0);  ///< closed after the last chunk
  ctxscope::CancelFunc close;          ///< releases the request (fixed mode: set by get())
};

/// The transport (transport.cpp): starts the local server streaming `chunks`
/// chunks under `ctx` and waits for the status line.  On failure the status is
/// 0 and `err` says why.
Response round_trip(const ctxscope::Context& ctx, const std::string& url, int chunks, std::error_code& err);

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace http_premature_cancel
