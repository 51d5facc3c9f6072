// One shared timer thread for every deadline in the process (no thread per
// context).  A binary min-heap of TimerNode*, each node knowing its index so a
// cancelled deadline is removed in O(log n) and memory stays flat however many
// timeouts are created and cancelled.
//
// Lock order: a node's lock may be held while calling remove() (cancel path);
// the timer thread never holds the heap mutex while cancelling a node.
#pragma once

#include "ctxscope/detail/node.hpp"

namespace ctxscope::detail {

void timer_add(TimerNode* n);            ///< arms n's deadline
void timer_remove(TimerNode* n) noexcept;///< disarms if armed (idempotent)
/// Called on the timer thread when n's deadline passed (defined in context.cpp).
void timer_expired(TimerNode* n) noexcept;

}  // namespace ctxscope::detail
