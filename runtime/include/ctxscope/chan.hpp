// ctxscope/chan.hpp — Go channels and select.
//
// Chan<T> is a handle: copies share one channel (like Go's channel values).
//   Chan<int> ch;        // unbuffered: a send waits for a receiver (rendezvous)
//   Chan<int> ch(8);     // buffered: a send waits only when 8 values are queued
//
// Operations:
//   ch.send(v)            blind: blocks until delivered; observes no context
//   ch.recv()             blind: std::optional<T>; nullopt once closed and drained
//   ch.send(ctx, v)       gives up with ctx.err() if ctx is done first ({} if sent)
//   ch.recv(ctx)          Received<T>{value, err}: err = ctx.err() if ctx is done first
//   ch.close()            wakes every receiver (nullopt) and every blocked sender
//   select(ch.on_recv(out), other.on_send(v), ctx.done(), DefaultCase{})
//                         -> index of the case that ran; uniformly random among
//                            the ready ones, like Go; blocks unless a DefaultCase
//                            is given.
//
// Errors (Go panics; C++ throws, since both are program bugs): sending on a
// closed channel, including a sender blocked when the channel is closed, throws
// `closed_channel_error`; closing a closed channel throws `closed_channel_error`.
//
// Thread safety: every operation may be called from any thread.  Every blocking
// operation is recorded as a wait (detail/events.hpp); operations that complete
// without blocking are not, except a ctx-aware operation that finds its context
// already done (recorded as a zero-length wait ending in `done`).
#pragma once

#include <atomic>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <optional>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14
#include <stdexcept>
#include <system_error>
#include <utility>

#include "ctxscope/context.hpp"
#include "ctxscope/detail/lock.hpp"
#include "ctxscope/detail/select.hpp"

namespace ctxscope {

class closed_channel_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

/// A waiting send or receive queued on a channel (the Go runtime's sudog).
struct ChanEntry {
  ChanEntry* prev = nullptr;
  ChanEntry* next = nullptr;
  Waiter* w = nullptr;
  int idx = 0;
  bool linked = false;
  bool closed = false;  ///< set by close() when it woke this entry
  bool retry = false;   ///< woken to poll its select again (buffered channels)
  void* slot = nullptr; ///< recv: std::optional<T>* to fill; send: T* to take
};

struct WaitQueue {
  ChanEntry* head = nullptr;
  ChanEntry* tail = nullptr;
  void push(ChanEntry* e) noexcept;
  void remove(ChanEntry* e) noexcept;
  ChanEntry* pop() noexcept;  ///< nullptr if empty
};

struct ChanCore {
  ChanCore(std::size_t cap, const char* label, std::source_location site) noexcept;
  // ---- The first cache line: everything an unbuffered handoff through the
  // fast slot touches (lock, slot state, the parked thread's Waiter, the
  // value), so that a handoff moves this one line between the two cores.
  Lock lock;
  /// Unbuffered channels: the fast slot — one blind send or receive parked
  /// in the channel itself instead of in a wait queue (Chan::send / recv;
  /// see ChanState::recv_or_park).  All changes under lock: kFastRecv /
  /// kFastSend when a thread parks there, kFastTaken when a partner (or
  /// close) completes it, kFastFree again when a later parker finds that the
  /// taken slot's thread has read its result (`fast_ack`, below, equals the
  /// slot's generation) — the woken thread itself writes nothing on this
  /// line, so the line does not have to come back to it.  A thread parks
  /// there only when both wait queues are empty, and every lock holder serves
  /// the slot before the queues, so the order of waiters stays first come,
  /// first served.  The low two bits are the state, the rest the generation:
  /// one more for every thread that parks.
  enum : std::uint32_t { kFastFree = 0, kFastRecv = 1, kFastSend = 2, kFastTaken = 3, kFastStateMask = 3 };
  std::atomic<std::uint32_t> fast{kFastFree};
  /// Written under lock; atomic so that a thread polling before it waits
  /// (Chan::send / recv, spin_until) may read it without the lock.  On a
  /// buffered channel the ring's `tail` carries the closed bit that orders
  /// close against lock-free sends; this flag is the lock holders' copy.
  std::atomic<bool> closed{false};
  /// The fast slot's thread was woken by close(), not by a partner.
  bool fast_closed = false;
  /// The fast slot's thread parks on this (Waiter::park: the same spin
  /// policy as the engine); the partner that takes the slot wakes it.
  Waiter fast_w;
  /// The fast slot's value (ChanState::fast_val) when it fits here.
  static constexpr std::size_t kFastBuf = 24;
  alignas(8) unsigned char fast_buf[kFastBuf];
  // ---- Read-mostly from here on.
  std::size_t cap;
  std::uint64_t id;
  const char* label;
  WaitQueue recvq, sendq;
  /// The last thread seen blocking on, or completing a blocked operation of,
  /// each side (under lock): the partner a new waiter on the other side spins
  /// for (Waiter::partner).  Records are never freed, so these may be stale,
  /// never dangling.  Atomic (relaxed) because a thread polling before it
  /// waits reads them without the lock; stored only when they change.
  std::atomic<ThreadRec*> sender{nullptr};
  std::atomic<ThreadRec*> receiver{nullptr};
  /// Buffered channels: which wait queues are non-empty (kRecvWait,
  /// kSendWait).  Changed under lock only, read by the lock-free ring
  /// operations after their own position update (both seq_cst: a queued
  /// waiter's re-check and a ring operation cannot both miss each other).
  /// On its own cache line: read by both sides on every element, written
  /// only when a thread queues or leaves.
  enum : std::uint32_t { kRecvWait = 1, kSendWait = 2 };
  alignas(64) std::atomic<std::uint32_t> waiting{0};
  /// Unbuffered channels (which never touch `waiting`): the generation of
  /// the last fast-slot thread that has taken its result and will not touch
  /// the channel again.  Written by that thread only, off the handoff's line
  /// (ChanState::wait_fast); read under lock by the next parker, and by the
  /// destructor, which waits for it: a thread woken in the slot reads its
  /// value from the channel after the wake-up, and the partner that woke it
  /// may destroy the channel as soon as its send or receive returned (as a
  /// std::condition_variable may be destroyed once its waiters are notified).
  std::atomic<std::uint32_t> fast_ack{0};

