// ctxscope/viewer/tree_geometry.hpp — what the context tree draws, laid out.
//
// The visible forest of a document (the filter passes, every ancestor
// expanded), its tidy layout in layout units (tree_layout.hpp: x in slots,
// depth in levels), and the per-depth rows by x the keyboard walks.  A pure
// function of the document, the filter and the collapsed subtrees, so it can
// be computed off the GUI thread: the loader and the live follower build the
// default one (no filter, nothing collapsed) with each document
// (TraceDocument::take_default_tree), and the scene adopts it without laying
// out on the GUI thread; any other state the scene computes itself.
#pragma once

#include <cstdint>
#include <vector>

namespace ctxscope::viewer {

class TraceDocument;
class TraceFilter;

struct TreeGeometry {
  std::vector<std::uint32_t> drawn;              ///< visible contexts, by index
  std::vector<char> drawn_flag;                  ///< per context
  std::vector<std::vector<std::uint32_t>> kids;  ///< per context: visible children
  std::vector<std::uint32_t> roots;              ///< visible roots
  std::vector<int> hidden_below;                 ///< per context: shown descendants a collapse hides
  std::vector<std::vector<std::uint32_t>> rows;  ///< per depth: drawn contexts by x
  std::vector<double> x;                         ///< per context: layout x (slots); drawn ones
  std::vector<int> depth;                        ///< per context: level, -1 when not drawn
  double width = 0;                              ///< max x
  int levels = 0;
};

/// The geometry of `doc` under `filter` (nullptr: all) with `collapsed`
/// (per context, 1 = collapsed; empty: none).
TreeGeometry tree_geometry(const TraceDocument& doc, const TraceFilter* filter, const std::vector<char>& collapsed);

}  // namespace ctxscope::viewer
