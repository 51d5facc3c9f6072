// ctxscope/go.hpp — goroutine-like threads, errgroup, WaitGroup, sleep.
//
//   go(ctx, "worker", [=]{ ... });          // a named OS thread attributed to ctx
//   auto [g, gctx] = Group::with_context(parent);
//   g.go([=]() -> std::error_code { ... }); // first error cancels gctx
//   std::error_code err = g.wait();         // waits all, cancels gctx, first error
//   WaitGroup wg; wg.add(2); ... wg.done(); wg.wait(); / wg.wait(ctx)
//   sleep_for(ctx, 10ms);                   // {} or ctx.err() if cut short
//
// Threads started by go() are detached, like goroutines: the process may exit
// while some are still blocked; ctxscope's globals are never destroyed, so such
// an exit is clean.  An exception escaping a goroutine's function ends the
// process with a message (Go crashes on an unrecovered panic too).
// Thread safety: all members may be called from any thread; WaitGroup and
// Group are handles whose copies share state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include "ctxscope/detail/source_location.hpp"  // std::source_location, also with clang++ 14
#include <string_view>
#include <system_error>
#include <utility>

#include "ctxscope/context.hpp"

namespace ctxscope {

/// Starts `fn` on a new detached thread named `name`, running under `ctx`
/// (recorded as the thread's context).  Returns the thread's ctxscope id.
std::uint64_t go(const Context& ctx, std::string_view name, std::function<void()> fn,
                 std::source_location loc = std::source_location::current());

/// The context the calling thread was started with by go() (background() for
/// other threads).
Context current_context();

class WaitGroup {
 public:
  WaitGroup();
  /// Adds `n` (may be negative) to the counter; a negative counter throws std::logic_error.
  void add(int n = 1);
  void done() { add(-1); }
  /// Blind wait for the counter to reach zero.
  void wait(std::source_location loc = std::source_location::current()) const;
  /// Waits unless ctx is done first: {} or ctx.err().
  std::error_code wait(const Context& ctx, std::source_location loc = std::source_location::current()) const;
  std::uint64_t id() const noexcept;

  struct State;

 private:
  friend class Group;
  std::error_code wait_impl(const Context* ctx, WaitObject obj, std::uint64_t obj_id,
                            std::source_location loc) const;
  std::shared_ptr<State> s_;
};

/// Go's errgroup.Group.
class Group {
 public:
  /// A group without a context: errors are collected, nothing is cancelled.
  Group();
  /// A group whose context is cancelled by the first error and when wait() returns.
  static std::pair<Group, Context> with_context(const Context& parent,
                                                std::source_location loc = std::source_location::current());

  using Fn = std::function<std::error_code()>;
  /// Runs fn on a new goroutine (blocks while `limit` goroutines are active).
  void go(Fn fn, std::source_location loc = std::source_location::current());
  void go(std::string_view name, Fn fn, std::source_location loc = std::source_location::current());
  /// Runs fn only if the limit allows it now; false otherwise.
  bool try_go(Fn fn, std::source_location loc = std::source_location::current());
  /// Limits active goroutines to n (negative: no limit).  Throws std::logic_error
  /// if goroutines are active, as Go panics.
  void set_limit(int n);
  /// Waits for every goroutine, cancels the group context, returns the first error.
  std::error_code wait(std::source_location loc = std::source_location::current());

  struct State;

 private:
  bool start(std::string_view name, Fn fn, bool block, std::source_location loc);
  std::shared_ptr<State> s_;
};

/// Sleeps for d unless ctx is done first: {} after the full sleep, else ctx.err().
std::error_code sleep_for(const Context& ctx, Clock::duration d,
                          std::source_location loc = std::source_location::current());

}  // namespace ctxscope
