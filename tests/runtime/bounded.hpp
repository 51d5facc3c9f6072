// Test support: blocking operations with a hang detector.  A broken runtime
// makes these fail the test after testing::kHangLimit instead of hanging the
// whole suite; the limit is never a timing assertion.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>
#include <system_error>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "runtime/event_recorder.hpp"

namespace ctxscope::testing {

/// ch.recv(), failing the test (nullopt) if nothing arrives within kHangLimit.
template <class T>
std::optional<T> recv_bounded(Chan<T>& ch) {
  auto [limit, stop] = with_timeout(background(), kHangLimit);
  Received<T> r = ch.recv(limit);
  stop();
  if (r.err) ADD_FAILURE() << "hang detector: nothing received on channel " << ch.id();
  return std::move(r.value);
}

/// Waits for ctx to be done and returns its err(); fails the test on a hang.
inline std::error_code await_done(const Context& c) {
  auto [limit, stop] = with_timeout(background(), kHangLimit);
  if (select(c.done(), limit.done()) == 1) {
    ADD_FAILURE() << "hang detector: context " << c.id() << " never became done";
    return {};
  }
  stop();
  return c.err();
}

/// Every value 0..n-1 received exactly once (in any order).
inline void expect_each_once(std::vector<int> got, int n) {
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  std::sort(got.begin(), got.end());
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i) << "value lost or duplicated";
}

/// The outcomes of `waiters` receivers (1: closed, nothing received) and as
/// many senders (2: threw) blocked on channels that were then closed; 0 is a
/// waiter that completed instead.
inline void expect_all_ended_by_close(Chan<int>& outcomes, int waiters) {
  int sum = 0;
  for (int i = 0; i < 2 * waiters; ++i) {
    auto o = recv_bounded(outcomes);
    ASSERT_TRUE(o);
    ASSERT_NE(*o, 0) << "a waiter completed on a closed channel";
    sum += *o;
  }
  EXPECT_EQ(sum, waiters * 3);
}

/// Blocked operations of kind `obj` recorded so far on channel `id`.
inline std::size_t blocked_count(const ScopedRecorder& rec, WaitObject obj, std::uint64_t id) {
  return rec
      .where(EventType::wait_begin,
             [&](const Event& e) { return e.kind == static_cast<std::uint8_t>(obj) && e.value == id; })
      .size();
}
/// Waits (hang detector only) until `n` operations have blocked on channel
/// `id`: an operation is parked or queued when its wait_begin is recorded.
inline void until_blocked(const ScopedRecorder& rec, WaitObject obj, std::uint64_t id, std::size_t n) {
  ASSERT_TRUE(eventually([&] { return blocked_count(rec, obj, id) >= n; }))
      << "hang detector: " << n << " blocked operations expected on channel " << id;
}

/// wg.wait(), failing the test on a hang.
inline void wait_bounded(const WaitGroup& wg) {
  auto [limit, stop] = with_timeout(background(), kHangLimit);
  if (wg.wait(limit)) ADD_FAILURE() << "hang detector: WaitGroup never reached zero";
  stop();
}

}  // namespace ctxscope::testing
