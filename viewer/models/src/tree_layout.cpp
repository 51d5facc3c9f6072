#include "ctxscope/viewer/tree_layout.hpp"

#include <algorithm>

namespace ctxscope::viewer {

namespace {

/// A laid-out subtree: per depth below its root, the leftmost and rightmost
/// node position relative to the root.
struct Contour {
  std::vector<double> left, right;
};

struct Builder {
  const std::function<std::span<const std::uint32_t>(std::uint32_t)>& children;
  double sep;
  std::vector<double>& rel;  // per node: offset from its parent
  std::vector<int>& depth;

  /// Lays out `kids` side by side; returns their merged contour relative to
  /// their common centre and sets rel[] of each kid.
  Contour place(std::span<const std::uint32_t> kids, int d) {
    Contour merged;
    std::vector<double> offs;
    offs.reserve(kids.size());
    for (auto k : kids) {
      Contour c = layout(k, d);
      double shift = 0;
      if (!offs.empty()) {
        shift = -1e300;
        const auto common = std::min(merged.right.size(), c.left.size());
        for (std::size_t i = 0; i < common; ++i) shift = std::max(shift, merged.right[i] - c.left[i] + sep);
      }
      offs.push_back(shift);
      for (std::size_t i = 0; i < c.left.size(); ++i) {
        if (i < merged.right.size()) {
          merged.right[i] = c.right[i] + shift;
        } else {
          merged.left.push_back(c.left[i] + shift);
          merged.right.push_back(c.right[i] + shift);
        }
      }
    }
    const double mid = kids.empty() ? 0 : (offs.front() + offs.back()) / 2;
    for (std::size_t i = 0; i < kids.size(); ++i) rel[kids[i]] = offs[i] - mid;
    for (auto& v : merged.left) v -= mid;
    for (auto& v : merged.right) v -= mid;
    return merged;
  }

  Contour layout(std::uint32_t n, int d) {
    depth[n] = d;
    const auto kids = children(n);
    Contour below = place(kids, d + 1);
    Contour c;
    c.left.reserve(below.left.size() + 1);
    c.right.reserve(below.right.size() + 1);
    c.left.push_back(0);
    c.right.push_back(0);
    c.left.insert(c.left.end(), below.left.begin(), below.left.end());
    c.right.insert(c.right.end(), below.right.begin(), below.right.end());
    return c;
  }
};

}  // namespace

/// Deeper than this, the contour layout's recursion (and its O(n · depth)
/// contour copies) would be a risk on the GUI thread's stack: a trace with a
/// chain of 100,000 derived contexts must not crash the viewer.  Such trees
/// get the simple layered layout instead (leaves in order, each parent centred
/// over its first and last child), computed without recursion.
constexpr int kMaxContourDepth = 2000;

/// The simple layered layout: post-order, iterative.
void layered_layout(std::span<const std::uint32_t> roots,
                    const std::function<std::span<const std::uint32_t>(std::uint32_t)>& children, double sep,
                    std::vector<double>& x, std::vector<int>& depth) {
  double next = 0;
  struct Item {
    std::uint32_t n;
    bool done;
  };
  std::vector<Item> st;
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) {
    depth[*it] = 0;
    st.push_back({*it, false});
  }
  while (!st.empty()) {
    auto [n, done] = st.back();
    st.pop_back();
    const auto kids = children(n);
    if (kids.empty()) {
      x[n] = next;
      next += sep;
      continue;
    }
    if (done) {
      x[n] = (x[kids.front()] + x[kids.back()]) / 2;
      continue;
    }
    st.push_back({n, true});
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) {
      depth[*it] = depth[n] + 1;
      st.push_back({*it, false});
    }
  }
}

TreeLayout tidy_layout(std::size_t count, std::span<const std::uint32_t> roots,
                       const std::function<std::span<const std::uint32_t>(std::uint32_t)>& children,
                       double separation) {
  TreeLayout out;
  std::vector<double> rel(count, 0);
  out.depth.assign(count, -1);
  // The depth first, without recursion, to choose the layout.
  int max_depth = 0;
  {
    std::vector<std::pair<std::uint32_t, int>> st;
    for (auto r : roots) st.push_back({r, 0});
    while (!st.empty()) {
      const auto [n, d] = st.back();
      st.pop_back();
      max_depth = std::max(max_depth, d);
      for (auto k : children(n)) st.push_back({k, d + 1});
    }
  }
  if (max_depth > kMaxContourDepth) {
    out.x.assign(count, -1);
    layered_layout(roots, children, separation, out.x, out.depth);
    for (std::size_t i = 0; i < count; ++i)
      if (out.depth[i] >= 0) {
        out.width = std::max(out.width, out.x[i]);
        out.levels = std::max(out.levels, out.depth[i] + 1);
      }
    return out;
  }
  Builder b{children, separation, rel, out.depth};
  b.place(roots, 0);
  // Absolute positions, top-down (iterative: deep chains must not overflow the stack).
  out.x.assign(count, -1);
  std::vector<std::uint32_t> stack(roots.begin(), roots.end());
  for (auto r : roots) out.x[r] = rel[r];
  double minx = 0;
  bool first = true;
  while (!stack.empty()) {
    const auto n = stack.back();
    stack.pop_back();
    if (first || out.x[n] < minx) minx = out.x[n], first = false;
    for (auto k : children(n)) {
      out.x[k] = out.x[n] + rel[k];
      stack.push_back(k);
    }
  }
  for (std::size_t i = 0; i < count; ++i)
    if (out.depth[i] >= 0) {
      out.x[i] -= minx;
      out.width = std::max(out.width, out.x[i]);
      out.levels = std::max(out.levels, out.depth[i] + 1);
    }
  return out;
}

}  // namespace ctxscope::viewer
