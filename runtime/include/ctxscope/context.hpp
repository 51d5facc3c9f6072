// ctxscope/context.hpp — Go's `context` package for C++20.
//
// A Context carries a cancellation signal, an optional deadline and
// request-scoped values down a call tree.  Contexts form a tree: cancelling a
// context cancels every descendant with the same error and cause, never its
// parent or siblings.  Semantics follow Go 1.21's `context` package exactly
// (see docs/architecture.md for the few C++-specific choices):
//
//  * `err()` is {} until done, then errc::canceled or errc::deadline_exceeded,
//    and never changes again; `cause()` is Go's context.Cause.
//  * a child's deadline is the earlier of its own and its parent's; a child
//    derived from a parent that is already done is born done;
//  * cancel functions are idempotent, thread-safe, noexcept, and never run user
//    code on the cancelling thread except the stop callbacks the user registered
//    on `stop_token()` (after_func callbacks run on their own thread, as in Go);
//  * no thread is created per context: deadlines share one timer thread.
//
// Thread safety: every member is safe to call concurrently.  Handles
// (Context, CancelFunc, CancelCauseFunc, StopFunc) are cheap to copy (one atomic
// increment) and all copies share one state.
//
// Instrumentation: every constructor records its creation site with
// std::source_location; cancel calls, cancel functions dropped uncalled and the
// first observation of done are reported to the event sink (detail/events.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/detail/node.hpp"
#include "ctxscope/detail/select.hpp"

namespace ctxscope {

using Clock = std::chrono::steady_clock;


/// Context errors.  `ctx.err() == errc::canceled`; errc::deadline_exceeded also
/// compares equal to std::errc::timed_out (a generic timeout condition).
enum class errc { canceled = 1, deadline_exceeded };

const std::error_category& context_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), context_category()};
}

}  // namespace ctxscope

template <>
struct std::is_error_code_enum<ctxscope::errc> : std::true_type {};

namespace ctxscope {

/// A typed key for with_value.  Identity is the Key object's address, so keys
/// of different libraries can never collide even with equal names.  The name
/// appears in traces and must be a string with static storage (a literal).
template <class T>
class Key {
 public:
  constexpr explicit Key(const char* name) noexcept : name_(name) {}
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  constexpr const char* name() const noexcept { return name_; }

 private:
  const char* name_;
};

class Context;

/// `ctx.done()`: the context's done signal.  Usable as a case of select(), or
/// waited on directly.  Holds a reference to the context.
class Done final : public detail::SelectCase {
 public:
  Done(const Done& o) noexcept;
  Done& operator=(const Done&) = delete;
  ~Done();

  /// True once the context is done (one atomic load).
  bool ready() const noexcept {
    return src_ != nullptr && src_->state.load(std::memory_order_acquire) != 0;
  }
  /// Blocks until the context is done; returns its err().  Blocks forever on a
  /// context that can never be done (background, without_cancel).
  std::error_code wait() const;

  // SelectCase
  bool try_now() override;
  void enqueue(detail::Waiter* w, int idx) override;
  void dequeue() noexcept override;
  /// Winning a select (or Done::wait returning) is an observation of done.
  void finish() override;
  WaitObject object() const noexcept override { return WaitObject::done; }
  std::uint64_t done_ctx() const noexcept override;
  WaitOutcome outcome() const noexcept override { return WaitOutcome::done; }

 private:
  friend class Context;
  Done(detail::Node* n, std::source_location loc) noexcept;
  detail::Node* node_;
  detail::CancelNode* src_;
  detail::WaitListener entry_;
};

/// A node of the context tree.  Default-constructed: background().
class Context {
 public:
  Context() noexcept;
  Context(const Context& o) noexcept : n_(o.n_), src_(o.src_) { n_->ref(); }
  Context(Context&& o) noexcept : n_(o.n_), src_(o.src_) {
    o.n_ = nullptr;
    o.src_ = nullptr;
  }
  Context& operator=(Context o) noexcept {
    std::swap(n_, o.n_);
    std::swap(src_, o.src_);
    return *this;
  }
  ~Context() {
    if (n_) n_->unref();
  }

