// The local "server" and the client transport of scenario 5 (shared by both
// modes; the scenario's bug and fix are in buggy.cpp and fixed.cpp).
#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "scenario.hpp"

namespace http_premature_cancel {

using namespace ctxscope;
using namespace std::chrono_literals;

Response round_trip(const Context& ctx, const std::string& url, int chunks, std::error_code& err) {
  Chan<int> status(1, "status line");
  Chan<std::string> body(0, "response body");
  // The server streams under the request context: once it is done, the
  // server stops and the remaining chunks are never sent.
  go(ctx, "server", [ctx, url, chunks, status, body]() mutable {
    status.try_send(200);
    for (int i = 1; i <= chunks; ++i) {
      if (sleep_for(ctx, 10ms)) return;  // the network is not instantaneous
      if (body.send(ctx, url + " part " + std::to_string(i) + "/" + std::to_string(chunks) + "\n")) return;
    }
    body.close();
  });
  Received<int> s = status.recv(ctx);
  if (!s.ok()) {
    err = s.err;
    return {};
  }
  return Response{*s.value, ctx, body, {}};
}

}  // namespace http_premature_cancel