  static void note_side(std::atomic<ThreadRec*>& side, ThreadRec* me) noexcept {
    if (side.load(std::memory_order_relaxed) != me) side.store(me, std::memory_order_relaxed);
  }
  /// Under lock: the queue `q` (flag `bit` of `waiting`) got an entry.
  /// Always an RMW (seq_cst), even when the bit is already set: the queued
  /// thread's re-check of the ring must follow a write of its own in the
  /// single total order, or a ring operation reading `waiting` could miss it.
  void note_queued(std::uint32_t bit) noexcept { waiting.fetch_or(bit, std::memory_order_seq_cst); }
  /// Under lock: clears `bit` once `q` is empty.
  void note_left(const WaitQueue& q, std::uint32_t bit) noexcept {
    if (q.head == nullptr && (waiting.load(std::memory_order_relaxed) & bit) != 0)
      waiting.fetch_and(~bit, std::memory_order_seq_cst);
  }
  /// Under lock (buffered channels): claims the first waiter of `q` that can
  /// still be claimed and marks it to *retry* — to poll its select again —
  /// instead of handing it a value: the ring is shared with lock-free
  /// operations, so the value the waker saw may be taken by someone else
  /// before the woken thread runs; a retrying waiter then waits again.
  ChanEntry* claim_retry(WaitQueue& q, std::uint32_t bit) noexcept;
  /// A lock-free ring operation found `bit` set: claims one waiter of `q` to
  /// retry (takes the lock) and returns it for the caller to wake.
  Waiter* kick(WaitQueue& q, std::uint32_t bit) noexcept;
  void announce(std::source_location site) noexcept;
  void note_close(std::source_location site) noexcept;
  [[noreturn]] static void throw_closed(const char* what);
};

/// A ring slot's pending publish (send) or release (receive): completed last.
struct RingPending {
  std::atomic<std::uint64_t>* word = nullptr;
  std::uint64_t seq = 0;
  void complete() noexcept {
    if (word != nullptr) {
      word->store(seq, std::memory_order_release);
      word = nullptr;
    }
  }
};

/// Back-off while another thread is between the two steps of a ring
/// operation (claimed a position, not yet published the slot): pauses, then
/// yields.
void ring_backoff(unsigned round) noexcept;

template <class T>
struct ChanState : ChanCore {
  ChanState(std::size_t c, const char* l, std::source_location s)
      : ChanCore(c, l, s),
        cells(c ? new Slot[c] : nullptr),
        mask((c & (c - 1)) == 0 ? c - 1 : 0),
        pow2(c != 0 && (c & (c - 1)) == 0) {
    for (std::size_t i = 0; i < c; ++i) cells[i].seq.store(2 * i, std::memory_order_relaxed);
    if constexpr (kFastInline) ::new (static_cast<void*>(fast_buf)) std::optional<T>();
  }
  ~ChanState() {
    // A woken fast-slot thread may still be reading its result (fast_ack).
    if (const std::uint32_t f = fast.load(std::memory_order_acquire); (f & kFastStateMask) == kFastTaken)
      for (unsigned round = 0; fast_ack.load(std::memory_order_acquire) != (f >> 2); ++round) ring_backoff(round);
    if constexpr (kFastInline) fast_val().~optional();
  }
  ChanState(const ChanState&) = delete;
  ChanState& operator=(const ChanState&) = delete;

  // ---- Buffered channels: a lock-free ring (Vyukov's bounded MPMC queue).
  // A send claims position `tail` with a CAS once its slot is free for that
  // position (slot.seq = 2 pos), writes the slot and publishes it (seq =
  // 2 pos + 1); a receive claims `head` with a CAS once the slot at head is
  // published, moves the value out and frees the slot for the next lap
  // (seq = 2 (pos + cap)).  Sequence numbers are doubled so that a capacity
  // of 1 works (Vyukov's pos + 1 / pos + cap would coincide).  With one producer and one consumer each
  // position word stays in its owner's cache and slot lines move once per
  // few elements, where a locked ring moved the lock's line twice per element.
  // The channel lock only guards the wait queues: a thread that must wait
  // queues itself under the lock, sets `waiting`, and re-checks the ring; a
  // ring operation that then sees `waiting` wakes one queued thread to retry.
  // close() sets kClosed in `tail` under the lock: no send can claim a
  // position after it, and every position claimed before it is delivered.
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  struct Slot {
    std::atomic<std::uint64_t> seq{0};
    /// Disengaged in a published slot: the sender's move threw.  Receivers
    /// skip it; until one does, it counts against the capacity (a T whose
    /// move constructor throws is the only way to get one).
    std::optional<T> val;
  };
  std::unique_ptr<Slot[]> cells;  // not `slots`: a macro wherever Qt is included
  std::size_t mask;
  bool pow2;
  /// Unbuffered: the fast slot's value lives in ChanCore::fast_buf (on the
  /// handoff's cache line) when it fits, else here.
  static constexpr bool kFastInline =
      sizeof(std::optional<T>) <= kFastBuf && alignof(std::optional<T>) <= 8;
  struct NoValue {};
  [[no_unique_address]] std::conditional_t<kFastInline, NoValue, std::optional<T>> fast_big_;
  std::optional<T>& fast_val() noexcept {
    if constexpr (kFastInline) return *std::launder(reinterpret_cast<std::optional<T>*>(fast_buf));
    else return fast_big_;
  }
  alignas(64) std::atomic<std::uint64_t> tail{0};  ///< next send position | kClosed
  alignas(64) std::atomic<std::uint64_t> head{0};  ///< next receive position
  char pad_[64 - sizeof(std::atomic<std::uint64_t>)];

  Slot& slot_at(std::uint64_t pos) noexcept { return cells[pow2 ? (pos & mask) : (pos % cap)]; }

