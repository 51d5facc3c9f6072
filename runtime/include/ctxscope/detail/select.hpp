// ctxscope/detail/select.hpp — the one blocking engine behind every wait.
//
// Channel send/recv, select, WaitGroup::wait, Group::wait, sleep_for and
// Done::wait are all `select_impl` over a few SelectCases, so every blocking
// operation is recorded the same way (wait_begin / wait_end) and observes
// `ctx.done()` the same way.  (One exception: a blind unbuffered send or
// receive that finds nobody else waiting parks in the channel's fast slot,
// ChanState::recv_or_park, and records its wait with record_wait_begin /
// record_wait_end exactly as a one-case select would.)
// The protocol is Go's sudog protocol:
//  1. lock every case's lock (sorted by address, so two selects never deadlock),
//  2. poll the cases in a random permutation and complete the first ready one
//     (uniform choice among ready cases, like Go),
//  3. otherwise enqueue a Waiter entry on every case, unlock, and park;
//  4. a waker claims the waiter with one CAS on `fired` (so exactly one case
//     wins), completes the transfer, then wakes it;
//  5. the woken thread dequeues its other entries.
//  6. if the winning case asks to retry (SelectCase::retry: a buffered
//     channel wakes a waiter instead of handing it a value), back to 1: the
//     same wait, recorded once.
// Context done cases have no lock of their own in step 1 (their state is one
// atomic); they register a listener after the channel locks are released, and
// the CAS in step 4 keeps the result exact.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14

#include "ctxscope/detail/events.hpp"
#include "ctxscope/detail/lock.hpp"

namespace ctxscope::detail {

/// Wakes a thread asleep on `a` (FUTEX_WAKE).  Safe even if the memory is
/// already gone: the kernel only uses the address as a key.
void futex_wake(std::atomic<std::uint32_t>* a) noexcept;

/// What a thread is doing, published for the threads that might spin waiting
/// for it (see Waiter::park).  One per thread, cache-line sized, never freed:
/// records of exited threads are reused, so a stale pointer held by a channel
/// still points at a valid record (it only makes a spin decision less exact).
struct alignas(64) ThreadRec {
  enum : std::uint32_t { running = 0, parked = 2 };
  /// parked: asleep in the kernel (from just before its futex wait until it
  /// runs again), or exited; running: anything else, spinning included.
  std::atomic<std::uint32_t> state{running};
  /// The CPU it last ran on, refreshed when it parks, wakes and while it spins:
  /// a partner runnable on *my* CPU cannot run while I spin, so I must not.
  std::atomic<std::int32_t> cpu{-1};
  /// Adaptive partner-spin budget (ns), the owner's only: halved when a spin
  /// runs out without a wake-up, doubled when one succeeds (glibc's adaptive
  /// mutex idea), between 1 us and the maximum (select.cpp).
  std::uint32_t spin_budget_ns = 0;  ///< 0: not set yet
  ThreadRec* next_free = nullptr;             ///< pool link (under the pool's lock)
};
/// The calling thread's record.
ThreadRec* this_thread_rec() noexcept;

/// Spins while `partner` may be running on another CPU, until `ready(arg)`
/// (the partner spin of Waiter::park, with the calling thread's adaptive
/// budget; see docs/performance.md, "Spin policy").  The channels call it
/// before they wait, so that a partner about to make the operation possible
/// is not made to hand over through the wait queue.  True once ready; false
/// when it gave up (no partner, partner parked or on our CPU, budget spent).
bool spin_until(ThreadRec* partner, bool (*ready)(const void*), const void* arg) noexcept;

/// One parked thread.  Lives on the stack of the blocking call.
struct Waiter {
  std::atomic<int> fired{-1};
  std::atomic<std::uint32_t> woke{0};  ///< 0 running, 2 asleep, 1 woken
  ThreadRec* me = nullptr;       ///< the parking thread's record (set by select_impl)
  /// The thread expected to complete this wait, when a case knows one (the
  /// last thread seen on the other side of a channel).  Set by enqueue() on the
  /// parking thread; park() spins only while this thread is on a CPU.
  ThreadRec* partner = nullptr;

  /// enqueue(): `p` is a candidate partner.  Keeps one that is not parked.
  void consider(ThreadRec* p) noexcept {
    if (p == nullptr || p == me) return;
    if (partner == nullptr || partner->state.load(std::memory_order_relaxed) == ThreadRec::parked) partner = p;
  }

