// ctxscope/viewer/tree_layout.hpp — a tidy layered layout of a forest.
//
// Reingold–Tilford in its contour form: each subtree is laid out on its own,
// then siblings are pushed right just far enough that, depth by depth, no
// node of one comes closer than `separation` to the other; a parent sits
// centred over its first and last child.  Subtrees keep their shape wherever
// they end up (a reader recognises a subtree after a collapse elsewhere), and
// the width is that of the widest level, not the number of leaves.
// O(n · depth) time.  A forest deeper than 2,000 levels (a chain of derived
// contexts) gets the simple layered layout instead, without recursion.
// Pure C++, no Qt: the scene feeds it the visible forest.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace ctxscope::viewer {

struct TreeLayout {
  std::vector<double> x;   ///< per node: horizontal centre, in units of `separation`-spaced slots (>= 0)
  std::vector<int> depth;  ///< per node: its level (roots 0)
  double width = 0;        ///< max x
  int levels = 0;          ///< max depth + 1
};

/// `children(n)` lists the visible children of node n (nodes are 0..count-1);
/// `roots` are laid out left to right as the children of a virtual root.
/// Nodes not reachable from `roots` get x = -1.
TreeLayout tidy_layout(std::size_t count, std::span<const std::uint32_t> roots,
                       const std::function<std::span<const std::uint32_t>(std::uint32_t)>& children,
                       double separation = 1.0);

}  // namespace ctxscope::viewer
