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

#include <cstddef>
#include <cstdint>
#include <memory>
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
  Lock lock;
  bool closed = false;
  std::size_t cap;
  std::uint64_t id;
  const char* label;
  WaitQueue recvq, sendq;
  /// The last thread seen blocking on, or completing a blocked operation of,
  /// each side (under lock): the partner a new waiter on the other side spins
  /// for (Waiter::partner).  Records are never freed, so these may be stale,
  /// never dangling.
  ThreadRec* sender = nullptr;
  ThreadRec* receiver = nullptr;
  void announce(std::source_location site) noexcept;
  void note_close(std::source_location site) noexcept;
  [[noreturn]] static void throw_closed(const char* what);
};

template <class T>
struct ChanState : ChanCore {
  ChanState(std::size_t c, const char* l, std::source_location s)
      : ChanCore(c, l, s), buf(c ? new std::optional<T>[c] : nullptr) {}
  std::unique_ptr<std::optional<T>[]> buf;
  std::size_t head = 0, count = 0;

  // Ring indices wrap by a compare, not `%` (a division per element).
  void push_back(T&& v) {
    std::size_t i = head + count;
    if (i >= cap) i -= cap;
    buf[i].emplace(std::move(v));
    ++count;
  }
  T pop_front() {
    T v = std::move(*buf[head]);
    buf[head].reset();
    if (++head == cap) head = 0;
    --count;
    return v;
  }
  /// A blocked waiter claimed from `q`, or nullptr.  The claiming thread is
  /// recorded as the last one on its side (`self`: sender or receiver).
  ChanEntry* claim(WaitQueue& q, ThreadRec*& self) {
    while (ChanEntry* e = q.pop())
      if (e->w->try_fire(e->idx)) {
        self = this_thread_rec();
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
  bool try_recv(std::optional<T>& out, bool& closed_out, Waiter*& wake) {
    if (count > 0) {
      out.emplace(pop_front());
      if (ChanEntry* s = claim(sendq, receiver)) {
        push_back(std::move(*static_cast<T*>(s->slot)));
        wake = s->w;
      }
      return true;
    }
    if (ChanEntry* s = claim(sendq, receiver)) {
      out.emplace(std::move(*static_cast<T*>(s->slot)));
      wake = s->w;
      return true;
    }
    if (closed) {
      out.reset();
      closed_out = true;
      return true;
    }
    return false;
  }
  /// Under lock: send now if possible.  On a closed channel sets `closed_out`.
  bool try_send(T& v, bool& closed_out, Waiter*& wake) {
    if (closed) {
      closed_out = true;
      return true;
    }
    if (ChanEntry* r = claim(recvq, sender)) {
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
      wake = r->w;
      return true;
    }
    if (count < cap) {
      push_back(std::move(v));
      return true;
    }
    return false;
  }
  /// Under lock: closes and claims every waiter; returns them chained through
  /// ChanEntry::next (entries off every queue, untouched by anyone until
  /// woken) for wake_chain() after the lock is released.
  ChanEntry* close_locked() {
    closed = true;
    ChanEntry* chain = nullptr;
    while (ChanEntry* r = claim_for_close(recvq)) {
      static_cast<std::optional<T>*>(r->slot)->reset();
      r->closed = true;
      r->next = chain;
      chain = r;
    }
    while (ChanEntry* s = claim_for_close(sendq)) {
      s->closed = true;
      s->next = chain;
      chain = s;
    }
    return chain;
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
  bool try_now() override { return s_->try_recv(*out_, entry_.closed, wake_); }
  /// The waiter this case's try_now claimed is woken here, after select has
  /// released every lock.
  void finish() override { wake_if(std::exchange(wake_, nullptr)); }
  void enqueue(Waiter* w, int idx) override {
    entry_.w = w;
    entry_.idx = idx;
    entry_.slot = out_;
    s_->recvq.push(&entry_);
    s_->receiver = w->me;
    w->consider(s_->sender);
  }
  void dequeue() noexcept override {
    LockGuard g(s_->lock);
    s_->recvq.remove(&entry_);
  }
  WaitObject object() const noexcept override { return WaitObject::chan_recv; }
  std::uint64_t object_id() const noexcept override { return s_->id; }
  const char* label() const noexcept override { return s_->label; }
  WaitOutcome outcome() const noexcept override {
    return entry_.closed ? WaitOutcome::closed : WaitOutcome::value;
  }
  bool closed() const noexcept { return entry_.closed; }
  std::optional<T>& value() noexcept { return *out_; }

 private:
  std::shared_ptr<ChanState<T>> owner_;  ///< empty when borrowed
  ChanState<T>* s_;
  std::optional<T> own_;
  std::optional<T>* out_;
  ChanEntry entry_;
  Waiter* wake_ = nullptr;
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
  bool try_now() override { return s_->try_send(v_, entry_.closed, wake_); }
  void enqueue(Waiter* w, int idx) override {
    entry_.w = w;
    entry_.idx = idx;
    entry_.slot = &v_;
    s_->sendq.push(&entry_);
    s_->sender = w->me;
    w->consider(s_->receiver);
  }
  void dequeue() noexcept override {
    LockGuard g(s_->lock);
    s_->sendq.remove(&entry_);
  }
  void finish() override {
    wake_if(std::exchange(wake_, nullptr));  // see RecvCase::finish
    if (entry_.closed) ChanCore::throw_closed("send on closed channel");
  }
  WaitObject object() const noexcept override { return WaitObject::chan_send; }
  std::uint64_t object_id() const noexcept override { return s_->id; }
  const char* label() const noexcept override { return s_->label; }
  WaitOutcome outcome() const noexcept override {
    return entry_.closed ? WaitOutcome::closed : WaitOutcome::value;
  }

 private:
  std::shared_ptr<ChanState<T>> owner_;  ///< empty when borrowed
  ChanState<T>* s_;
  T v_;
  ChanEntry entry_;
  Waiter* wake_ = nullptr;
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
    bool closed = false;
    bool done;
    detail::Waiter* wake = nullptr;
    {
      detail::LockGuard g(s_->lock);
      done = s_->try_send(v, closed, wake);
    }
    if (done) {
      detail::wake_if(wake);
      if (closed) detail::ChanCore::throw_closed("send on closed channel");
      return;
    }
    detail::SendCase<T> c(s_.get(), std::move(v), loc);
    run(c);
  }
  /// Blind receive: the next value, or nullopt once closed and drained.
  std::optional<T> recv(std::source_location loc = std::source_location::current()) {
    std::optional<T> out;
    {
      bool closed = false, done;
      detail::Waiter* wake = nullptr;
      {
        detail::LockGuard g(s_->lock);
        done = s_->try_recv(out, closed, wake);
      }
      if (done) {
        detail::wake_if(wake);
        return out;
      }
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
      bool closed = false;
      bool done;
      detail::Waiter* wake = nullptr;
      {
        detail::LockGuard g(s_->lock);
        done = s_->try_send(v, closed, wake);
      }
      if (done) {
        detail::wake_if(wake);
        if (closed) detail::ChanCore::throw_closed("send on closed channel");
        return {};
      }
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
      bool closed = false, done;
      detail::Waiter* wake = nullptr;
      {
        detail::LockGuard g(s_->lock);
        done = s_->try_recv(r.value, closed, wake);
      }
      if (done) {
        detail::wake_if(wake);
        return r;
      }
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
    detail::ChanEntry* woken;
    {
      detail::LockGuard g(s_->lock);
      if (s_->closed) detail::ChanCore::throw_closed("close of closed channel");
      woken = s_->close_locked();
    }
    // Recorded before the wake-ups: after them the channel may be gone (see
    // ChanState::try_recv).
    s_->note_close(loc);
    detail::wake_chain(woken);
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
    detail::LockGuard g(s_->lock);
    return s_->count;
  }
  std::uint64_t id() const noexcept { return s_->id; }
  friend bool operator==(const Chan& a, const Chan& b) noexcept { return a.s_ == b.s_; }

 private:
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
