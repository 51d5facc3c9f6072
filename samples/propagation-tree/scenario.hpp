// Scenario 6, propagation-tree: cancellation flows down, never up (seed:
// "Go: Context 和传播取消", Vincent Blanchon's tasks A/B with A11 failing).
#pragma once

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

namespace propagation_tree {

struct Options {};

/// One task of the tree.  A task does its own work, then starts its children
/// under its context and waits for them.  Results are written by the task's
/// own thread and read by main after every task has returned.
struct Task {
  std::string name;
  std::chrono::milliseconds work{0};
  std::vector<int> children;                ///< indexes into the Tree
  bool fails = false;                       ///< fails after its work
  std::chrono::milliseconds budget{0};      ///< a time budget for its subtree (0: none)
  // results
  long took_ms = -1;
  std::string outcome = "canceled before it started";
};

/// Index 0 and 1 are the roots A and B, which share one context.
using Tree = std::vector<Task>;

/// A -> A1 -> {A11, A12}; B -> {B1, B2 -> B21}.  When `a11_fails`, A11 fails
/// after its work and cancels the context A and B share.
Tree make_tree(bool a11_fails);
void print_tree(const Tree& t);

/// The cause A11 cancels the shared context with.
std::error_code a11_failed();

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace propagation_tree
