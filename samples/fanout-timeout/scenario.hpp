// Scenario 2, fanout-timeout: one request, many concurrent tasks, one deadline
// (seed: "The Context of the Package context", errgroup + WithTimeout).
#pragma once

#include <chrono>
#include <string>

#include <ctxscope/chan.hpp>
#include <ctxscope/context.hpp>

namespace fanout_timeout {

struct Options {
  std::chrono::milliseconds deadline{200};  ///< the seed's 3 s, scaled down
  bool fail_authz = false;                  ///< make authorization fail (the "first error" path)
};

/// What the handler managed to collect; each task writes only its own line.
struct Report {
  std::string authz = "-", pod = "-", events = "-", logs = "-";
};

/// A log service somewhere else: answers `name`'s logs on `out` (which must
/// have a free slot) after `latency`, whatever happens to our request.
void start_log_source(const char* name, std::chrono::milliseconds latency, ctxscope::Chan<std::string> out);

/// The latencies of the two log sources: both slower than the deadline.
inline constexpr std::chrono::milliseconds kSourceA{400}, kSourceB{450};

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace fanout_timeout
