// ctxscope/trace.hpp — record this process's contexts and waits into a SQLite trace.
//
//   trace::start("run.db");   // or run the program with CTXSCOPE_TRACE=run.db
//   ...
//   trace::flush();           // barrier: everything emitted before is committed
//   trace::stop();            // final commit, marks the run complete
//
// See docs/trace-schema.md for the file format.
#pragma once

#include <string>
#include <system_error>

namespace ctxscope::trace {

struct Options {
  /// Frames of stack captured at context creation and explicit cancel (0 = off;
  /// CTXSCOPE_STACKS=N sets it from the environment).
  int stack_frames = 0;
  /// Opt-in: drop events (and count them) instead of waiting when buffers are full.
  bool drop_when_full = false;
};

/// Starts recording into `path` (created/overwritten).  Returns false and fills
/// `err` (one line naming the file and the problem) on failure.
bool start(const std::string& path, const Options& opts = {}, std::string* err = nullptr);
/// Flushes, marks the run as cleanly ended, closes the file.  No-op if not started.
void stop();
/// Barrier: when it returns, every event emitted before the call is committed.
void flush();
/// True while recording.
bool active() noexcept;
/// Events dropped so far by the current (or last) recording: 0 unless drop_when_full.
unsigned long long events_dropped() noexcept;

}  // namespace ctxscope::trace