  // Two phases: ring_send / ring_recv claim a position and move the value,
  // and leave the slot's publish (send) or release (receive) in a
  // RingPending that the caller completes last.  Once a value is published
  // (or a slot released) the other side may complete, and may at once destroy
  // the last handle — even the very Chan object this thread calls through —
  // so whatever else the operation must do with the channel (wake a queued
  // thread: `kick`; unlock, in the engine) comes before the completion.
  // A thread that holds the channel lock never waits for another's pending
  // completion (`may_wait` false: it gets `busy`), since that thread may be
  // waiting for the lock to kick; without the lock it may (backing off).
  enum class Put { sent, full, closed, busy };
  /// Lock-free send into the ring; `v` is moved only when sent.
  Put ring_send(T& v, RingPending& pend, bool may_wait) {
    std::uint64_t pos = tail.load(std::memory_order_relaxed);
    for (unsigned round = 0;;) {
      if (pos & kClosed) return Put::closed;
      Slot& s = slot_at(pos);
      const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - 2 * pos);
      if (dif == 0) {
        if (tail.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          struct Publish {  // only when the move throws: receivers skip the empty slot
            Slot* s;
            std::uint64_t seq;
            ~Publish() {
              if (s != nullptr) s->seq.store(seq, std::memory_order_release);
            }
          } on_throw{&s, 2 * pos + 1};
          s.val.emplace(std::move(v));
          on_throw.s = nullptr;
          pend = RingPending{&s.seq, 2 * pos + 1};
          return Put::sent;
        }
        continue;  // pos reloaded by the failed CAS
      }
      if (dif < 0) {
        // The slot still holds the value of position pos - cap: full, or
        // that value's receive has claimed it and not released it yet.
        const std::uint64_t h = head.load(std::memory_order_seq_cst);
        const std::uint64_t t = tail.load(std::memory_order_relaxed);
        if (t != pos) {
          pos = t;
          continue;
        }
        if (pos - h >= cap) return Put::full;
        if (!may_wait) return Put::busy;
        ring_backoff(round++);
        continue;
      }
      pos = tail.load(std::memory_order_relaxed);  // another sender took pos
    }
  }

  enum class Take { value, empty, closed, busy };
  /// Lock-free receive from the ring into `out`.
  Take ring_recv(std::optional<T>& out, RingPending& pend, bool may_wait) {
    std::uint64_t pos = head.load(std::memory_order_relaxed);
    for (unsigned round = 0;;) {
      Slot& s = slot_at(pos);
      const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
      const auto dif = static_cast<std::int64_t>(seq - (2 * pos + 1));
      if (dif == 0) {
        if (head.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          struct Release {  // now if there is no value or its move throws (it is gone with the exception)
            Slot* s;
            std::uint64_t seq;
            ~Release() {
              if (s != nullptr) {
                s->val.reset();
                s->seq.store(seq, std::memory_order_release);
              }
            }
          } now{&s, 2 * (pos + cap)};
          if (!s.val) {  // a send whose move threw: no value here
            pos = head.load(std::memory_order_relaxed);
            continue;
          }
          out.emplace(std::move(*s.val));
          s.val.reset();
          now.s = nullptr;
          pend = RingPending{&s.seq, 2 * (pos + cap)};
          return Take::value;
        }
        continue;
      }
      if (dif < 0) {
        // Not published: empty, or a send that claimed pos and has not
        // published it yet.
        const std::uint64_t t = tail.load(std::memory_order_seq_cst);
        const std::uint64_t h = head.load(std::memory_order_relaxed);
        if (h != pos) {
          pos = h;
          continue;
        }
        if ((t & ~kClosed) == pos) return (t & kClosed) ? Take::closed : Take::empty;
        if (!may_wait) return Take::busy;
        ring_backoff(round++);  // claimed before any close: it will be published
        continue;
      }
      pos = head.load(std::memory_order_relaxed);  // another receiver took pos
    }
  }
  /// Without the lock, before a select's retry round: waits out a pending
  /// completion that made the ring look busy under the lock.
  void settle_recv() noexcept {
    for (unsigned round = 0;;) {
      const std::uint64_t h = head.load(std::memory_order_acquire);
      const std::uint64_t t = tail.load(std::memory_order_acquire) & ~kClosed;
      if (t == h || slot_at(h).seq.load(std::memory_order_acquire) == 2 * h + 1) return;
      if (head.load(std::memory_order_acquire) == h) ring_backoff(round++);
    }
  }
  void settle_send() noexcept {
    for (unsigned round = 0;;) {
      const std::uint64_t t0 = tail.load(std::memory_order_acquire);
      if (t0 & kClosed) return;
      const std::uint64_t h = head.load(std::memory_order_acquire);
      if (t0 - h >= cap || slot_at(t0).seq.load(std::memory_order_acquire) == 2 * t0) return;
      if (tail.load(std::memory_order_acquire) == t0) ring_backoff(round++);
    }
  }
  /// Lock-free hints for a thread polling before it waits (spin_until) and
  /// for a queued waiter's re-check: the operation may be possible now.
  bool may_recv() const noexcept {
    const std::uint64_t t = tail.load(std::memory_order_seq_cst);
    return (t & kClosed) != 0 || t != head.load(std::memory_order_seq_cst);
  }
  bool may_send() const noexcept {
    const std::uint64_t h = head.load(std::memory_order_seq_cst);
    const std::uint64_t t = tail.load(std::memory_order_seq_cst);
    return (t & kClosed) != 0 || t - h < cap;
  }
  /// The polls of a thread spinning before it waits (spin_until): they read
  /// only the slot it would take next and lines nobody writes per element
  /// (not the other side's position word, which every operation of the
  /// other side writes); a close is seen through `closed`.
  static bool recv_ready(const void* self) noexcept {
    auto* c = static_cast<const ChanState*>(self);
    const std::uint64_t h = c->head.load(std::memory_order_relaxed);
    return c->cells[c->pow2 ? (h & c->mask) : (h % c->cap)].seq.load(std::memory_order_relaxed) == 2 * h + 1 ||
           c->closed.load(std::memory_order_relaxed);
  }
  static bool send_ready(const void* self) noexcept {
    auto* c = static_cast<const ChanState*>(self);
    const std::uint64_t t = c->tail.load(std::memory_order_relaxed);
    return (t & kClosed) != 0 ||
           c->cells[c->pow2 ? (t & c->mask) : (t % c->cap)].seq.load(std::memory_order_relaxed) == 2 * t ||
           c->closed.load(std::memory_order_relaxed);
  }
  std::size_t size() const noexcept {
    const std::uint64_t h = head.load(std::memory_order_acquire);
    const std::uint64_t t = tail.load(std::memory_order_acquire) & ~kClosed;
    return t > h ? static_cast<std::size_t>(std::min<std::uint64_t>(t - h, cap)) : 0;
  }
  /// After a lock-free send / receive claimed its position, before its
  /// completion: claims a queued thread of the other kind to retry, if there
  /// is one (see `waiting`); the caller wakes it after the completion.
  Waiter* kick_recv() noexcept {
    return (waiting.load(std::memory_order_seq_cst) & kRecvWait) ? kick(recvq, kRecvWait) : nullptr;
  }
  Waiter* kick_send() noexcept {
    return (waiting.load(std::memory_order_seq_cst) & kSendWait) ? kick(sendq, kSendWait) : nullptr;
  }

