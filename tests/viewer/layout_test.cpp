// The tidy layout: no two nodes of a level closer than the separation, a
// parent centred over its children, subtrees packed by contour.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "ctxscope/viewer/tree_layout.hpp"

namespace ctxscope::viewer {
namespace {

struct Forest {
  std::vector<std::vector<std::uint32_t>> kids;
  std::vector<std::uint32_t> roots;
  TreeLayout lay() const {
    return tidy_layout(kids.size(), roots, [this](std::uint32_t n) { return std::span<const std::uint32_t>(kids[n]); });
  }
};

Forest random_forest(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Forest f;
  f.kids.resize(n);
  f.roots.push_back(0);
  for (std::uint32_t i = 1; i < n; ++i) {
    if (rng() % 40 == 0) {
      f.roots.push_back(i);
      continue;
    }
    // Prefer recent parents: deep, uneven trees.
    const std::uint32_t p = i - 1 - static_cast<std::uint32_t>(rng() % std::min<std::uint32_t>(i, 8));
    f.kids[p].push_back(i);
  }
  return f;
}

TEST(ViewerTreeLayout, NodesOfALevelNeverOverlapAndParentsSitCentred) {
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto f = random_forest(3000, seed);
    const auto lay = f.lay();
    std::map<int, std::vector<double>> levels;
    for (std::size_t i = 0; i < f.kids.size(); ++i) {
      ASSERT_GE(lay.x[i], 0) << i;
      levels[lay.depth[i]].push_back(lay.x[i]);
      if (!f.kids[i].empty()) {
        EXPECT_NEAR(lay.x[i], (lay.x[f.kids[i].front()] + lay.x[f.kids[i].back()]) / 2, 1e-9);
      }
      for (auto k : f.kids[i]) EXPECT_EQ(lay.depth[k], lay.depth[i] + 1);
    }
    for (auto& [d, xs] : levels) {
      std::sort(xs.begin(), xs.end());
      for (std::size_t i = 1; i < xs.size(); ++i) ASSERT_GE(xs[i] - xs[i - 1], 1.0 - 1e-9) << "level " << d;
    }
  }
}

TEST(ViewerTreeLayout, ASmallSubtreeTucksUnderItsNeighbourInsteadOfWideningTheTree) {
  // root → a (with one child), b (with two leaves), c (a leaf): b moves right
  // only as far as its leaves need (1.5 from a), c sits one slot after b even
  // though b's leaves reach further right below it: contours, not leaf counts
  // (which would make the tree 3 wide).
  Forest f;
  f.kids = {{1, 2, 3}, {4}, {5, 6}, {}, {}, {}, {}};
  f.roots = {0};
  const auto lay = f.lay();
  EXPECT_DOUBLE_EQ(lay.x[2] - lay.x[1], 1.5);
  EXPECT_DOUBLE_EQ(lay.x[3] - lay.x[2], 1.0);
  EXPECT_DOUBLE_EQ(lay.x[6] - lay.x[5], 1.0);
  EXPECT_DOUBLE_EQ(lay.width, 2.5);
}

TEST(ViewerTreeLayout, AChainOfTwoHundredThousandLevelsIsLaidOutWithoutRecursion) {
  Forest f;
  const std::size_t n = 200000;
  f.kids.resize(n + 2);
  for (std::uint32_t i = 0; i + 1 < n; ++i) f.kids[i].push_back(i + 1);
  f.kids[0].push_back(static_cast<std::uint32_t>(n));  // a second child of the root, and a separate root
  f.roots = {0, static_cast<std::uint32_t>(n + 1)};
  const auto lay = f.lay();
  EXPECT_EQ(lay.levels, static_cast<int>(n));
  EXPECT_EQ(lay.depth[n - 1], static_cast<int>(n - 1));
  // Still a layout: nodes of a level apart, the root over its children.
  EXPECT_GE(lay.x[n] - lay.x[1], 1.0);
  EXPECT_DOUBLE_EQ(lay.x[0], (lay.x[1] + lay.x[n]) / 2);
  EXPECT_GE(lay.x[n + 1] - lay.x[n], 1.0);
}

TEST(ViewerTreeLayout, ADeepChainDoesNotOverflowTheStack) {
  Forest f;
  const std::size_t n = 5000;
  f.kids.resize(n);
  for (std::uint32_t i = 0; i + 1 < n; ++i) f.kids[i].push_back(i + 1);
  f.roots = {0};
  const auto lay = f.lay();
  EXPECT_EQ(lay.levels, static_cast<int>(n));
  EXPECT_DOUBLE_EQ(lay.width, 0);
}

}  // namespace
}  // namespace ctxscope::viewer
