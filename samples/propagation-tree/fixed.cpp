// Scenario 6, fixed: A1 releases its subtasks' budget context when they have
// returned (`defer`); every other context is cancelled on every path too.
//
// Expected findings: none.  Same tree, same outcomes as the buggy mode.
#include <cstdio>

#include <ctxscope/context.hpp>
#include <ctxscope/go.hpp>

#include "sample.hpp"
#include "scenario.hpp"

namespace propagation_tree {
namespace {

using namespace ctxscope;

void run_task(Tree& tree, int i, const Context& ctx, const CancelCauseFunc& fail, WaitGroup all);

// Starts task i on its own thread under ctx; `siblings` and `all` are done when it returns.
void spawn(Tree& tree, int i, const Context& ctx, const CancelCauseFunc& fail, WaitGroup siblings, WaitGroup all) {
  siblings.add(1);
  all.add(1);
  go(ctx, tree[static_cast<std::size_t>(i)].name, [&tree, i, ctx, fail, siblings, all]() mutable {
    run_task(tree, i, ctx, fail, all);
    siblings.done();
    all.done();
  });
}

void run_task(Tree& tree, int i, const Context& ctx, const CancelCauseFunc& fail, WaitGroup all) {
  Task& t = tree[static_cast<std::size_t>(i)];
  const auto t0 = Clock::now();
  const std::error_code err = sleep_for(ctx, t.work);
  t.took_ms = samples::ms_since(t0);
  if (err) {
    t.outcome = "canceled (cause: " + ctx.cause().message() + ")";
    return;
  }
  if (t.fails) {
    t.outcome = "error: " + a11_failed().message();
    fail(a11_failed());
    return;
  }
  t.outcome = "ok";
  if (t.children.empty()) return;
  Context sub = ctx;
  CancelFunc release_budget;
  if (t.budget.count() != 0) {
    auto [budget, cancel_budget] = with_timeout(ctx, t.budget);
    sub = budget;
    release_budget = cancel_budget;
  }
  auto _ = defer(release_budget);  // after the subtasks returned
  WaitGroup kids;
  for (int c : t.children) spawn(tree, c, sub, fail, kids, all);
  kids.wait(sub);
}

void run_tree(Tree& tree, const Context& root) {
  auto [shared, fail] = with_cancel_cause(root);
  auto _ = defer(fail);
  WaitGroup roots, all;
  spawn(tree, 0, shared, fail, roots, all);
  spawn(tree, 1, shared, fail, roots, all);
  all.wait(root);
}

}  // namespace

void run_fixed(const Options&) {
  const Context root = background();
  Tree happy = make_tree(false);
  run_tree(happy, root);
  std::printf("run 1, no error: every task finishes\n");
  print_tree(happy);
  Tree failing = make_tree(true);
  run_tree(failing, root);
  std::printf("run 2, A11 fails: the shared context is cancelled, finished work stays finished\n");
  print_tree(failing);
  std::printf("root context: %s (cancellation flows down, never up)\n", root.err() ? "canceled" : "live");
}

}  // namespace propagation_tree
