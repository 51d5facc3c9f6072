// sample-propagation-tree: cancellation flows down the tree, never up.
//   sample-propagation-tree [--mode=buggy|fixed] [--trace FILE]
#include <cstdio>

#include "sample.hpp"
#include "scenario.hpp"

namespace propagation_tree {

namespace {
class TreeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "propagation-tree"; }
  std::string message(int) const override { return "A11 failed"; }
};
}  // namespace

std::error_code a11_failed() {
  static const TreeCategory category;
  return {1, category};
}

Tree make_tree(bool a11_fails) {
  using std::chrono::milliseconds;
  Tree t(8);
  //            name   work               children  fails      budget
  t[0] = Task{"A", milliseconds(60), {2}};
  t[1] = Task{"B", milliseconds(40), {3, 4}};
  t[2] = Task{"A1", milliseconds(60), {5, 6}, false, milliseconds(1000)};
  t[3] = Task{"B1", milliseconds(40), {}};
  t[4] = Task{"B2", milliseconds(200), {7}};
  t[5] = Task{"A11", milliseconds(30), {}, a11_fails};
  t[6] = Task{"A12", milliseconds(180), {}};
  t[7] = Task{"B21", milliseconds(90), {}};
  return t;
}

namespace {
void print_task(const Tree& t, int i, int depth) {
  const Task& k = t[static_cast<std::size_t>(i)];
  std::string label(static_cast<std::size_t>(2 * depth), ' ');
  label += k.name;
  if (k.took_ms >= 0)
    std::printf("  %-8s %4ld ms  %s\n", label.c_str(), k.took_ms, k.outcome.c_str());
  else
    std::printf("  %-8s    -     %s\n", label.c_str(), k.outcome.c_str());
  for (int c : k.children) print_task(t, c, depth + 1);
}
}  // namespace

void print_tree(const Tree& t) {
  print_task(t, 0, 0);
  print_task(t, 1, 0);
}

}  // namespace propagation_tree

int main(int argc, char** argv) {
  const samples::Args args = samples::parse_args(argc, argv, "", "");
  samples::TraceSession trace(args);
  std::printf("propagation-tree (%s): A and B share a context; A1 gives its subtasks a 1 s budget\n",
              args.buggy ? "buggy" : "fixed");
  if (args.buggy)
    propagation_tree::run_buggy({});
  else
    propagation_tree::run_fixed({});
  return 0;
}
