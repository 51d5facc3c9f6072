// ctxscope/viewer/thread_lanes_scene.hpp — the threads as lanes on a time axis.
//
// Scene coordinates: x is time in microseconds since the run start, y is
// lane * kLaneH.  The view scales x only (zoom from the whole run to the
// microsecond); one item draws every lane in device pixels (so text and
// arrowheads keep their size at any zoom), culled to what is exposed:
//   - each thread's span (spawn → exit, or → the end of the trace);
//   - each wait a bar coloured by WaitStyle; bars narrower than a pixel are
//     merged into one run per pixel and the lane's waits are skipped by binary
//     search to the next pixel, so a frame costs O(pixels · log waits), not
//     O(waits);
//   - cancel origins as markers on the cancelling thread's lane;
//   - the deadline of the context a thread works for, dotted, on its lane;
//   - an arrow from each cancel to each wait it woke (TraceModel edges, kind woke);
//   - for each missed edge (a blind wait under a done context) the gap: a red
//     dashed tick where the cancel happened and a hatched bar from there on,
//     and no arrow.
// Lane names and the time axis are drawn by the view (ThreadLanesView), fixed
// on screen.
//
// For tests and benches, record(true) keeps what the last paint drew.
#pragma once

#include <QColor>
#include <QGraphicsScene>
#include <QImage>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class TraceFilter;
class LanesItem;

class ThreadLanesScene : public QGraphicsScene {
  Q_OBJECT
 public:
  static constexpr double kLaneH = 28;

  explicit ThreadLanesScene(QObject* parent = nullptr);
  ~ThreadLanesScene() override;

  void set_document(DocumentPtr doc);
  const DocumentPtr& document() const noexcept { return doc_; }
  void set_filter(const TraceFilter* filter);

  /// Threads drawn as lanes, top to bottom (model thread indices).
  const std::vector<std::uint32_t>& lanes() const noexcept { return lanes_; }
  /// Row of a thread among the drawn lanes (-1: hidden).
  int row_of_thread(std::uint32_t thread) const;
  /// Scene x of a trace time.
  static double x_of(std::int64_t ns) noexcept { return static_cast<double>(ns) / 1000.0; }
  /// The time span shown by "fit": [begin, end] of the document, in scene x.
  QRectF content_rect() const;
  /// Scene rectangle of a wait's bar (null if its lane is hidden).
  QRectF wait_rect(std::uint32_t wait) const;
  /// Wait / thread under a scene point, `tolerance` in scene x units.
  std::uint32_t wait_at(QPointF scene_pos, double tolerance) const;
  std::uint32_t thread_at(QPointF scene_pos) const;

  void select(std::uint32_t thread, std::uint32_t wait);
  std::uint32_t selected_thread() const noexcept { return sel_thread_; }
  std::uint32_t selected_wait() const noexcept { return sel_wait_; }
  /// Draws the state at time t (playback): lanes, waits and spans cut at t,
  /// waits not yet begun absent, markers and arrows up to t, a cursor line at
  /// t; the arrows of wakes in (previous, t] — the last step's — emphasised.
  /// t >= the end: the finished run, no cursor.
  void set_time(std::int64_t t, std::int64_t previous);
  std::int64_t time() const noexcept { return t_; }

  /// Comparing two runs: the waits only this run has (per wait index, 1 =
  /// marked; empty: none) get a frame in palette::diff_only() and their bar is
  /// never merged away.  Kept until the next set_marks or set_document.
  void set_marks(std::vector<std::uint8_t> marks);
  bool marked(std::uint32_t wait) const noexcept { return wait < marks_.size() && marks_[wait]; }

  /// Draws the arrows of the cancel that began at `origin` (a context index) emphasised; kNoIndex: none.
  void set_wave(std::uint32_t origin);

  /// What the last paint drew (kept only while recording).
  struct PaintRecord {
    int lanes = 0, bars = 0, merged_runs = 0, arrows = 0, gaps = 0, markers = 0, deadlines = 0, hot_arrows = 0;
    bool cursor = false;                                    ///< the playback cursor line was drawn
    std::unordered_map<std::uint32_t, QColor> wait_colour;  ///< waits drawn as their own bar
    std::unordered_set<std::uint32_t> arrow_to;             ///< waits an arrowhead ended at
    std::unordered_set<std::uint32_t> gap_at;               ///< waits drawn with the missed-edge gap
    std::unordered_set<std::uint32_t> marked_at;            ///< waits drawn with the compare mark
  };
  void record(bool on) { recording_ = on; }
  const PaintRecord& last_paint() const noexcept { return record_; }

 signals:
  void waitClicked(std::uint32_t thread, std::uint32_t wait);
  void threadClicked(std::uint32_t thread);

 protected:
  void mousePressEvent(QGraphicsSceneMouseEvent* e) override;

 private:
  friend class LanesItem;
  DocumentPtr doc_;
  const TraceFilter* filter_ = nullptr;
  LanesItem* item_ = nullptr;
  std::vector<std::uint32_t> lanes_;
  std::vector<int> row_of_;                 // per thread
  std::vector<std::uint8_t> marks_;         // per wait: only this run has it (comparing)
  std::uint32_t sel_thread_, sel_wait_, wave_origin_;
  bool recording_ = false;
  std::int64_t t_ = std::numeric_limits<std::int64_t>::max(), prev_ = std::numeric_limits<std::int64_t>::max();
  PaintRecord record_;
  // A cancel marker (triangle and stem), rendered once per colour and device
  // pixel ratio and copied per marker: hundreds of antialiased polygons were
  // half of a followed run's lanes paint.
  struct MarkerSprite {
    QImage image;
    double dpr = 0;
  };
  MarkerSprite marker_sprite_[2];  // explicit cancel, deadline
};

}  // namespace ctxscope::viewer
