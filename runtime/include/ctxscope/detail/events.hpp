// ctxscope/detail/events.hpp — the runtime's single instrumentation point.
//
// Every create, cancel and wait of the runtime is described by one fixed-size
// `Event` and handed to the installed `EventSink`.  With no sink installed the
// cost at each point is one relaxed load and one well-predicted branch
// (`detail::sink()` returns nullptr).  The recorder (trace.hpp) is one sink; tests
// install their own.
//
// Contract for sinks:
//  * `on_event` is called on the thread that performed the operation, sometimes
//    while the runtime holds an internal lock of the object concerned: it must
//    not call back into the runtime, block on other threads, or throw.
//  * A sink object must stay valid forever once installed (uninstalling does not
//    wait for threads that already loaded the pointer); recorders keep theirs in
//    static storage and flip an "active" flag instead of freeing it.
//  * Strings (`Event::text`) point to storage that lives until process exit
//    (interned or string literals), so a sink may keep the pointer.
#pragma once

#include <atomic>
#include <cstdint>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14
#include <string_view>

#include "ctxscope/trace_codes.hpp"  // Kind, CancelReason, ..., EventType: the persistent codes

namespace ctxscope {

/// One instrumentation record: 64 bytes, trivially copyable, no ownership.
struct Event {
  std::uint64_t time = 0;     ///< detail::event_clock() reading (see there; 0 = not stamped yet)
  std::uint64_t thread = 0;   ///< ctxscope thread id of the emitting thread (see current_thread_id)
  std::uint64_t id = 0;       ///< primary object (see table above)
  std::uint64_t ref = 0;      ///< secondary object
  std::uint64_t value = 0;    ///< numeric payload
  std::source_location site{};///< code location (default-constructed: unknown)
  const char* text = nullptr; ///< string payload with static/interned lifetime
  EventType type{};
  std::uint8_t kind = 0;      ///< Kind / CancelReason / WaitObject / WaitOutcome / ReleaseReason
  std::uint8_t err = 0;       ///< errc value for ctx_cancel
  std::uint8_t aux = 0;
  std::int32_t code = 0;      ///< cause error_code value for ctx_cancel
};
static_assert(sizeof(Event) == 64, "Event is a fixed 64-byte record");

/// ctx_cancel aux bit: the cancel also stands for the context's own_cancel release.
inline constexpr std::uint8_t kCancelReleases = 2;

/// For a ctx_cancel carrying kCancelReleases: the cancel as it would be recorded
/// alone (bit cleared, ref 0) and its ctx_release (own_cancel, same time, thread
/// and id; ref = the parent).  A traced own cancel thereby costs one event on the
/// hot path instead of two; sinks that want the separate events call this.
struct SplitRelease {
  Event cancel, release;
};
inline SplitRelease split_release(const Event& e) noexcept {
  SplitRelease r{e, Event{}};
  r.cancel.aux = static_cast<std::uint8_t>(e.aux & ~kCancelReleases);
  r.cancel.ref = 0;
  r.release.time = e.time;
  r.release.thread = e.thread;
  r.release.type = EventType::ctx_release;
  r.release.id = e.id;
  r.release.ref = e.ref;
  r.release.kind = static_cast<std::uint8_t>(ReleaseReason::own_cancel);
  return r;
}
inline bool releases_in_cancel(const Event& e) noexcept {
  return e.type == EventType::ctx_cancel && (e.aux & kCancelReleases) != 0;
}

class EventSink {
 public:
  virtual void on_event(const Event& e) noexcept = 0;

