#include "ctxscope/viewer/tree_geometry.hpp"

#include <algorithm>
#include <span>

#include "ctxscope/viewer/trace_document.hpp"
#include "ctxscope/viewer/trace_filter.hpp"
#include "ctxscope/viewer/tree_layout.hpp"

namespace ctxscope::viewer {

TreeGeometry tree_geometry(const TraceDocument& doc, const TraceFilter* filter, const std::vector<char>& collapsed) {
  TreeGeometry g;
  const auto& m = doc.model();
  const auto n = m.contexts().size();
  g.kids.assign(n, {});
  g.drawn_flag.assign(n, 0);
  g.hidden_below.assign(n, 0);
  g.depth.assign(n, -1);
  auto shown = [&](std::uint32_t c) { return !filter || filter->context_visible(c); };
  auto is_collapsed = [&](std::uint32_t c) { return c < collapsed.size() && collapsed[c]; };
  for (auto r : m.roots())
    if (shown(r)) g.roots.push_back(r);
  // Visible children (iterative walk; count what a collapse hides).
  std::vector<std::uint32_t> stack(g.roots.begin(), g.roots.end());
  while (!stack.empty()) {
    const auto c = stack.back();
    stack.pop_back();
    g.drawn_flag[c] = 1;
    const auto& children = m.contexts()[c].children;
    if (!is_collapsed(c)) g.kids[c].reserve(children.size());
    for (auto k : children) {
      if (!shown(k)) continue;
      if (is_collapsed(c)) {
        ++g.hidden_below[c];
        continue;
      }
      g.kids[c].push_back(k);
      stack.push_back(k);
    }
  }
  // Sizes of hidden subtrees: count all shown descendants of collapsed nodes.
  if (!collapsed.empty()) {
    for (std::uint32_t c = 0; c < n; ++c) {
      if (!g.drawn_flag[c] || !is_collapsed(c)) continue;
      int count = 0;
      std::vector<std::uint32_t> st(m.contexts()[c].children.begin(), m.contexts()[c].children.end());
      while (!st.empty()) {
        const auto k = st.back();
        st.pop_back();
        if (!shown(k)) continue;
        ++count;
        st.insert(st.end(), m.contexts()[k].children.begin(), m.contexts()[k].children.end());
      }
      g.hidden_below[c] = count;
    }
  }
  TreeLayout lay = tidy_layout(n, g.roots, [&](std::uint32_t c) { return std::span<const std::uint32_t>(g.kids[c]); }, 1.0);
  g.x = std::move(lay.x);
  g.width = lay.width;
  g.levels = std::max(lay.levels, 0);
  g.rows.assign(static_cast<std::size_t>(g.levels), {});
  for (std::uint32_t c = 0; c < n; ++c) {
    if (!g.drawn_flag[c]) continue;
    g.depth[c] = lay.depth[c];
    g.drawn.push_back(c);
    g.rows[static_cast<std::size_t>(lay.depth[c])].push_back(c);
  }
  for (auto& row : g.rows) std::sort(row.begin(), row.end(), [&](auto a, auto b) { return g.x[a] < g.x[b]; });
  return g;
}

}  // namespace ctxscope::viewer
