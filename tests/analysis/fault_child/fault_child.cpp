// A traced program for the CLI fault tests (tests/analysis/cli_fault_test.cpp).
// It records through CTXSCOPE_TRACE (autostart) like any user program.
//
//   fault_child quick N   N cancelled contexts, then a normal exit (end marker)
//   fault_child wait N    N cancelled contexts, flush, write its pid to the fd
//                         in CTXSCOPE_FAULT_FD, then wait for a signal (default
//                         action: dies without end marker)
//   fault_child fill N    N cancelled contexts with a flush every 1000, then a
//                         normal exit: fills a size-limited disk
//   fault_child fail N    N cancelled contexts, then exit status 3 (a failing
//                         test binary: the trace is complete and clean)
//   fault_child abort N   N cancelled contexts, flush, then abort() (SIGABRT)
// No context is leaked: a complete trace has no findings.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ctxscope/context.hpp"
#include "ctxscope/trace.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fault_child quick|wait|fill N\n");
    return 2;
  }
  const std::string mode = argv[1];
  const long n = std::atol(argv[2]);
  // "fill" writes until the disk is full: value contexts, which no rule can
  // report, so that the trace cut at any commit (a timer commit may fall
  // between a create and its cancel) holds no finding and the gate's answer is
  // the incomplete run's alone.
  static const ctxscope::Key<long> kFill{"fill"};
  for (long i = 0; i < n; ++i) {
    if (mode == "fill") {
      auto v = ctxscope::with_value(ctxscope::background(), kFill, i);
      if (i % 1000 == 999) ctxscope::trace::flush();
      continue;
    }
    auto [ctx, cancel] = ctxscope::with_cancel(ctxscope::background());
    cancel();
  }
  if (mode == "fail") return 3;
  if (mode == "abort") {
    ctxscope::trace::flush();
    std::abort();
  }
  if (mode == "wait") {
    ctxscope::trace::flush();
    const char* fd_env = std::getenv("CTXSCOPE_FAULT_FD");
    if (!fd_env) return 3;
    const std::string pid = std::to_string(getpid()) + "\n";
    if (write(std::atoi(fd_env), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) return 4;
    for (;;) pause();
  }
  return 0;
}