 protected:
  ~EventSink() = default;
};

namespace detail {
extern std::atomic<EventSink*> g_sink;

/// The installed sink, or nullptr: the one branch every instrumentation point pays.
inline EventSink* sink() noexcept { return g_sink.load(std::memory_order_acquire); }

/// steady_clock now, in nanoseconds.
std::uint64_t now_ns() noexcept;

/// The event clock, what Event::time holds: CLOCK_MONOTONIC nanoseconds
/// (now_ns), or raw TSC ticks while `g_event_clock_tsc` is set.  The recorder
/// sets it when it starts on an x86-64 machine whose kernel itself keeps time
/// with the TSC (so the TSC is invariant and synchronized across CPUs) and
/// converts the ticks to nanoseconds on its own thread: a TSC read costs 8 ns
/// on the reference VM, clock_gettime 19 ns, and a traced with_cancel+cancel
/// reads the clock twice.  Sinks that need nanoseconds check event_clock_is_tsc().
extern std::atomic<bool> g_event_clock_tsc;
inline bool event_clock_is_tsc() noexcept { return g_event_clock_tsc.load(std::memory_order_relaxed); }
inline std::uint64_t event_clock() noexcept {
#if defined(__x86_64__)
  if (event_clock_is_tsc()) return __builtin_ia32_rdtsc();
#endif
  return now_ns();
}
/// The event clock, not executed before earlier loads complete (LFENCE; RDTSC):
/// a reading taken after observing an event's publication is not earlier than
/// the event's own stamp.
inline std::uint64_t event_clock_ordered() noexcept {
#if defined(__x86_64__)
  if (event_clock_is_tsc()) {
    __builtin_ia32_lfence();
    return __builtin_ia32_rdtsc();
  }
#endif
  return now_ns();
}
/// Whether this machine's TSC may serve as the event clock (see above).
bool tsc_event_clock_supported() noexcept;

/// Small dense id of the calling thread (1, 2, ...), assigned on first use.
std::uint64_t current_thread_id() noexcept;

/// Reserves a thread id for a thread about to start (go()); the new thread
/// calls adopt_thread_id with it before anything else.
std::uint64_t reserve_thread_id() noexcept;
void adopt_thread_id(std::uint64_t id) noexcept;

/// Fresh id for a context, wait, channel or other object; unique in the process.
/// background() is always 1 and todo() 2; they are never announced by ctx_create.
std::uint64_t next_object_id() noexcept;

/// Ownership scopes (the probe's tests; trace_codes.hpp, EventType): every
/// ctx_create and thread_spawn carries in Event::code the scope current on the
/// emitting thread.  A thread's scope is its own when set (go() threads
/// inherit their starter's, "none" included), else the process scope (the
/// test the framework is running: main and plain std::threads).  0 = none.
std::uint32_t current_scope() noexcept;
/// The process scope (what threads without a scope of their own use).
void set_process_scope(std::uint32_t scope) noexcept;
/// This thread's own scope; kNoScope: owned by nobody, whatever test runs;
/// kInheritScope: back to the process scope.
inline constexpr std::uint32_t kNoScope = 0xffffffffu;
inline constexpr std::uint32_t kInheritScope = 0;
void set_thread_scope(std::uint32_t scope) noexcept;
/// What a go() thread adopts from its starter: current_scope(), or kNoScope.
inline std::uint32_t scope_for_child() noexcept {
  const std::uint32_t s = current_scope();
  return s ? s : kNoScope;
}

/// Emits test_begin / test_end (see the table above) if a sink is installed.
void emit_test(EventType t, std::uint32_t id, TestKind kind, const char* name, TestResult result) noexcept;

/// Emits thread_spawn / thread_exit (see the table above) if a sink is installed.
void emit_thread(EventType t, std::uint64_t id, std::uint64_t ctx, std::uint64_t parent, const char* name,
                 std::source_location site) noexcept;

/// For the runtime's own threads (the timer): emits a thread_spawn naming the
/// calling thread (`name` with static lifetime, "ctxscope-..."; readers treat
/// that prefix as a runtime thread) once per installed sink, so every trace
/// that holds an event of the thread also names it.  Cheap when already done.
void announce_runtime_thread(const char* name) noexcept;

/// Copy `s` into storage that lives until exit and return it (deduplicated).
const char* intern(std::string_view s);

/// Fills time from event_clock() (unless the caller set it: one cancel
/// operation, including its releases and its whole propagation, carries one
/// timestamp) and thread, then hands the event to the sink `s`.
void emit_to(EventSink* s, Event& e) noexcept;
}  // namespace detail

/// Install (or with nullptr remove) the process's event sink.  Returns the old one.
EventSink* install_event_sink(EventSink* s) noexcept;

}  // namespace ctxscope