  // ---- Unbuffered channels: a rendezvous through the wait queues (under lock).

  /// A blocked waiter claimed from `q`, or nullptr.  The claiming thread is
  /// recorded as the last one on its side (`self`: sender or receiver).
  ChanEntry* claim(WaitQueue& q, std::atomic<ThreadRec*>& self) {
    while (ChanEntry* e = q.pop())
      if (e->w->try_fire(e->idx)) {
        note_side(self, this_thread_rec());
        return e;
      }
    return nullptr;
  }
  ChanEntry* claim_for_close(WaitQueue& q) {
    while (ChanEntry* e = q.pop())
      if (e->w->try_fire(e->idx)) return e;
    return nullptr;
  }
  // Wakes are deferred: the try_* functions return the claimed waiter in
  // `wake` and the caller wakes it after releasing the lock (as Go does).  A
  // woken thread may at once destroy the last handle — even the very Chan
  // object the waker is calling through, when threads share it by reference —
  // so nothing of the channel may be touched after a wake-up.

  /// Under lock: receive now if possible.  `closed_out` set when closed+drained.
  /// Buffered: the slot's release is left in `pend`, for after the unlock.
  bool try_recv(std::optional<T>& out, bool& closed_out, Waiter*& wake, RingPending& pend, bool& busy) {
    busy = false;
    if (cap != 0) {
      switch (ring_recv(out, pend, false)) {
        case Take::value:
          if (ChanEntry* e = claim_retry(sendq, kSendWait)) wake = e->w;  // a slot was freed
          return true;
        case Take::closed:
          out.reset();
          closed_out = true;
          return true;
        case Take::empty:
          return false;
        case Take::busy:  // select_impl waits it out unlocked (settle_recv) and polls again
          busy = true;
          return false;
      }
    }
    if (fast_state() == kFastSend) {  // older than any queued sender
      out.emplace(std::move(*fast_val()));  // if this throws, the sender stays parked
      set_fast_state(kFastTaken);
      note_side(receiver, this_thread_rec());
      wake = &fast_w;
      return true;
    }
    if (ChanEntry* s = claim(sendq, receiver)) {
      out.emplace(std::move(*static_cast<T*>(s->slot)));
      wake = s->w;
      return true;
    }
    if (closed.load(std::memory_order_relaxed)) {
      out.reset();
      closed_out = true;
      return true;
    }
    return false;
  }
  /// Under lock: send now if possible.  On a closed channel sets `closed_out`.
  /// Buffered: the slot's publish is left in `pend`, for after the unlock.
  bool try_send(T& v, bool& closed_out, Waiter*& wake, RingPending& pend, bool& busy) {
    busy = false;
    if (cap != 0) {
      switch (ring_send(v, pend, false)) {
        case Put::sent:
          if (ChanEntry* e = claim_retry(recvq, kRecvWait)) wake = e->w;
          return true;
        case Put::closed:
          closed_out = true;
          return true;
        case Put::full:
          return false;
        case Put::busy:
          busy = true;
          return false;
      }
    }
    if (closed.load(std::memory_order_relaxed)) {
      closed_out = true;
      return true;
    }
    if (fast_state() == kFastRecv) {  // older than any queued receiver
      fast_val().emplace(std::move(v));  // if this throws, the receiver stays parked
      set_fast_state(kFastTaken);
      note_side(sender, this_thread_rec());
      wake = &fast_w;
      return true;
    }
    if (ChanEntry* r = claim(recvq, sender)) {
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
      wake = r->w;
      return true;
    }
    return false;
  }
  /// Under lock: closes and claims every waiter; returns them chained through
  /// ChanEntry::next (entries off every queue, untouched by anyone until
  /// woken) for wake_chain() after the lock is released.  Receivers of a
  /// buffered channel are told to retry: values sent before the close may
  /// still be in the ring, and they get those first.
  ChanEntry* close_locked() {
    closed.store(true, std::memory_order_relaxed);
    if (cap != 0) tail.fetch_or(kClosed, std::memory_order_seq_cst);
    ChanEntry* chain = nullptr;
    while (ChanEntry* r = claim_for_close(recvq)) {
      if (cap != 0) {
        r->retry = true;
      } else {
        static_cast<std::optional<T>*>(r->slot)->reset();
        r->closed = true;
      }
      r->next = chain;
      chain = r;
    }
    while (ChanEntry* s = claim_for_close(sendq)) {
      s->closed = true;
      s->next = chain;
      chain = s;
    }
    if (cap != 0) waiting.store(0, std::memory_order_seq_cst);
    return chain;
  }
  /// Under lock, with close_locked(): claims the fast slot's parked thread,
  /// if any, for the caller to wake after the unlock.
  Waiter* close_fast_locked() noexcept {
    const std::uint32_t f = fast_state();
    if (f != kFastRecv && f != kFastSend) return nullptr;
    fast_closed = true;
    set_fast_state(kFastTaken);
    return &fast_w;
  }

