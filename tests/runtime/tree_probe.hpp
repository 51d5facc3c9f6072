// Test support: look inside a context's node (what Go's tests do with
// `p.children`): how many children are registered with it right now.
#pragma once

#include <cstddef>

#include "ctxscope/context.hpp"
#include "ctxscope/detail/lock.hpp"
#include "ctxscope/detail/node.hpp"

namespace ctxscope::testing {

/// Children registered with `c`'s nearest cancelable ancestor-or-self (the
/// node a cancel would propagate from); 0 for contexts that are never done.
inline std::size_t registered_children(const Context& c) {
  detail::CancelNode* n = c.node()->done_src;
  if (n == nullptr) return 0;
  detail::LockGuard g(n->lock);
  std::size_t k = 0;
  for (detail::Listener* l = n->listeners; l != nullptr; l = l->next)
    if (l->tag == detail::Listener::child) ++k;
  return k;
}

/// Every listener (children, waiters, stop tokens, after_funcs) on `c`'s node.
inline std::size_t listeners(const Context& c) {
  detail::CancelNode* n = c.node()->done_src;
  if (n == nullptr) return 0;
  detail::LockGuard g(n->lock);
  std::size_t k = 0;
  for (detail::Listener* l = n->listeners; l != nullptr; l = l->next) ++k;
  return k;
}

}  // namespace ctxscope::testing
