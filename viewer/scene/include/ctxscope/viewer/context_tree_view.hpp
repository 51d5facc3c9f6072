// ctxscope/viewer/context_tree_view.hpp — the view of the context tree.
//
// Zoom (ctrl+wheel, zoom_by), pan (drag, wheel), fit; arrow keys walk the
// drawn tree (up: parent, down: first child, left/right: neighbour on the same
// level), Enter or space collapses/expands.  Keyboard walking emits
// contextChosen, as a click on a node does.
#pragma once

#include <QGraphicsView>

#include "ctxscope/viewer/context_tree_scene.hpp"

namespace ctxscope::viewer {

class ContextTreeView : public QGraphicsView {
  Q_OBJECT
 public:
  explicit ContextTreeView(ContextTreeScene* scene, QWidget* parent = nullptr);
  ContextTreeScene* tree() const noexcept { return scene_; }

  void fit();
  void zoom_by(double factor);
  /// Scrolls so the context's node is in view (keeps the zoom unless it is unreadable).
  void centre_on(std::uint32_t context);

 signals:
  void contextChosen(std::uint32_t context);

 protected:
  void keyPressEvent(QKeyEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void drawBackground(QPainter* p, const QRectF& rect) override;

 private:
  ContextTreeScene* scene_;
};

}  // namespace ctxscope::viewer