  // ---- Unbuffered blind send / receive: one lock acquisition to complete
  // the operation or to park in the fast slot.  A partner then finds this
  // thread on the channel's first cache line — lock, slot and value together
  // — and wakes it through the same line: one line crosses the cores per
  // handoff, where a queued waiter (ChanEntry, Waiter and value on the
  // waiting thread's stack) costs three or four.
  enum class Fast { done, parked, engine };
  /// Receives now, or parks in the fast slot (when it is free and no other
  /// receiver is queued), or leaves the wait to the engine.  `wake`: a
  /// waiter claimed by a completed receive, for the caller to wake after.
  Fast recv_or_park(std::optional<T>& out, Waiter*& wake) {
    LockGuard g(lock);
    bool closed_out = false, busy = false;
    RingPending unused;
    if (try_recv(out, closed_out, wake, unused, busy)) return Fast::done;
    if (!fast_free() || recvq.head != nullptr) return Fast::engine;
    if (!park_fast(receiver, sender, kFastRecv)) return Fast::engine;
    return Fast::parked;
  }
  /// Sends now (`closed_out` if closed), or parks in the fast slot with the
  /// value moved into it, or leaves the wait to the engine.
  Fast send_or_park(T& v, bool& closed_out, Waiter*& wake) {
    LockGuard g(lock);
    bool busy = false;
    RingPending unused;
    if (try_send(v, closed_out, wake, unused, busy)) return Fast::done;
    if (!fast_free() || sendq.head != nullptr || this_thread_rec() == nullptr) return Fast::engine;
    fast_val().emplace(std::move(v));  // if this throws, nothing is parked
    park_fast(sender, receiver, kFastSend);
    return Fast::parked;
  }
  /// After recv_or_park / send_or_park returned `parked` (lock released):
  /// waits for the partner or close and takes the result.  Receive: the value
  /// into `out` (nothing if closed).  True if the channel was closed.  Only
  /// reads the channel after the wake-up; the slot is freed by its next user
  /// (fast_free) or the destructor, once fast_ack says the result was taken.
  bool wait_fast(std::optional<T>* out, std::source_location site, WaitObject obj) {
    const std::uint32_t gen = fast.load(std::memory_order_relaxed) >> 2;  // ours: set under lock by park_fast
    EventSink* es = sink();
    const std::uint64_t wid = es != nullptr ? record_wait_begin(es, obj, id, label, site) : 0;
    fast_w.park();
    const bool was_closed = fast_closed;
    {
      struct Taken {  // also when the value's copy throws; the last access to the channel
        std::atomic<std::uint32_t>& ack;
        std::uint32_t gen;
        ~Taken() { ack.store(gen, std::memory_order_release); }
      } taken{fast_ack, gen};
      if (out != nullptr && !was_closed) {
        if constexpr (std::is_trivially_copyable_v<T>) out->emplace(*fast_val());  // no write to the line
        else out->emplace(std::move(*fast_val()));
      }
    }
    if (es != nullptr) record_wait_end(es, wid, was_closed ? WaitOutcome::closed : WaitOutcome::value);
    return was_closed;
  }

 private:
  /// Under lock: whether a thread may park in the fast slot now; frees a
  /// taken slot whose thread has read its result.
  bool fast_free() noexcept {
    const std::uint32_t f = fast.load(std::memory_order_relaxed);
    if ((f & kFastStateMask) == kFastFree) return true;
    if ((f & kFastStateMask) != kFastTaken || fast_ack.load(std::memory_order_acquire) != (f >> 2)) return false;
    fast_val().reset();
    fast_closed = false;
    fast_w.reset();
    set_fast_state(kFastFree);
    return true;
  }
  /// Under lock: the calling thread takes the fast slot (`mine`: its side,
  /// `other`: the side whose last thread it expects to complete the wait).
  /// False without a thread record (the engine then waits).
  bool park_fast(std::atomic<ThreadRec*>& mine, std::atomic<ThreadRec*>& other, std::uint32_t state) noexcept {
    ThreadRec* me = this_thread_rec();
    if (me == nullptr) return false;
    fast_w.me = me;
    fast_w.partner = nullptr;
    fast_w.consider(other.load(std::memory_order_relaxed));
    note_side(mine, me);
    fast_closed = false;
    fast.store((((fast.load(std::memory_order_relaxed) >> 2) + 1) << 2) | state, std::memory_order_relaxed);
    return true;
  }
  /// Under lock: the fast slot's state (without its generation), and a new one.
  std::uint32_t fast_state() const noexcept { return fast.load(std::memory_order_relaxed) & kFastStateMask; }
  void set_fast_state(std::uint32_t state) noexcept {
    fast.store((fast.load(std::memory_order_relaxed) & ~std::uint32_t{kFastStateMask}) | state,
               std::memory_order_relaxed);
  }
};

/// Wakes the entries close_locked() claimed (reads each link before the wake:
/// the entry may be gone after it).
inline void wake_chain(ChanEntry* e) noexcept {
  while (e != nullptr) {
    ChanEntry* next = e->next;
    e->w->wake();
    e = next;
  }
}
inline void wake_if(Waiter* w) noexcept {
  if (w != nullptr) w->wake();
}

