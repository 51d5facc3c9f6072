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

namespace {
std::atomic<std::uint32_t> g_process_scope{0};
__attribute__((tls_model("initial-exec"))) thread_local std::uint32_t t_scope = kInheritScope;
}  // namespace

std::uint32_t current_scope() noexcept {
  const std::uint32_t s = t_scope;
  if (s == kInheritScope) return g_process_scope.load(std::memory_order_relaxed);
  return s == kNoScope ? 0 : s;
}
void set_process_scope(std::uint32_t scope) noexcept { g_process_scope.store(scope, std::memory_order_relaxed); }
void set_thread_scope(std::uint32_t scope) noexcept { t_scope = scope; }

void emit_test(EventType t, std::uint32_t id, TestKind kind, const char* name, TestResult result) noexcept {
  if (EventSink* s = sink()) {
    Event e;
    e.type = t;
    e.id = id;
    e.kind = static_cast<std::uint8_t>(kind);
    e.aux = static_cast<std::uint8_t>(result);
    e.text = name;
    emit_to(s, e);
  }
}

void emit_thread(EventType t, std::uint64_t id, std::uint64_t ctx, std::uint64_t parent, const char* name,
                 std::source_location site) noexcept {
  if (EventSink* s = sink()) {
    Event e;
    e.type = t;
    if (t == EventType::thread_spawn) e.code = static_cast<std::int32_t>(current_scope());
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

namespace detail {
// Bumped by every install: a runtime thread announces itself once per
// installed sink (per recording), since it may have started long before.
std::atomic<std::uint64_t> g_sink_generation{0};

void announce_runtime_thread(const char* name) noexcept {
  static thread_local std::uint64_t announced = 0;
  if (!sink()) return;
  const std::uint64_t gen = g_sink_generation.load(std::memory_order_acquire);
  if (gen == announced) return;
  announced = gen;
  const std::uint64_t self = current_thread_id();
  t_scope = kNoScope;  // the runtime's threads belong to no test
  emit_thread(EventType::thread_spawn, self, 0, self, name, {});
}
}  // namespace detail

namespace trace::detail {
bool start_from_environment();  // recorder.cpp
}
namespace {
// CTXSCOPE_TRACE=path starts recording at program start.  Here, in the one
// object every use of the runtime pulls in (the sink pointer lives here), so
// that a static link in any order, by CMake, pkg-config or hand, keeps it.
const bool g_autostarted = trace::detail::start_from_environment();
}  // namespace

EventSink* install_event_sink(EventSink* s) noexcept {
  detail::g_sink_generation.fetch_add(1, std::memory_order_acq_rel);
  return detail::g_sink.exchange(s, std::memory_order_acq_rel);
}

}  // namespace ctxscope