  /// The done signal (select case / waitable).
  Done done(std::source_location loc = std::source_location::current()) const noexcept {
    return Done(n_, loc);
  }
  /// {} while live; errc::canceled or errc::deadline_exceeded once done.
  /// Cost on a live context: one load of the cached done source and one
  /// acquire load of its state (the same as std::stop_token::stop_requested).
  std::error_code err(std::source_location loc = std::source_location::current()) const noexcept {
    detail::CancelNode* s = src_;
    if (s == nullptr) return no_error();
    auto st = s->state.load(std::memory_order_acquire);
    if (st == 0) [[likely]]
      return no_error();
    if (detail::sink() != nullptr && s->observed.load(std::memory_order_relaxed) == 0)
      detail::note_observed(s, loc);
    return make_error_code(static_cast<errc>(st));
  }
  /// Go's context.Cause: {} while live; the cause given to the cancel that
  /// finished this context (or an ancestor), else err().
  std::error_code cause() const noexcept;
  /// True once done: the cheapest done check (one hop, one acquire load), the
  /// equivalent of Go's `select { case <-ctx.Done(): ... default: }`.  Unlike
  /// err() it records no done_observed event.
  bool is_done() const noexcept {
    return src_ != nullptr && src_->state.load(std::memory_order_acquire) != 0;
  }
  /// The effective deadline: the earliest along the path to the root.
  std::optional<Clock::time_point> deadline() const noexcept;
  /// The value stored under `key` here or in the nearest ancestor, or nullptr.
  template <class T>
  const T* value(const Key<T>& key) const noexcept {
    for (const detail::Node* n = n_; n != nullptr; n = n->parent)
      if (n->kind == Kind::value) {
        auto* v = static_cast<const detail::ValueNodeBase*>(n);
        if (v->key == &key) return &static_cast<const detail::ValueNode<T>*>(v)->value;
      }
    return nullptr;
  }
  /// A std::stop_token that is stop-requested when this context is done
  /// (std::jthread, std::condition_variable_any interop).  For contexts that
  /// can never be done it is a token with stop_possible() == false.
  /// Ordering: stop callbacks are user code, so the cancel requests stop only
  /// after releasing the runtime's locks.  Another thread may therefore see
  /// err() set a moment before the token reports stop_requested(); once the
  /// cancel call has returned, every token taken earlier is stop-requested.
  std::stop_token stop_token() const;

  /// The id used in traces (background is 1, todo 2).
  std::uint64_t id() const noexcept { return n_->id; }
  Kind kind() const noexcept { return n_->kind; }
  /// The context this one was derived from (background/todo return themselves).
  Context parent() const noexcept;

  friend bool operator==(const Context& a, const Context& b) noexcept { return a.n_ == b.n_; }

  /// Internal: adopts a node reference.
  explicit Context(detail::Node* adopt) noexcept : n_(adopt), src_(adopt->done_src) {}
  detail::Node* node() const noexcept { return n_; }

