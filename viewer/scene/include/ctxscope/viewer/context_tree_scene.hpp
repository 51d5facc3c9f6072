// ctxscope/viewer/context_tree_scene.hpp — the drawn context tree.
//
// A QGraphicsScene holding one item that draws the visible forest of a
// document: a tidy layout (tree_layout.hpp), parent above children, each node
// a box with its kind, id, site and lifetime, filled by its NodeState
// (palette.hpp).  Cancel origins carry a marker; the tree edges a cancel
// travelled down (children cancelled by their parent) are drawn in the wave
// colour.  Subtrees collapse and expand (a collapsed node shows "+N").  One
// item rather than one per node: 10,000 nodes stay one cull-and-draw loop,
// and the level of detail drops text, then borders, as nodes shrink.
//
// Thread safety: GUI thread only.
#pragma once

#include <QGraphicsScene>
#include <QPointF>
#include <QRectF>
#include <QTimer>
#include <limits>
#include <tuple>
#include <vector>

#include "ctxscope/viewer/trace_document.hpp"
#include "ctxscope/viewer/tree_geometry.hpp"

namespace ctxscope::viewer {

class TraceFilter;
class TreeItem;

class ContextTreeScene : public QGraphicsScene {
  Q_OBJECT
 public:
  static constexpr double kNodeW = 184, kNodeH = 54, kGapX = 18, kGapY = 40;
  /// One layout slot (x) and one level (depth) in scene coordinates.
  static constexpr double kSlot = kNodeW + kGapX, kLevel = kNodeH + kGapY;

  explicit ContextTreeScene(QObject* parent = nullptr);
  ~ContextTreeScene() override;

  void set_document(DocumentPtr doc);
  /// The next document of a followed run (the same run, grown): keeps the
  /// selection, the marks and what is laid out, adopts the document's tree
  /// layout when it carries one (the follower lays out whole now and then,
  /// off this thread), and places the contexts no layout has seen yet to the
  /// right of their level — O(new contexts).  With a filter or a collapsed
  /// subtree it lays out whole, like set_document.  Returns the layout it
  /// replaced (nullptr if none), for the caller to free off the GUI thread.
  std::unique_ptr<TreeGeometry> follow_document(DocumentPtr doc);
  const DocumentPtr& document() const noexcept { return doc_; }
  /// Hides contexts the filter does not show (nullptr: show all). The filter must outlive its use.
  void set_filter(const TraceFilter* filter);

  /// Draws the state at time t (playback): contexts not yet created are ghosts
  /// (a faint dashed outline, same place: the layout does not jump), states
  /// and the wave edges as of t, and what was cancelled in (previous, t] —
  /// the last step's cancel wave — outlined.  t >= the end: the finished run.
  void set_time(std::int64_t t, std::int64_t previous);
  std::int64_t time() const noexcept { return t_; }
  /// Cancelled (reached by a cancel) in (previous, t] of the last set_time.
  bool cancelled_in_last_step(std::uint32_t context) const;

  /// The last step's cancel wave, animated: it runs from each origin down
  /// through its descendants, one tree level every kWaveMsPerLevel of wall
  /// time (a timer drives advance_wave; tests call it).  wave_reached(c):
  /// cancelled in the last step and the wave has got to its level.
  static constexpr double kWaveMsPerLevel = 70;
  bool wave_reached(std::uint32_t context) const;
  /// Levels below the origins the wave has reached (large when it is done).
  double wave_level() const noexcept { return wave_level_; }
  bool wave_running() const noexcept { return wave_level_ <= wave_depth_; }
  void advance_wave(double wall_ms);
  /// Levels between a context and the origin of its cancel (0: the origin).
  int wave_depth_of(std::uint32_t context) const;

  /// Comparing two runs: the contexts only this run has (per context index,
  /// 1 = marked; empty: none) get a ring in palette::diff_only() and a badge
  /// with `badge` ("ONLY IN A").  Kept until the next set_marks or set_document.
  void set_marks(std::vector<std::uint8_t> marks, QString badge);
  bool marked(std::uint32_t context) const noexcept { return context < marks_.size() && marks_[context]; }

  void set_collapsed(std::uint32_t context, bool collapsed);
  bool collapsed(std::uint32_t context) const;
  void toggle_collapsed(std::uint32_t context);
  /// Expands every ancestor of `context` so it is drawn.
  void reveal(std::uint32_t context);

  /// The selected context (kNoIndex: none).  Selecting emits nothing: callers
  /// that change the selection tell the other views themselves.
  void select_context(std::uint32_t context);
  std::uint32_t selected_context() const noexcept { return selected_; }

  /// Drawn contexts (visible: filter passes, every ancestor expanded), in layout order.
  const std::vector<std::uint32_t>& drawn() const noexcept { return drawn_; }
  bool is_drawn(std::uint32_t context) const;
  /// Scene rectangle of a drawn context's box (null when not drawn).
  QRectF node_rect(std::uint32_t context) const;
  /// The drawn context under a scene point (kNoIndex: none).
  std::uint32_t context_at(QPointF scene_pos) const;
  /// Bounding rectangle of everything drawn.
  QRectF content_rect() const;

  /// Neighbours for keyboard walking (kNoIndex when none): parent, first drawn
  /// child, previous / next drawn node on the same level.
  std::uint32_t parent_of(std::uint32_t c) const;
  std::uint32_t first_child_of(std::uint32_t c) const;
  std::uint32_t sibling_of(std::uint32_t c, int direction) const;

 signals:
  void contextClicked(std::uint32_t context);
  void layoutChanged();

 protected:
  void mousePressEvent(QGraphicsSceneMouseEvent* e) override;
  void mouseDoubleClickEvent(QGraphicsSceneMouseEvent* e) override;

 private:
  friend class TreeItem;
  void relayout();
  /// Takes g's arrays; returns the ones they replace.
  TreeGeometry adopt(TreeGeometry g);
  void place_new(std::size_t from);
  void refresh_extent();
  /// (level, first, last) of the boxes in each row that meet `r` (scene coordinates).
  std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> in_view(const QRectF& r) const;
  QPointF pos(std::uint32_t c) const noexcept { return {x_[c] * kSlot, depth_[c] * kLevel}; }

  DocumentPtr doc_;
  const TraceFilter* filter_ = nullptr;
  TreeItem* item_ = nullptr;
  std::vector<char> collapsed_;
  std::vector<std::uint8_t> marks_;
  QString mark_badge_;
  std::vector<std::uint32_t> drawn_;              // visible contexts
  std::vector<double> x_;                         // per context: layout x in slots (drawn ones); pos() = its box's top-left
  double width_ = 0;                              // max x
  int levels_ = 0;
  std::vector<char> drawn_flag_;
  std::vector<std::vector<std::uint32_t>> kids_;  // per context: visible children
  std::vector<std::uint32_t> roots_;              // visible roots
  std::vector<int> hidden_below_;                 // per context: descendants hidden by a collapse
  std::vector<std::vector<std::uint32_t>> rows_;  // per depth: drawn contexts by x
  std::vector<int> depth_;
  std::uint32_t selected_;
  QRectF content_;
  bool growing_ = false;  // in follow_document: the scene rect grows with room to spare
  std::int64_t t_ = std::numeric_limits<std::int64_t>::max(), prev_ = std::numeric_limits<std::int64_t>::max();
  double wave_level_ = 1e9;
  int wave_depth_ = 0;
  QTimer* wave_timer_ = nullptr;
};

}  // namespace ctxscope::viewer
