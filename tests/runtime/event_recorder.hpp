// Test support: record the runtime's events (detail/events.hpp) for one test.
//
//   ScopedRecorder rec;                 // installs the recording sink, cleared
//   ... exercise the runtime ...
//   auto e = rec.only(EventType::ctx_create, ctx.id());
//
// The sink object is static (a sink must stay valid forever once installed:
// a thread that already loaded the pointer may still call it after removal).
// Events of other tests' stray threads may arrive, so queries filter by the
// ids the test knows.  `wait_until` is the flush barrier tests use instead of
// sleeps: it returns as soon as a matching event has been recorded (and fails
// the test after a generous hang-detector limit).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "ctxscope/detail/events.hpp"

namespace ctxscope::testing {

/// Hang detector for every "wait until X happened" in these tests: far above
/// any legitimate time, so it cannot flake; it only turns a hang into a failure.
inline constexpr std::chrono::seconds kHangLimit{20};

class RecordingSink final : public EventSink {
 public:
  /// Records events in their separate form: a ctx_cancel that carries its
  /// release (kCancelReleases) is recorded as the cancel and the release, as the
  /// trace writer does; raw() keeps what the runtime emitted.
  void on_event(const Event& e) noexcept override {
    std::lock_guard g(mu_);
    raw_.push_back(e);
    if (releases_in_cancel(e)) {
      const SplitRelease sr = split_release(e);
      events_.push_back(sr.cancel);
      events_.push_back(sr.release);
    } else {
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  std::vector<Event> raw() const {
    std::lock_guard g(mu_);
    return raw_;
  }
  void clear() {
    std::lock_guard g(mu_);
    events_.clear();
    raw_.clear();
  }
  std::vector<Event> snapshot() const {
    std::lock_guard g(mu_);
    return events_;
  }
  /// Blocks until some recorded event satisfies `pred`; false after kHangLimit.
  bool wait_until(const std::function<bool(const Event&)>& pred) const {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kHangLimit,
                        [&] { return std::any_of(events_.begin(), events_.end(), pred); });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Event> events_, raw_;
};

inline RecordingSink& recording_sink() {
  static RecordingSink* s = new RecordingSink;  // never destroyed (sink contract)
  return *s;
}

/// Installs the recording sink (cleared) for its lifetime; restores the old one.
class ScopedRecorder {
 public:
  ScopedRecorder() {
    recording_sink().clear();
    old_ = install_event_sink(&recording_sink());
  }
  ~ScopedRecorder() { install_event_sink(old_); }
  ScopedRecorder(const ScopedRecorder&) = delete;
  ScopedRecorder& operator=(const ScopedRecorder&) = delete;

  std::vector<Event> all() const { return recording_sink().snapshot(); }
  /// Every event as the runtime emitted it (own releases folded into their cancel).
  std::vector<Event> raw() const { return recording_sink().raw(); }

  /// Every event of type `t` whose primary id is `id`, in emission order.
  std::vector<Event> of(EventType t, std::uint64_t id) const {
    std::vector<Event> out;
    for (const Event& e : all())
      if (e.type == t && e.id == id) out.push_back(e);
    return out;
  }
  /// Every event of type `t` matching `pred`.
  std::vector<Event> where(EventType t, const std::function<bool(const Event&)>& pred) const {
    std::vector<Event> out;
    for (const Event& e : all())
      if (e.type == t && pred(e)) out.push_back(e);
    return out;
  }
  /// Every event (any type) about object `id` (primary id).
  std::vector<Event> about(std::uint64_t id) const {
    std::vector<Event> out;
    for (const Event& e : all())
      if (e.id == id) out.push_back(e);
    return out;
  }
  /// The one event of type `t` about `id`; fails the test (and returns a
  /// default Event) unless there is exactly one.
  Event only(EventType t, std::uint64_t id) const {
    auto v = of(t, id);
    EXPECT_EQ(v.size(), 1u) << "expected exactly one " << to_string(t) << " for id " << id;
    return v.empty() ? Event{} : v.front();
  }
  bool wait_until(const std::function<bool(const Event&)>& pred) const {
    return recording_sink().wait_until(pred);
  }
  /// Waits until a wait_begin on object `object_id` of kind `obj` is recorded:
  /// the proof that a thread is blocked (or about to park) in that operation.
  bool wait_blocked(WaitObject obj, std::uint64_t object_id) const {
    return wait_until([&](const Event& e) {
      return e.type == EventType::wait_begin && e.kind == static_cast<std::uint8_t>(obj) &&
             e.value == object_id;
    });
  }
  /// Same, for a wait whose done case is context `ctx_id`.
  bool wait_blocked_on_ctx(std::uint64_t ctx_id) const {
    return wait_until([&](const Event& e) { return e.type == EventType::wait_begin && e.ref == ctx_id; });
  }

 private:
  EventSink* old_;
};

/// Polls `pred` (yielding) until true; false after kHangLimit.  For state
/// that no event announces (e.g. an atomic counter set by a worker).
inline bool eventually(const std::function<bool()>& pred) {
  const auto until = std::chrono::steady_clock::now() + kHangLimit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

/// True when built with ThreadSanitizer or AddressSanitizer (stress sizes shrink).
inline constexpr bool kSanitized =
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace ctxscope::testing