 private:
  // An empty error_code without constructing one: std::error_code{} calls the
  // out-of-line std::system_category() on every live check, and a function-local
  // static would add a guard check; a namespace-scope constant is a plain load.
  static std::error_code no_error() noexcept { return detail::k_no_error; }
  detail::Node* n_;
  detail::CancelNode* src_;  ///< n_->done_src, cached so err() is one hop like stop_requested()
};

/// Cancels its context with errc::canceled.  Copies share one state; when the
/// last copy is destroyed without any copy having been called, the runtime
/// records "cancel dropped" (the cancel became impossible: a lost cancel).
class CancelFunc {
 public:
  CancelFunc() noexcept = default;
  CancelFunc(const CancelFunc& o) noexcept;
  CancelFunc(CancelFunc&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
  CancelFunc& operator=(CancelFunc o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~CancelFunc() {
    if (n_) release();
  }
  /// Cancels (idempotent, thread-safe, noexcept).  `loc` is recorded as the site.
  void operator()(std::source_location loc = std::source_location::current()) const noexcept;
  explicit operator bool() const noexcept { return n_ != nullptr; }

  /// Internal: adopts one node reference and the node's initial cancel_refs count.
  explicit CancelFunc(detail::CancelNode* adopt) noexcept : n_(adopt) {}

 protected:
  detail::CancelNode* n_ = nullptr;

 private:
  void release() noexcept;  ///< the destructor's work for a non-empty handle
};

/// Go's CancelCauseFunc: cancel(cause).  A {} cause means "no cause" (cause()
/// then reports errc::canceled, as Go does for a nil cause).
class CancelCauseFunc : public CancelFunc {
 public:
  using CancelFunc::CancelFunc;
  void operator()(std::error_code cause,
                  std::source_location loc = std::source_location::current()) const noexcept;
  void operator()(std::source_location loc = std::source_location::current()) const noexcept {
    (*this)(detail::k_no_error, loc);
  }
};

/// Returned by after_func: stop() prevents the callback from running.  Returns
/// true if it stopped it, false if it had already started or been stopped.
class StopFunc {
 public:
  struct State;
  StopFunc() noexcept = default;
  explicit StopFunc(std::shared_ptr<State> s) noexcept : s_(std::move(s)) {}
  bool operator()() const noexcept;

 private:
  std::shared_ptr<State> s_;
};

Context background() noexcept;
Context todo() noexcept;

using Site = std::source_location;

[[nodiscard]] std::pair<Context, CancelFunc> with_cancel(const Context& parent,
                                                         Site loc = Site::current());
[[nodiscard]] std::pair<Context, CancelFunc> with_timeout(const Context& parent, Clock::duration d,
                                                          Site loc = Site::current());
[[nodiscard]] std::pair<Context, CancelFunc> with_deadline(const Context& parent, Clock::time_point d,
                                                           Site loc = Site::current());
[[nodiscard]] std::pair<Context, CancelCauseFunc> with_cancel_cause(const Context& parent,
                                                                    Site loc = Site::current());
/// Go 1.21 WithDeadlineCause / WithTimeoutCause: `cause` is reported by cause()
/// when the deadline fires.
[[nodiscard]] std::pair<Context, CancelFunc> with_deadline_cause(const Context& parent, Clock::time_point d,
                                                                 std::error_code cause,
                                                                 Site loc = Site::current());
[[nodiscard]] std::pair<Context, CancelFunc> with_timeout_cause(const Context& parent, Clock::duration d,
                                                                std::error_code cause,
                                                                Site loc = Site::current());
/// A context that keeps the parent's values but is never done and has no deadline.
Context without_cancel(const Context& parent, Site loc = Site::current());

template <class T, class U = T>
Context with_value(const Context& parent, const Key<T>& key, U&& value, Site loc = Site::current()) {
  detail::Node* p = parent.node();
  p->ref();
  auto* n = new detail::ValueNode<T>(p, &key, key.name(), loc, std::forward<U>(value));
  detail::announce(n);
  return Context(n);
}

/// Go 1.21 AfterFunc: runs `f` on its own thread once `ctx` is done (at once
/// if it already is).  The returned StopFunc prevents it from running; the
/// registration itself is freed when the context is done or destroyed.
/// Traced, the thread is announced like a go() thread: thread_spawn (name
/// "after_func", the context `ctx`, the cancelling thread as parent, `loc`) and
/// thread_exit.  `f` runs with no current_context() of its own, as in Go.
[[nodiscard]] StopFunc after_func(const Context& ctx, std::function<void()> f,
                                  std::source_location loc = std::source_location::current());

/// RAII guard: runs the function at scope exit — Go's `defer`.
template <class F>
class [[nodiscard]] Deferred {
 public:
  explicit Deferred(F f) noexcept(std::is_nothrow_move_constructible_v<F>) : f_(std::move(f)) {}
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;
  ~Deferred() { f_(); }

 private:
  F f_;
};

/// Go's `defer cancel()`: the cancel is recorded at the site of the defer().
class [[nodiscard]] DeferredCancel {
 public:
  DeferredCancel(CancelFunc c, Site loc) noexcept : c_(std::move(c)), loc_(loc) {}
  DeferredCancel(const DeferredCancel&) = delete;
  DeferredCancel& operator=(const DeferredCancel&) = delete;
  ~DeferredCancel() { c_(loc_); }

 private:
  CancelFunc c_;
  Site loc_;
};

inline DeferredCancel defer(const CancelFunc& cancel, Site loc = Site::current()) noexcept {
  return DeferredCancel(cancel, loc);
}
template <class F>
  requires(!std::is_base_of_v<CancelFunc, std::decay_t<F>>)
Deferred<std::decay_t<F>> defer(F&& f) {
  return Deferred<std::decay_t<F>>(std::forward<F>(f));
}

}  // namespace ctxscope
