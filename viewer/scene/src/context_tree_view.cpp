#include "ctxscope/viewer/context_tree_view.hpp"

#include <QKeyEvent>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>

namespace ctxscope::viewer {

using analysis::kNoIndex;

ContextTreeView::ContextTreeView(ContextTreeScene* scene, QWidget* parent) : QGraphicsView(scene, parent), scene_(scene) {
  setRenderHint(QPainter::Antialiasing);
  setRenderHint(QPainter::TextAntialiasing);
  setDragMode(QGraphicsView::ScrollHandDrag);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setViewportUpdateMode(QGraphicsView::MinimalViewportUpdate);
  setFocusPolicy(Qt::StrongFocus);
  setBackgroundBrush(Qt::white);
}

void ContextTreeView::fit() {
  const QRectF r = scene_->content_rect();
  if (r.isNull()) return;
  fitInView(r.adjusted(-30, -30, 30, 30), Qt::KeepAspectRatio);
  // Never blow a small tree up past its natural size.
  if (transform().m11() > 1.0) {
    setTransform(QTransform());
    // Top-aligned: the root where the eye starts, the lanes right below.
    centerOn(r.center().x(), r.top() - 30 + viewport()->height() / 2.0);
  }
}

void ContextTreeView::zoom_by(double factor) {
  const double s = transform().m11() * factor;
  if (s < 0.005 || s > 6) return;
  const auto anchor = transformationAnchor();
  setTransformationAnchor(QGraphicsView::AnchorViewCenter);
  scale(factor, factor);
  setTransformationAnchor(anchor);
}

void ContextTreeView::centre_on(std::uint32_t c) {
  const QRectF r = scene_->node_rect(c);
  if (r.isNull()) return;
  if (transform().m11() < 0.4) setTransform(QTransform::fromScale(0.8, 0.8));
  const QRectF vis = mapToScene(viewport()->rect()).boundingRect();
  if (!vis.contains(r)) centerOn(r.center());
}

void ContextTreeView::keyPressEvent(QKeyEvent* e) {
  auto c = scene_->selected_context();
  if (c == kNoIndex && !scene_->drawn().empty() &&
      (e->key() == Qt::Key_Up || e->key() == Qt::Key_Down || e->key() == Qt::Key_Left || e->key() == Qt::Key_Right)) {
    emit contextChosen(scene_->drawn().front());
    return;
  }
  std::uint32_t next = kNoIndex;
  switch (e->key()) {
    case Qt::Key_Up: next = scene_->parent_of(c); break;
    case Qt::Key_Down: next = scene_->first_child_of(c); break;
    case Qt::Key_Left: next = scene_->sibling_of(c, -1); break;
    case Qt::Key_Right: next = scene_->sibling_of(c, +1); break;
    case Qt::Key_Return:
    case Qt::Key_Enter:
      if (c != kNoIndex) scene_->toggle_collapsed(c);
      return;
    default: QGraphicsView::keyPressEvent(e); return;
  }
  if (next != kNoIndex) {
    emit contextChosen(next);
    centre_on(next);
  }
}

void ContextTreeView::wheelEvent(QWheelEvent* e) {
  if (e->modifiers() & Qt::ControlModifier) {
    const double f = e->angleDelta().y() > 0 ? 1.15 : 1 / 1.15;
    const double s = transform().m11() * f;
    if (s >= 0.005 && s <= 6) scale(f, f);
    e->accept();
    return;
  }
  QGraphicsView::wheelEvent(e);
}

void ContextTreeView::drawBackground(QPainter* p, const QRectF& rect) {
  p->fillRect(rect, Qt::white);
}

}  // namespace ctxscope::viewer
