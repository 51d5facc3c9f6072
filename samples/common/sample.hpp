// samples/common/sample.hpp — the scaffolding every scenario sample shares.
//
// Not part of any scenario: command-line parsing (--mode, --trace, knobs),
// the trace session, and `settle()`, which keeps the trace deterministic for
// the end-to-end tests.  Nothing in here takes a Context, on purpose: it is
// plumbing, and the linter's "blind call with a Context in scope" check must
// not see it.
#pragma once

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include <ctxscope/trace.hpp>

namespace samples {

/// What every sample accepts: --mode=buggy|fixed (default buggy),
/// --trace FILE / --trace=FILE, and scenario knobs --name=integer.
struct Args {
  std::string program;  ///< argv[0], for error lines
  bool buggy = true;
  std::string trace;
  std::map<std::string, long, std::less<>> knobs;

  /// The knob's value, or `fallback` when not given.
  long get(std::string_view name, long fallback) const {
    auto it = knobs.find(name);
    return it == knobs.end() ? fallback : it->second;
  }
  /// The same, bounded: outside [lo, hi] is bad input (one line, exit status 2).
  int get(std::string_view name, int fallback, int lo, int hi) const {
    const long v = get(name, static_cast<long>(fallback));
    if (v < lo || v > hi) {
      std::fprintf(stderr, "%s: --%.*s must be between %d and %d\n", program.c_str(),
                   static_cast<int>(name.size()), name.data(), lo, hi);
      std::exit(2);
    }
    return static_cast<int>(v);
  }
};

/// Parses argv.  `known` lists the knob names the sample accepts ("scale,replicas").
/// Bad input: one line naming the problem on stderr, exit status 2.
inline Args parse_args(int argc, char** argv, std::string_view known, std::string_view usage) {
  Args a;
  a.program = argv[0];
  auto fail = [&](const std::string& msg) {
    std::fprintf(stderr, "%s: %s (see --help)\n", argv[0], msg.c_str());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    if (s == "--help" || s == "-h") {
      std::printf("usage: %s --mode=buggy|fixed [--trace FILE]%s%.*s\n", argv[0], usage.empty() ? "" : " ",
                  static_cast<int>(usage.size()), usage.data());
      std::exit(0);
    }
    if (s == "--mode=buggy") {
      a.buggy = true;
    } else if (s == "--mode=fixed") {
      a.buggy = false;
    } else if (s.starts_with("--mode")) {
      fail("--mode must be --mode=buggy or --mode=fixed, got '" + std::string(s) + "'");
    } else if (s == "--trace") {
      if (i + 1 >= argc) fail("--trace needs a file name");
      a.trace = argv[++i];
    } else if (s.starts_with("--trace=")) {
      a.trace = std::string(s.substr(8));
      if (a.trace.empty()) fail("--trace= needs a file name");
    } else if (s.starts_with("--") && s.find('=') != std::string_view::npos) {
      const auto eq = s.find('=');
      std::string name(s.substr(2, eq - 2));
      std::string value(s.substr(eq + 1));
      bool listed = false;
      for (std::string_view rest = known; !rest.empty();) {
        const auto comma = rest.find(',');
        if (rest.substr(0, comma) == name) listed = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      if (!listed) fail("unknown option '--" + name + "'");
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v < 0 || v > 1000000)
        fail("--" + name + " needs a non-negative integer, got '" + value + "'");
      a.knobs[name] = v;
    } else {
      fail("unexpected argument '" + std::string(s) + "'");
    }
  }
  return a;
}

/// Starts the trace when --trace was given (CTXSCOPE_TRACE starts it without
/// us).  At scope exit: flush(), so every wait begun so far — in particular
/// the stuck ones — is in the file, then stop() if this session started it.
class TraceSession {
 public:
  explicit TraceSession(const Args& a) {
    if (a.trace.empty()) return;
    std::string err;
    if (!ctxscope::trace::start(a.trace, {}, &err)) {
      std::fprintf(stderr, "%s\n", err.empty() ? ("cannot start trace " + a.trace).c_str() : err.c_str());
      std::exit(1);
    }
    started_ = true;
  }
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;
  ~TraceSession() {
    ctxscope::trace::flush();
    if (started_) ctxscope::trace::stop();
  }

 private:
  bool started_ = false;
};

inline long os_thread_id() { return static_cast<long>(::syscall(SYS_gettid)); }

namespace detail {
/// True when every thread of this process but the caller is asleep in the
/// kernel (state S or D).  False if /proc is unreadable.
inline bool others_asleep() {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return false;
  const long self = os_thread_id();
  bool all = true;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const long tid = std::strtol(e->d_name, nullptr, 10);
    if (tid == self) continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;  // the thread just exited
    const auto paren = line.rfind(')');
    const char state = paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '?';
    if (state != 'S' && state != 'D') {
      all = false;
      break;
    }
  }
  ::closedir(d);
  return all;
}
}  // namespace detail

/// Sample scaffolding for deterministic traces: waits at least `at_least`,
/// then until every other thread of the process has been asleep for a few
/// consecutive polls (the leaked goroutines are parked in their waits, so
/// their wait_begin events exist), giving up after `at_most`.  The minimum
/// keeps the trace going past the analyzer's grace period after the last
/// cancellation, so a blind wait is seen "still blocked after done + grace".
inline void settle(std::chrono::milliseconds at_least, std::chrono::milliseconds at_most = std::chrono::milliseconds(1500)) {
  using namespace std::chrono;
  const auto start = steady_clock::now();
  std::this_thread::sleep_for(at_least);
  int quiet = 0;
  while (quiet < 3 && steady_clock::now() - start < at_most) {
    quiet = detail::others_asleep() ? quiet + 1 : 0;
    std::this_thread::sleep_for(milliseconds(2));
  }
}

/// Milliseconds since `t0`, for the printed timelines.
inline long ms_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
}

/// Runs the job the way an outside system would: it takes its time and
/// answers regardless of anyone's context (not a recorded wait).
inline void external_delay(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

}  // namespace samples
