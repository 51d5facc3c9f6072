// ctxscope/viewer/thread_lanes_view.hpp — the view of the thread lanes.
//
// Scales time only: zoom from the whole run (fit) down to about 2000 pixels
// per microsecond; ctrl+wheel zooms under the mouse, wheel scrolls the lanes,
// shift+wheel or drag pans in time.  Draws, fixed on screen, the lane names
// on the left and the time axis on top.
#pragma once

#include <QGraphicsView>

#include "ctxscope/viewer/thread_lanes_scene.hpp"

namespace ctxscope::viewer {

class ThreadLanesView : public QGraphicsView {
  Q_OBJECT
 public:
  static constexpr int kGutter = 190, kAxisH = 24;
  explicit ThreadLanesView(ThreadLanesScene* scene, QWidget* parent = nullptr);
  ThreadLanesScene* lanes() const noexcept { return scene_; }

  void fit();
  /// Zooms time by `factor` around viewport x `anchor_x` (-1: the centre).
  void zoom_by(double factor, int anchor_x = -1);
  /// Pans so a time range is in view (zooming out if it does not fit).
  void show_range(std::int64_t a_ns, std::int64_t b_ns);
  /// Zooms (in or out) so exactly [a, b] fills the lanes' width.
  void zoom_to(std::int64_t a_ns, std::int64_t b_ns);
  /// Scrolls vertically so a lane is visible.
  void show_lane(int row);
  /// Microseconds per pixel now.
  double us_per_px() const;

 protected:
  void drawForeground(QPainter* p, const QRectF& rect) override;
  void wheelEvent(QWheelEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;

 private:
  void set_scale(double sx);
  ThreadLanesScene* scene_;
  bool fitted_ = false;
};

}  // namespace ctxscope::viewer