// Select cases hold the channel either owned (on_recv / on_send: a case may
// outlive the Chan handle it came from) or borrowed (the Chan's own blocking
// calls, during which the handle keeps the channel alive): a borrowed case
// touches no shared reference count, which the two threads of a channel would
// otherwise bounce between their caches on every operation.
template <class T>
class RecvCase final : public SelectCase {
 public:
  RecvCase(std::shared_ptr<ChanState<T>> s, std::optional<T>* out, std::source_location loc)
      : owner_(std::move(s)), s_(owner_.get()), out_(out ? out : &own_) {
    site = loc;
  }
  RecvCase(ChanState<T>* borrowed, std::optional<T>* out, std::source_location loc)
      : s_(borrowed), out_(out ? out : &own_) {
    site = loc;
  }
  RecvCase(const RecvCase& o)
      : SelectCase(o), owner_(o.owner_), s_(o.s_), out_(o.out_ == &o.own_ ? &own_ : o.out_) {}
  Lock* lock() noexcept override { return &s_->lock; }
  bool try_now() override { return s_->try_recv(*out_, entry_.closed, wake_, pend_, busy_); }
  bool busy() const noexcept override { return busy_; }
  /// The slot this case's try_now took is released, and the waiter it
  /// claimed woken, here, after select has released every lock.
  void finish() override {
    pend_.complete();
    wake_if(std::exchange(wake_, nullptr));
  }
  void settle() noexcept override {
    if (s_->cap != 0) s_->settle_recv();
  }
  void enqueue(Waiter* w, int idx) override {
    entry_.w = w;
    entry_.idx = idx;
    entry_.slot = out_;
    entry_.retry = false;
    s_->recvq.push(&entry_);
    ChanCore::note_side(s_->receiver, w->me);
    w->consider(s_->sender.load(std::memory_order_relaxed));
    if (s_->cap != 0) {
      // Queued and flagged, then re-check the ring: a lock-free send that
      // missed the flag published before this check (ChanCore::waiting).
      s_->note_queued(ChanCore::kRecvWait);
      if (s_->may_recv()) retry_now(s_->recvq, ChanCore::kRecvWait);
    }
  }
  void dequeue() noexcept override {
    LockGuard g(s_->lock);
    s_->recvq.remove(&entry_);
    if (s_->cap != 0) s_->note_left(s_->recvq, ChanCore::kRecvWait);
  }
  bool retry() const noexcept override { return entry_.retry; }
  WaitObject object() const noexcept override { return WaitObject::chan_recv; }
  std::uint64_t object_id() const noexcept override { return s_->id; }
  const char* label() const noexcept override { return s_->label; }
  WaitOutcome outcome() const noexcept override {
    return entry_.closed ? WaitOutcome::closed : WaitOutcome::value;
  }
  bool closed() const noexcept { return entry_.closed; }
  std::optional<T>& value() noexcept { return *out_; }

 private:
  /// Under lock, while enqueuing: the operation became possible since the
  /// poll.  The select retries (unless an earlier case already fired).
  void retry_now(WaitQueue& q, std::uint32_t bit) noexcept {
    if (!entry_.w->try_fire(entry_.idx)) return;
    q.remove(&entry_);
    s_->note_left(q, bit);
    entry_.retry = true;
    entry_.w->wake();  // our own waiter, not asleep yet: no system call
  }
  std::shared_ptr<ChanState<T>> owner_;  ///< empty when borrowed
  ChanState<T>* s_;
  std::optional<T> own_;
  std::optional<T>* out_;
  ChanEntry entry_;
  Waiter* wake_ = nullptr;
  RingPending pend_;
  bool busy_ = false;  ///< the last try_now found the ring half-updated by another thread
};

template <class T>
class SendCase final : public SelectCase {
 public:
  SendCase(std::shared_ptr<ChanState<T>> s, T v, std::source_location loc)
      : owner_(std::move(s)), s_(owner_.get()), v_(std::move(v)) {
    site = loc;
  }
  SendCase(ChanState<T>* borrowed, T v, std::source_location loc) : s_(borrowed), v_(std::move(v)) {
    site = loc;
  }
  Lock* lock() noexcept override { return &s_->lock; }
  bool try_now() override { return s_->try_send(v_, entry_.closed, wake_, pend_, busy_); }
  bool busy() const noexcept override { return busy_; }
  void settle() noexcept override {
    if (s_->cap != 0) s_->settle_send();
  }
  void enqueue(Waiter* w, int idx) override {
    entry_.w = w;
    entry_.idx = idx;
    entry_.slot = &v_;
    entry_.retry = false;
    s_->sendq.push(&entry_);
    ChanCore::note_side(s_->sender, w->me);
    w->consider(s_->receiver.load(std::memory_order_relaxed));
    if (s_->cap != 0) {  // see RecvCase::enqueue
      s_->note_queued(ChanCore::kSendWait);
      if (s_->may_send()) retry_now(s_->sendq, ChanCore::kSendWait);
    }
  }
  void dequeue() noexcept override {
    LockGuard g(s_->lock);
    s_->sendq.remove(&entry_);
    if (s_->cap != 0) s_->note_left(s_->sendq, ChanCore::kSendWait);
  }
  bool retry() const noexcept override { return entry_.retry; }
  void finish() override {
    pend_.complete();  // see RecvCase::finish
    wake_if(std::exchange(wake_, nullptr));
    if (entry_.closed) ChanCore::throw_closed("send on closed channel");
  }
  WaitObject object() const noexcept override { return WaitObject::chan_send; }
  std::uint64_t object_id() const noexcept override { return s_->id; }
  const char* label() const noexcept override { return s_->label; }
  WaitOutcome outcome() const noexcept override {
    return entry_.closed ? WaitOutcome::closed : WaitOutcome::value;
  }

 private:
  void retry_now(WaitQueue& q, std::uint32_t bit) noexcept {  // see RecvCase::retry_now
    if (!entry_.w->try_fire(entry_.idx)) return;
    q.remove(&entry_);
    s_->note_left(q, bit);
    entry_.retry = true;
    entry_.w->wake();
  }
  std::shared_ptr<ChanState<T>> owner_;  ///< empty when borrowed
  ChanState<T>* s_;
  T v_;
  ChanEntry entry_;
  Waiter* wake_ = nullptr;
  RingPending pend_;
  bool busy_ = false;  ///< the last try_now found the ring half-updated by another thread
};

}  // namespace detail

