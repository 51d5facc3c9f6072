// ctxscope/detail/node.hpp — the context tree's nodes (internal; layout may change).
//
// A Context is an intrusively ref-counted pointer to a Node.  Cancelable nodes
// (cancel, timeout, deadline, cause) are CancelNodes: they own a lock, the done
// state, the cause, and an intrusive list of listeners (registered children,
// blocked waiters, stop_token sources, after_func callbacks).  Every node caches
// `done_src`, its nearest cancelable ancestor-or-self, so err() is one pointer
// hop and one atomic load.
//
// Lifetime: a child holds a reference to its parent; a parent holds only raw
// links to its registered children, and a child unlinks itself (under the
// parent's lock) when it is cancelled or destroyed, so dropping every handle
// never leaks memory, and a child whose cancel is never called stays
// registered exactly as long as someone holds it — the leak ctxscope reports.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14
#include <system_error>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/detail/lock.hpp"

namespace ctxscope::detail {

struct CancelNode;
struct Waiter;

/// An empty error_code to copy: `std::error_code{}` calls the out-of-line
/// std::system_category(), a namespace-scope constant is a plain load.
inline const std::error_code k_no_error{};

/// An entry in a CancelNode's listener list.  Linked and unlinked under the
/// owning node's lock only.
struct Listener {
  enum Tag : std::uint8_t { child, waiter, stop, after };
  Listener* prev = nullptr;
  Listener* next = nullptr;
  Tag tag{};
  bool linked = false;
};

/// A blocked select's registration on a context's done signal.
struct WaitListener : Listener {
  Waiter* w = nullptr;
  int idx = 0;
};

/// A registered child's link in its parent's list.
struct ChildLink : Listener {
  CancelNode* self = nullptr;
};

struct Node {
  Node(Kind k, Node* parent, std::source_location site, std::uint64_t id = next_object_id()) noexcept;
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    // The sole owner needs no RMW: with one reference left (ours) nobody can
    // take another, since every ref() is made through a reference its caller
    // holds.  The one exception is the timer thread's try_ref() on a timer
    // node, which holds only a raw pointer: those nodes always count down.
    // (Saves one locked instruction per with_cancel + cancel pair.)
    if (refs.load(std::memory_order_acquire) == 1 && kind != Kind::timeout && kind != Kind::deadline) {
      delete this;
      return;
    }
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  /// Takes a reference only if the node is still alive (used by the timer thread).
  bool try_ref() noexcept {
    auto r = refs.load(std::memory_order_relaxed);
    while (r != 0)
      if (refs.compare_exchange_weak(r, r + 1, std::memory_order_acq_rel)) return true;
    return false;
  }

  std::atomic<std::uint32_t> refs{1};
  Kind kind;
  std::uint64_t id;
  Node* parent;          ///< owned reference (nullptr for roots)
  CancelNode* done_src;  ///< nearest cancelable ancestor-or-self; nullptr if never done
  std::source_location site;
};

struct CancelNode : Node {
  CancelNode(Kind k, Node* parent, std::source_location site) noexcept;
  ~CancelNode() override;

  Lock lock;
  std::atomic<std::uint32_t> cancel_refs{1};  ///< live CancelFunc copies (the first is adopted)
  std::atomic<std::uint8_t> state{0};          ///< 0 live, else the errc value; set once, under lock
  std::atomic<std::uint8_t> cancel_called{0};  ///< an explicit cancel ran (even as a no-op)
  std::atomic<std::uint8_t> observed{0};       ///< done_observed already emitted
  std::atomic<bool> registered{false};         ///< `as_child` may still be linked in the parent's list
  /// Its own cancel's event also recorded its release (kCancelReleases): whoever
  /// unlinks it afterwards (its own unregister or a parent's cancel) records none.
  /// Set under lock, read after taking the lock (or later on the same thread).
  std::atomic<bool> release_in_cancel{false};
  std::error_code cause = k_no_error;          ///< written under lock before `state` is published
  Listener* listeners = nullptr;               ///< head of the listener list (under lock)
  ChildLink as_child;                          ///< link in the parent's done_src list
};

struct TimerNode : CancelNode {
  TimerNode(Kind k, Node* parent, std::source_location site,
            std::chrono::steady_clock::time_point deadline) noexcept;
  ~TimerNode() override;
  std::chrono::steady_clock::time_point deadline;  ///< effective: min(own, parent's)
  std::error_code deadline_cause;                  ///< cause reported when the deadline fires
  std::size_t heap_index = static_cast<std::size_t>(-1);  ///< under the timer service lock
};

struct ValueNodeBase : Node {
  ValueNodeBase(Node* parent, const void* key, const char* key_name, std::source_location site) noexcept;
  const void* key;
  const char* key_name;
};

template <class T>
struct ValueNode final : ValueNodeBase {
  template <class U>
  ValueNode(Node* parent, const void* key, const char* key_name, std::source_location site, U&& v)
      : ValueNodeBase(parent, key, key_name, site), value(std::forward<U>(v)) {}
  T value;
};

/// Without-cancel node: forwards values, cuts done/deadline.
struct DetachedNode final : Node {
  DetachedNode(Node* parent, std::source_location site) noexcept;
};

/// The root nodes (background, todo): static, never freed.
Node* background_node() noexcept;
Node* todo_node() noexcept;

/// Emits done_observed once per node (slow path of err()).
void note_observed(CancelNode* n, std::source_location site) noexcept;

/// Registers a freshly built value node with the tracer (ctx_create).
void announce(Node* n) noexcept;

}  // namespace ctxscope::detail
