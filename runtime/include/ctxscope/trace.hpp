// ctxscope/trace.hpp — record this process's contexts and waits into a SQLite trace.
//
//   trace::start("run.db");   // or run the program with CTXSCOPE_TRACE=run.db
//   ...
//   trace::flush();           // barrier: everything emitted before is committed
//   trace::stop();            // final commit, marks the run complete
//
// See docs/trace-schema.md for the file format.
//
// Environment (read once, at program start, by every program linking the runtime):
//   CTXSCOPE_TRACE=path   start recording into path ("%p" is replaced by the pid,
//                         so exec'd children get their own files); stopped at exit
//   CTXSCOPE_STACKS=N     frames captured at context creation and explicit cancel
//                         (default 8; 0 turns stacks off)
//   CTXSCOPE_UNWINDER=boost  capture with Boost.Stacktrace instead of libunwind
//                         (the default where libunwind.so.8 is installed)
//   CTXSCOPE_DROP=1       drop (and count) events instead of waiting when a buffer is full
//   CTXSCOPE_CLOCK=monotonic  stamp events with clock_gettime instead of the TSC (Options::fast_clock)
//
// Guarantees: the hot path is a copy into a per-thread buffer (no lock shared
// with other threads, no SQLite, no allocation in steady state); a full buffer
// makes the emitting thread wait (at most 5 s, then the event is dropped and
// counted) unless drop mode is on.  A commit happens at least every 100 ms, so a
// killed process leaves a valid trace without end marker, whose
// run.last_commit_ns is its newest saved event.  A write error (full disk) is
// reported once on stderr and marked in the run row; the program runs on.  After fork() the
// child records nothing (it may call start() for a file of its own).  Only one
// recording per process at a time; a file held by a live recorder is refused.
// All functions are thread-safe.
#pragma once

#include <string>
#include <system_error>

namespace ctxscope::trace {

struct Options {
  /// Frames of stack captured at context creation and explicit cancel (0 = off;
  /// CTXSCOPE_STACKS=N sets it from the environment).  On by default: a
  /// capture is return addresses only (libunwind's cached unwinder, ≈ 0.1-0.2 µs),
  /// symbolized once per distinct address on the recorder thread.
  int stack_frames = 8;
  /// Opt-in: drop events (and count them) instead of waiting when buffers are full.
  bool drop_when_full = false;
  /// Timestamps: read the TSC on the hot path and convert it to CLOCK_MONOTONIC
  /// nanoseconds on the recorder thread, where the kernel itself keeps time with
  /// the TSC (x86-64; about 10 ns less per event); otherwise, or when false
  /// (CTXSCOPE_CLOCK=monotonic), read CLOCK_MONOTONIC directly.  The file holds
  /// nanoseconds either way; run.clock says which was read.
  bool fast_clock = true;
};

/// Starts recording into `path`: created, or replaced if it is empty or a
/// ctxscope trace.  Anything else — a symlink (never followed), a FIFO or
/// device, a text file, another application's SQLite database — is refused,
/// as is a file another process records into.  Returns false and fills `err`
/// (one line naming the file and the problem) on failure.
bool start(const std::string& path, const Options& opts = {}, std::string* err = nullptr);
/// Starts recording into an in-memory trace `name` (SQLite's memdb VFS): no
/// file is written; readers in this process open it by name
/// (TraceReader::open_in_memory) while it records; stop() discards it.  The
/// probe records so when CTXSCOPE_TRACE is not set.
bool start_in_memory(const std::string& name, const Options& opts = {}, std::string* err = nullptr);
/// Flushes, marks the run as cleanly ended, closes the file.  No-op if not started.
void stop();
/// Barrier: when it returns, every event emitted before the call is committed.
void flush();
/// True while recording.
bool active() noexcept;
/// What this process records into: the file's path as given (CTXSCOPE_TRACE
/// with %p replaced), "memory:<name>" for an in-memory trace, "" when not recording.
std::string current_path();
/// Events dropped so far by the current (or last) recording: 0 unless drop_when_full.
unsigned long long events_dropped() noexcept;

}  // namespace ctxscope::trace
