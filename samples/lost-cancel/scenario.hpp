// Scenario 7, lost-cancel: the go vet classic — a with_cancel / with_timeout
// whose cancel is discarded, or not called on one return path (seed: "Go:
// Context 和传播取消", the context leak section).
#pragma once

#include <map>
#include <string>

namespace lost_cancel {

struct Options {};

/// A tiny cache in front of a slow backend.
using Cache = std::map<std::string, std::string>;

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace lost_cancel
