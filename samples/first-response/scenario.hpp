// Scenario 3, first-response: ask N replicas, keep the first answer, cancel
// the rest (seed: "深入理解 golang context", replicated requests).
#pragma once

#include <chrono>
#include <string>
#include <system_error>

#include <ctxscope/context.hpp>

namespace first_response {

struct Options {
  int replicas = 3;
};

struct Result {
  int replica = -1;
  std::string answer;
  std::error_code err;
};

/// Replica i's latency: replica 0 answers after 50 ms, the others after 400 ms
/// and more, so which one wins never depends on scheduling.
inline std::chrono::milliseconds latency(int i) {
  return std::chrono::milliseconds(i == 0 ? 50 : 400 + 50 * i);
}

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace first_response