/// Result of a ctx-aware receive.
template <class T>
struct Received {
  std::optional<T> value;  ///< nullopt: channel closed and drained, or ctx done
  std::error_code err;     ///< ctx.err() when the context was done first
  bool ok() const noexcept { return value.has_value(); }
};

template <class T>
class Chan {
 public:
  /// capacity 0 = unbuffered.  `label` (static string) names the channel in traces.
  explicit Chan(std::size_t capacity = 0, const char* label = nullptr,
                std::source_location loc = std::source_location::current())
      : s_(std::make_shared<detail::ChanState<T>>(capacity, label, loc)) {
    s_->announce(loc);
  }

  /// Blind send: blocks until delivered (or buffered).  Throws closed_channel_error.
  void send(T v, std::source_location loc = std::source_location::current()) {
    // Fast path: the one-case select's poll, inline (a blind operation that
    // does not block records nothing, so nothing is lost by skipping the
    // engine); only an operation that must wait builds a case and parks.
    if (s_->cap == 0) {
      if (send_unbuffered(v, loc)) return;
    } else {
      if (send_now(v)) return;
      if (poll_before_wait(s_->receiver, &detail::ChanState<T>::send_ready, s_.get()) && send_now(v)) return;
    }
    detail::SendCase<T> c(s_.get(), std::move(v), loc);
    run(c);
  }
  /// Blind receive: the next value, or nullopt once closed and drained.
  std::optional<T> recv(std::source_location loc = std::source_location::current()) {
    std::optional<T> out;
    if (s_->cap == 0) {
      if (recv_unbuffered(out, loc)) return out;
    } else {
      if (recv_now(out)) return out;
      if (poll_before_wait(s_->sender, &detail::ChanState<T>::recv_ready, s_.get()) && recv_now(out)) return out;
    }
    detail::RecvCase<T> c(s_.get(), &out, loc);
    run(c);
    return out;
  }
  /// Send unless ctx is done first: {} when sent, else ctx.err().
  std::error_code send(const Context& ctx, T v,
                       std::source_location loc = std::source_location::current()) {
    // Fast path while ctx is live (a done ctx goes through the engine: it
    // chooses between two ready cases at random and records the
    // use-after-cancel evidence).  A cancel racing with this check is ordered
    // after the send, as if it had come a moment later.
    if (!ctx.is_done()) {
      if (send_now(v)) return {};
      const CtxPoll p{s_.get(), &ctx};
      if (poll_before_wait(s_->receiver, &CtxPoll::send_ready, &p) && !ctx.is_done() && send_now(v)) return {};
    }
    detail::SendCase<T> c(s_.get(), std::move(v), loc);
    Done d = ctx.done(loc);
    detail::SelectCase* cs[] = {&c, &d};
    if (detail::select_impl(cs, 2) == 1) return ctx.err(loc);
    return {};
  }
  /// Receive unless ctx is done first.
  Received<T> recv(const Context& ctx, std::source_location loc = std::source_location::current()) {
    Received<T> r;
    if (!ctx.is_done()) {  // fast path, as in send(ctx, v)
      if (recv_now(r.value)) return r;
      const CtxPoll p{s_.get(), &ctx};
      if (poll_before_wait(s_->sender, &CtxPoll::recv_ready, &p) && !ctx.is_done() && recv_now(r.value)) return r;
    }
    detail::RecvCase<T> c(s_.get(), &r.value, loc);
    Done d = ctx.done(loc);
    detail::SelectCase* cs[] = {&c, &d};
    if (detail::select_impl(cs, 2) == 1) r.err = ctx.err(loc);
    return r;
  }
  /// Non-blocking forms: true / a value only if the operation could proceed now.
  bool try_send(T v, std::source_location loc = std::source_location::current()) {
    detail::SendCase<T> c(s_.get(), std::move(v), loc);
    detail::DefaultCase d(loc);
    detail::SelectCase* cs[] = {&c, &d};
    return detail::select_impl(cs, 2) == 0;
  }
  std::optional<T> try_recv(std::source_location loc = std::source_location::current()) {
    std::optional<T> out;
    detail::RecvCase<T> c(s_.get(), &out, loc);
    detail::DefaultCase d(loc);
    detail::SelectCase* cs[] = {&c, &d};
    detail::select_impl(cs, 2);
    return out;
  }
  /// Closes the channel.  Throws closed_channel_error if already closed.
  void close(std::source_location loc = std::source_location::current()) {
    // Its own reference for the duration: a buffered channel's receivers see
    // the close lock-free as soon as close_locked() sets it, and one may then
    // destroy the last handle — even this very Chan — before the unlock.
    const std::shared_ptr<detail::ChanState<T>> s = s_;
    detail::ChanEntry* woken;
    detail::Waiter* fast;
    {
      detail::LockGuard g(s->lock);
      if (s->closed.load(std::memory_order_relaxed)) detail::ChanCore::throw_closed("close of closed channel");
      woken = s->close_locked();
      fast = s->close_fast_locked();
    }
    s->note_close(loc);
    detail::wake_chain(woken);
    detail::wake_if(fast);
  }

  /// Select cases.  `out` receives the value (nullopt when closed).
  detail::RecvCase<T> on_recv(std::optional<T>& out,
                              std::source_location loc = std::source_location::current()) const {
    return detail::RecvCase<T>(s_, &out, loc);
  }
  detail::RecvCase<T> on_recv(std::source_location loc = std::source_location::current()) const {
    return detail::RecvCase<T>(s_, nullptr, loc);
  }
  detail::SendCase<T> on_send(T v, std::source_location loc = std::source_location::current()) const {
    return detail::SendCase<T>(s_, std::move(v), loc);
  }

  std::size_t capacity() const noexcept { return s_->cap; }
  std::size_t size() const {
    if (s_->cap != 0) return s_->size();
    return 0;
  }
  std::uint64_t id() const noexcept { return s_->id; }
  friend bool operator==(const Chan& a, const Chan& b) noexcept { return a.s_ == b.s_; }

