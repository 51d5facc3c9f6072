// The instrumentation point: sink installation, ids, clocks, interning.
#include "ctxscope/detail/events.hpp"

#include <time.h>

#include <cstdio>
#include <cstring>

#include <mutex>
#include <string>
#include <unordered_set>

namespace ctxscope {
namespace detail {

std::atomic<EventSink*> g_sink{nullptr};
std::atomic<bool> g_event_clock_tsc{false};

bool tsc_event_clock_supported() noexcept {
#if defined(__x86_64__)
  // The kernel uses the TSC as its clocksource only after checking that it is
  // invariant and synchronized across CPUs: the same guarantees we need.
  static const bool ok = [] {
    std::FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f) return false;
    char buf[32] = {};
    const bool got = std::fgets(buf, sizeof buf, f) != nullptr;
    std::fclose(f);
    return got && std::strncmp(buf, "tsc", 3) == 0 && (buf[3] == '\n' || buf[3] == 0);
  }();
  return ok;
#else
  return false;
#endif
}

std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // what std::chrono::steady_clock reads on Linux
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace {
std::atomic<std::uint64_t> g_next_thread{1};
// Object ids are handed out to each thread in blocks so that creating a
// context does not contend on one shared counter.
constexpr std::uint64_t kIdBlock = 1024;
std::atomic<std::uint64_t> g_next_block{1};  // block 0 holds the reserved ids 1 (background), 2 (todo)
}  // namespace

namespace {
thread_local std::uint64_t t_thread_id = 0;
}

std::uint64_t current_thread_id() noexcept {
  if (t_thread_id == 0) [[unlikely]]
    t_thread_id = g_next_thread.fetch_add(1, std::memory_order_relaxed);
  return t_thread_id;
}

std::uint64_t reserve_thread_id() noexcept { return g_next_thread.fetch_add(1, std::memory_order_relaxed); }
void adopt_thread_id(std::uint64_t id) noexcept { t_thread_id = id; }

std::uint64_t next_object_id() noexcept {
  thread_local std::uint64_t next = 0, end = 0;
  if (next == end) {
    next = g_next_block.fetch_add(1, std::memory_order_relaxed) * kIdBlock;
    end = next + kIdBlock;
  }
  return next++;
}

const char* intern(std::string_view s) {
  // Never destroyed: strings must outlive every sink and detached thread.
  static auto* mu = new std::mutex;
  static auto* set = new std::unordered_set<std::string>;
  std::lock_guard g(*mu);
  return set->emplace(s).first->c_str();
}

void emit_thread(EventType t, std::uint64_t id, std::uint64_t ctx, std::uint64_t parent, const char* name,
                 std::source_location site) noexcept {
  if (EventSink* s = sink()) {
    Event e;
    e.type = t;
    e.id = id;
    e.ref = ctx;
    e.value = parent;
    e.text = name;
    e.site = site;
    emit_to(s, e);
  }
}

void emit_to(EventSink* s, Event& e) noexcept {
  if (e.time == 0) e.time = event_clock();  // a caller may stamp one time for a whole operation
  e.thread = current_thread_id();
  s->on_event(e);
}

}  // namespace detail

EventSink* install_event_sink(EventSink* s) noexcept {
  return detail::g_sink.exchange(s, std::memory_order_acq_rel);
}

std::string_view to_string(Kind k) noexcept {
  switch (k) {
    case Kind::background: return "background";
    case Kind::todo: return "todo";
    case Kind::cancel: return "cancel";
    case Kind::timeout: return "timeout";
    case Kind::deadline: return "deadline";
    case Kind::cause: return "cause";
    case Kind::without_cancel: return "without_cancel";
    case Kind::value: return "value";
  }
  return "unknown";
}
std::string_view to_string(CancelReason r) noexcept {
  switch (r) {
    case CancelReason::explicit_call: return "explicit";
    case CancelReason::parent: return "parent";
    case CancelReason::deadline: return "deadline";
    case CancelReason::born_done: return "born_done";
  }
  return "unknown";
}
std::string_view to_string(WaitObject o) noexcept {
  switch (o) {
    case WaitObject::chan_recv: return "chan_recv";
    case WaitObject::chan_send: return "chan_send";
    case WaitObject::select: return "select";
    case WaitObject::waitgroup: return "waitgroup";
    case WaitObject::group: return "group";
    case WaitObject::sleep: return "sleep";
    case WaitObject::done: return "done";
  }
  return "unknown";
}
std::string_view to_string(WaitOutcome o) noexcept {
  switch (o) {
    case WaitOutcome::value: return "value";
    case WaitOutcome::closed: return "closed";
    case WaitOutcome::done: return "done";
    case WaitOutcome::default_: return "default";
    case WaitOutcome::timeout: return "timeout";
  }
  return "unknown";
}
std::string_view to_string(ReleaseReason r) noexcept {
  switch (r) {
    case ReleaseReason::own_cancel: return "own_cancel";
    case ReleaseReason::parent: return "parent";
    case ReleaseReason::destroyed: return "destroyed";
  }
  return "unknown";
}
std::string_view to_string(EventType t) noexcept {
  switch (t) {
    case EventType::ctx_create: return "ctx_create";
    case EventType::ctx_cancel: return "ctx_cancel";
    case EventType::cancel_dropped: return "cancel_dropped";
    case EventType::ctx_release: return "ctx_release";
    case EventType::done_observed: return "done_observed";
    case EventType::wait_begin: return "wait_begin";
    case EventType::wait_end: return "wait_end";
    case EventType::thread_spawn: return "thread_spawn";
    case EventType::thread_exit: return "thread_exit";
    case EventType::chan_create: return "chan_create";
    case EventType::chan_close: return "chan_close";
  }
  return "unknown";
}

}  // namespace ctxscope
