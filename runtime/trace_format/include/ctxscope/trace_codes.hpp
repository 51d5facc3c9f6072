// ctxscope/trace_codes.hpp — the persistent enumeration codes of the trace format.
//
// These values are stored in trace files (docs/trace-schema.md: every
// enumeration column and `events.type`/`kind`), so they never change meaning:
// a new code gets a new number, and a code is never reused.  The names
// (`to_string`) are what the recorder writes into each file's `enums` table;
// readers take names from the file itself, so an older reader shows a newer
// file's new code by name.  Part of ctxscope::trace_format, which the runtime
// (writer) and the analysis (readers) share; nothing else defines a code.
#pragma once

#include <cstdint>
#include <string_view>

namespace ctxscope {

/// What kind of context a node is (also the `kind` column of the trace).
enum class Kind : std::uint8_t {
  background = 0,
  todo = 1,
  cancel = 2,          ///< with_cancel
  timeout = 3,         ///< with_timeout
  deadline = 4,        ///< with_deadline
  cause = 5,           ///< with_cancel_cause
  without_cancel = 6,  ///< without_cancel
  value = 7,           ///< with_value
};

/// Why a context became done.
enum class CancelReason : std::uint8_t {
  explicit_call = 0,  ///< its CancelFunc / CancelCauseFunc was called
  parent = 1,         ///< an ancestor was cancelled (Event::ref = direct parent, Event::value = origin)
  deadline = 2,       ///< its own deadline timer fired
  born_done = 3,      ///< derived from a parent that was already done
};

/// Which object a wait blocks on.
enum class WaitObject : std::uint8_t {
  chan_recv = 0,
  chan_send = 1,
  select = 2,     ///< a select with Event::aux cases
  waitgroup = 3,
  group = 4,      ///< errgroup wait
  sleep = 5,      ///< sleep_for
  done = 6,       ///< blocking on ctx.done() alone
};

/// How a wait ended.
enum class WaitOutcome : std::uint8_t {
  value = 0,     ///< a channel case transferred a value / a WaitGroup reached zero
  closed = 1,    ///< a receive saw a closed, drained channel (or a send hit a closed channel)
  done = 2,      ///< the context's done case won
  default_ = 3,  ///< select's default case (never blocks; only for select events)
  timeout = 4,   ///< a sleep ran its full duration
};

/// Why a context stopped being registered with its parent.
enum class ReleaseReason : std::uint8_t {
  own_cancel = 0,   ///< unregistered after its own cancel (explicit or deadline)
  parent = 1,       ///< its parent was cancelled and dropped all children
  destroyed = 2,    ///< the last handle went away while still registered
};

enum class EventType : std::uint8_t {
  //                   id          ref                 value                aux / code / text / site
  ctx_create = 1,    // ctx         parent ctx          deadline ns (0=none) kind; aux=1 if registered with a cancelable ancestor; text=value key name; site=creation
  ctx_cancel = 2,    // ctx         direct parent/0     origin ctx (parent)  reason; err (errc); code+text = cause value/category name; site=cancel call (explicit)
                     //   aux bit 0 (1): an explicit call on a context that was already done (no state
                     //   change; recorded once, so readers know the owner did call cancel)
                     //   aux bit 1 (kCancelReleases): this own cancel (explicit or deadline) also released
                     //   the context (ReleaseReason::own_cancel, same instant); ref = the parent it
                     //   was registered with, and no separate ctx_release follows.  split_release()
                     //   turns such an event back into the two.
  cancel_dropped = 3,// ctx         -                   1 if ctx was done     site=creation site; last CancelFunc copy destroyed uncalled
  ctx_release = 4,   // ctx         parent ctx          -                    reason (ReleaseReason)
  done_observed = 5, // ctx         -                   -                    first time err(), Done::wait or a select won by done
                     //   reported done; ctx = the cancelable context that is done (nearest cancelable
                     //   ancestor-or-self of the context asked), once per such context; site=observer
  wait_begin = 6,    // wait id     ctx whose done is a case (0=none)  object id (chan/wg/...)  object kind; aux=#cases; text=object label; site=call
  wait_end = 7,      // wait id     -                   case index           outcome
  thread_spawn = 8,  // new thread  ctx it runs under   parent thread        text=name; site=go() call
  thread_exit = 9,   // thread      -                   -                    -
  chan_create = 10,  // chan id     -                   capacity             text=label; site=creation
  chan_close = 11,   // chan id     -                   -                    site=close call
  test_begin = 12,   // test id     -                   -                    kind (TestKind); text="Suite.Name" (interned)
  test_end = 13,     // test id     -                   -                    kind (TestKind); aux = TestResult
  // Ownership (the probe): ctx_create and thread_spawn carry in Event::code the
  // id of the test (or suite) that was running on the creating thread when the
  // context was created / the thread was started (0: none).  go() threads
  // inherit the scope of the thread that started them.
};

/// What a test_begin/test_end marks (the probe): one test, or a test suite's
/// SetUpTestSuite..TearDownTestSuite (what a suite fixture owns).
enum class TestKind : std::uint8_t {
  test = 0,
  suite = 1,
};

/// How a test ended, as the framework saw it before the probe's own check.
enum class TestResult : std::uint8_t {
  passed = 0,
  failed = 1,
  skipped = 2,
};

/// Names used in traces and reports ("cancel", "parent", "chan_recv", ...).
std::string_view to_string(Kind) noexcept;
std::string_view to_string(CancelReason) noexcept;
std::string_view to_string(WaitObject) noexcept;
std::string_view to_string(WaitOutcome) noexcept;
std::string_view to_string(ReleaseReason) noexcept;
std::string_view to_string(EventType) noexcept;
std::string_view to_string(TestKind) noexcept;
std::string_view to_string(TestResult) noexcept;

}  // namespace ctxscope