 private:
  /// Unbuffered blind send / receive: completes, or parks in the fast slot
  /// and waits there, in one lock acquisition (ChanState::send_or_park);
  /// false when the wait must go through the engine (someone else waits).
  /// Out of line, so that the buffered path's code stays as small as it was.
  [[gnu::noinline]] bool send_unbuffered(T& v, std::source_location loc) {
    detail::ChanState<T>& s = *s_;
    bool closed = false;
    detail::Waiter* wake = nullptr;
    switch (s.send_or_park(v, closed, wake)) {
      case detail::ChanState<T>::Fast::done:
        detail::wake_if(wake);
        if (closed) detail::ChanCore::throw_closed("send on closed channel");
        return true;
      case detail::ChanState<T>::Fast::parked:
        if (s.wait_fast(nullptr, loc, WaitObject::chan_send)) detail::ChanCore::throw_closed("send on closed channel");
        return true;
      case detail::ChanState<T>::Fast::engine:
        break;
    }
    return false;
  }
  [[gnu::noinline]] bool recv_unbuffered(std::optional<T>& out, std::source_location loc) {
    detail::ChanState<T>& s = *s_;
    detail::Waiter* wake = nullptr;
    switch (s.recv_or_park(out, wake)) {
      case detail::ChanState<T>::Fast::done:
        detail::wake_if(wake);
        return true;
      case detail::ChanState<T>::Fast::parked:
        s.wait_fast(&out, loc, WaitObject::chan_recv);
        return true;
      case detail::ChanState<T>::Fast::engine:
        break;
    }
    return false;
  }
  /// One attempt under the lock; true when done.  The waiter it claimed is
  /// woken after the lock is released (see ChanState::try_recv).
  bool send_now(T& v) {
    detail::ChanState<T>& s = *s_;
    if (s.cap != 0) {  // buffered: the lock-free ring, no lock
      detail::RingPending pend;
      switch (s.ring_send(v, pend, true)) {
        case detail::ChanState<T>::Put::sent: {
          detail::Waiter* w = s.kick_recv();
          pend.complete();  // the value is out: nothing of the channel after this
          detail::wake_if(w);
          return true;
        }
        case detail::ChanState<T>::Put::closed:
          detail::ChanCore::throw_closed("send on closed channel");
        case detail::ChanState<T>::Put::full:
        case detail::ChanState<T>::Put::busy:
          return false;
      }
    }
    bool closed = false, done;
    detail::Waiter* wake = nullptr;
    detail::RingPending unused;  // unbuffered: no ring
    {
      detail::LockGuard g(s.lock);
      bool busy;
      done = s.try_send(v, closed, wake, unused, busy);
    }
    if (done) {
      detail::wake_if(wake);
      if (closed) detail::ChanCore::throw_closed("send on closed channel");
    }
    return done;
  }
  bool recv_now(std::optional<T>& out) {
    detail::ChanState<T>& s = *s_;
    if (s.cap != 0) {
      detail::RingPending pend;
      switch (s.ring_recv(out, pend, true)) {
        case detail::ChanState<T>::Take::value: {
          detail::Waiter* w = s.kick_send();
          pend.complete();  // the slot is free: nothing of the channel after this
          detail::wake_if(w);
          return true;
        }
        case detail::ChanState<T>::Take::closed:
          out.reset();
          return true;
        case detail::ChanState<T>::Take::empty:
        case detail::ChanState<T>::Take::busy:
          return false;
      }
    }
    bool closed = false, done;
    detail::Waiter* wake = nullptr;
    detail::RingPending unused;
    {
      detail::LockGuard g(s.lock);
      bool busy;
      done = s.try_recv(out, closed, wake, unused, busy);
    }
    if (done) detail::wake_if(wake);
    return done;
  }
  /// Before a buffered operation waits: spin, lock-free and bounded, while
  /// the last thread seen on the other side may be running on another CPU,
  /// until the buffer says the operation may proceed (spin_until).  Without
  /// it a receiver that keeps up with its producer would queue itself for
  /// every element and be handed each one through the wait queue (a claim,
  /// a wake-up, a second pass through the engine); with it the producer keeps
  /// buffering and the receiver takes what it finds.  Not while a trace is
  /// recorded: there a wait is recorded first and spins inside the engine, so
  /// that every wait stays in the trace.  Unbuffered channels do not poll: a
  /// rendezvous needs one side queued anyway.
  bool poll_before_wait(const std::atomic<detail::ThreadRec*>& other, bool (*ready)(const void*),
                        const void* arg) const noexcept {
    if (s_->cap == 0 || detail::sink() != nullptr) return false;
    return detail::spin_until(other.load(std::memory_order_relaxed), ready, arg);
  }
  struct CtxPoll {
    const detail::ChanState<T>* s;
    const Context* ctx;
    static bool recv_ready(const void* p) noexcept {
      auto* c = static_cast<const CtxPoll*>(p);
      return detail::ChanState<T>::recv_ready(c->s) || c->ctx->is_done();
    }
    static bool send_ready(const void* p) noexcept {
      auto* c = static_cast<const CtxPoll*>(p);
      return detail::ChanState<T>::send_ready(c->s) || c->ctx->is_done();
    }
  };
  static void run(detail::SelectCase& c) {
    detail::SelectCase* cs[] = {&c};
    detail::select_impl(cs, 1);
  }
  std::shared_ptr<detail::ChanState<T>> s_;
};

/// Go's select over any mix of on_recv / on_send cases, ctx.done() and an
/// optional DefaultCase.  Returns the index of the case that ran.  Sending on
/// a closed channel throws closed_channel_error, as in Go.
template <class... Cases>
  requires(sizeof...(Cases) > 0 && (std::is_base_of_v<detail::SelectCase, std::remove_cvref_t<Cases>> && ...))
std::size_t select(Cases&&... cases) {
  detail::SelectCase* cs[] = {static_cast<detail::SelectCase*>(&cases)...};
  return detail::select_impl(cs, sizeof...(Cases));
}

using detail::DefaultCase;

}  // namespace ctxscope