  /// Claims the waiter for case `idx`; true for exactly one caller.
  bool try_fire(int idx) noexcept {
    int expected = -1;
    return fired.compare_exchange_strong(expected, idx, std::memory_order_acq_rel);
  }
  /// Publishes the completed case to the parked thread.  After this call the
  /// waker must not touch the Waiter (it may be gone).
  void wake() noexcept {
    if (woke.exchange(1, std::memory_order_acq_rel) == 2) futex_wake(&woke);
  }
  void park() noexcept;
  /// Ready for another round of the same select (step 6): nobody holds it.
  void reset() noexcept {
    fired.store(-1, std::memory_order_relaxed);
    woke.store(0, std::memory_order_relaxed);
    partner = nullptr;
  }
  /// Parks until woken or `deadline_ns` (steady ns) passes; false on timeout.
  bool park_until(std::uint64_t deadline_ns) noexcept;
};

class SelectCase {
 public:
  /// The lock that guards this case's readiness, or nullptr for lock-free cases
  /// (context done), which are polled by try_now without a lock and enqueue with
  /// their own locking.
  virtual Lock* lock() noexcept { return nullptr; }
  /// Under lock(): completes the operation if it can proceed now.
  virtual bool try_now() = 0;
  /// Under lock() (lock-free cases: takes its own lock; may fire at once).
  virtual void enqueue(Waiter* w, int idx) = 0;
  /// Removes the entry if still queued (takes its own lock).
  virtual void dequeue() noexcept = 0;
  /// Runs on the selecting thread after this case won (e.g. a send case whose
  /// channel was closed throws here).  Called after wait_end is recorded.
  virtual void finish() {}
  /// What the trace says about this case.
  virtual WaitObject object() const noexcept = 0;
  virtual std::uint64_t object_id() const noexcept { return 0; }
  virtual const char* label() const noexcept { return nullptr; }
  /// Non-zero for a context done case: the context's id.
  virtual std::uint64_t done_ctx() const noexcept { return 0; }
  /// Outcome recorded when this case wins.
  virtual WaitOutcome outcome() const noexcept { return WaitOutcome::value; }
  /// After this case fired: true when the waker did not complete it but
  /// asks the select to poll its cases again (a buffered channel's waiter,
  /// woken because its operation may have become possible; see ChanCore).
  virtual bool retry() const noexcept { return false; }
  /// Before a retry round, without any lock: waits out what made the case
  /// look not ready under the lock although it was about to be (a buffered
  /// channel's slot claimed by another thread, not yet completed).
  virtual void settle() noexcept {}
  /// After try_now() returned false: whether it could not tell because
  /// another thread's operation on the same buffer was half done.  The
  /// select then releases its locks, settle()s, and polls again — so a
  /// select with a default case does not take the default for it.
  virtual bool busy() const noexcept { return false; }

  std::source_location site{};
  bool is_default = false;

 protected:
  ~SelectCase() = default;
};

/// A select's `default:` — makes the select non-blocking.
class DefaultCase final : public SelectCase {
 public:
  explicit DefaultCase(std::source_location loc = std::source_location::current()) noexcept {
    site = loc;
    is_default = true;
  }
  bool try_now() override { return false; }
  void enqueue(Waiter*, int) override {}
  void dequeue() noexcept override {}
  WaitObject object() const noexcept override { return WaitObject::select; }
  WaitOutcome outcome() const noexcept override { return WaitOutcome::default_; }
};

inline constexpr std::size_t timed_out = static_cast<std::size_t>(-1);

/// Runs the protocol above.  Returns the winning case index, or `timed_out`
/// when `deadline_ns` (steady ns, 0 = none) passed first.  `obj` / `obj_id` /
/// `obj_label` override what the trace records as the waited-on object
/// (WaitGroup, Group, sleep); by default a single case names itself and several
/// cases are a `select`.
std::size_t select_impl(SelectCase* const* cases, std::size_t n, std::uint64_t deadline_ns = 0,
                        const WaitObject* obj = nullptr, std::uint64_t obj_id = 0,
                        const char* obj_label = nullptr);

/// Records a one-case blocking operation that waits outside select_impl (an
/// unbuffered channel's fast slot, ChanState::wait_fast) exactly as
/// select_impl records a one-case wait.  Returns the wait's id for
/// record_wait_end.
std::uint64_t record_wait_begin(EventSink* s, WaitObject obj, std::uint64_t obj_id, const char* label,
                                std::source_location site) noexcept;
void record_wait_end(EventSink* s, std::uint64_t wait_id, WaitOutcome out) noexcept;

/// Uniform random number in [0, n) from a per-thread generator.
std::uint32_t fast_rand(std::uint32_t n) noexcept;

}  // namespace ctxscope::detail
