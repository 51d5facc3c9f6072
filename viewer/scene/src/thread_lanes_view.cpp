#include "ctxscope/viewer/thread_lanes_view.hpp"

#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "ctxscope/viewer/palette.hpp"

namespace ctxscope::viewer {

using analysis::kNoTime;

ThreadLanesView::ThreadLanesView(ThreadLanesScene* scene, QWidget* parent) : QGraphicsView(scene, parent), scene_(scene) {
  setAlignment(Qt::AlignLeft | Qt::AlignTop);
  setDragMode(QGraphicsView::ScrollHandDrag);
  setTransformationAnchor(QGraphicsView::NoAnchor);
  setViewportUpdateMode(QGraphicsView::FullViewportUpdate);  // the fixed gutter and axis are redrawn every frame
  setFocusPolicy(Qt::StrongFocus);
  setBackgroundBrush(Qt::white);
}

double ThreadLanesView::us_per_px() const { return 1.0 / transform().m11(); }

void ThreadLanesView::set_scale(double sx) {
  const QRectF r = scene_->content_rect();
  const double fit_sx = std::max(1e-9, (viewport()->width() - kGutter - 40.0) / r.width());
  sx = std::clamp(sx, fit_sx / 8, 2000.0);
  setTransform(QTransform::fromScale(sx, 1));
  // The whole run in view: nothing to scroll to, no horizontal scroll bar (a
  // followed run changed its range, and repainted it, on every update).
  const auto policy = sx <= fit_sx * 1.0001 ? Qt::ScrollBarAlwaysOff : Qt::ScrollBarAsNeeded;
  if (horizontalScrollBarPolicy() != policy) setHorizontalScrollBarPolicy(policy);
}

void ThreadLanesView::fit() {
  const QRectF r = scene_->content_rect();
  const double sx = std::max(1e-9, (viewport()->width() - kGutter - 40.0) / r.width());
  set_scale(sx);
  const double cx = r.left() + (viewport()->width() / 2.0 - kGutter - 12) / transform().m11();
  const int vs = verticalScrollBar()->value();
  centerOn(cx, 0);
  verticalScrollBar()->setValue(vs);
  fitted_ = true;
}

void ThreadLanesView::zoom_by(double factor, int anchor_x) {
  if (anchor_x < 0) anchor_x = (kGutter + viewport()->width()) / 2;
  const double t_before = mapToScene(anchor_x, 0).x();
  const int vs = verticalScrollBar()->value();
  set_scale(transform().m11() * factor);
  // Keep the time under the anchor where it was.
  const double cx = t_before + (viewport()->width() / 2.0 - anchor_x) / transform().m11();
  centerOn(cx, 0);
  verticalScrollBar()->setValue(vs);
}

void ThreadLanesView::show_range(std::int64_t a, std::int64_t b) {
  const double xa = ThreadLanesScene::x_of(a), xb = ThreadLanesScene::x_of(b);
  const double avail = viewport()->width() - kGutter - 40.0;
  if ((xb - xa) * transform().m11() > avail) set_scale(avail / std::max(1e-9, xb - xa));
  const double left = mapToScene(kGutter, 0).x(), right = mapToScene(viewport()->width(), 0).x();
  if (xa >= left && xb <= right) return;
  const int vs = verticalScrollBar()->value();
  const double mid = (xa + xb) / 2 + (viewport()->width() / 2.0 - (kGutter + viewport()->width()) / 2.0) / transform().m11();
  centerOn(mid, 0);
  verticalScrollBar()->setValue(vs);
}

void ThreadLanesView::zoom_to(std::int64_t a, std::int64_t b) {
  const double xa = ThreadLanesScene::x_of(a), xb = ThreadLanesScene::x_of(b);
  const double avail = viewport()->width() - kGutter - 40.0;
  set_scale(avail / std::max(1e-6, xb - xa));
  const int vs = verticalScrollBar()->value();
  centerOn(xa + (viewport()->width() / 2.0 - kGutter - 12) / transform().m11(), 0);
  verticalScrollBar()->setValue(vs);
}

void ThreadLanesView::show_lane(int row) {
  if (row < 0) return;
  ensureVisible(QRectF(mapToScene(kGutter + 10, 0).x(), row * ThreadLanesScene::kLaneH, 1, ThreadLanesScene::kLaneH),
                0, 30);
}

void ThreadLanesView::resizeEvent(QResizeEvent* e) {
  QGraphicsView::resizeEvent(e);
  if (!fitted_) fit();
}

void ThreadLanesView::wheelEvent(QWheelEvent* e) {
  if (e->modifiers() & Qt::ControlModifier) {
    zoom_by(e->angleDelta().y() > 0 ? 1.25 : 1 / 1.25, static_cast<int>(e->position().x()));
    e->accept();
    return;
  }
  if (e->modifiers() & Qt::ShiftModifier) {
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - e->angleDelta().y());
    e->accept();
    return;
  }
  QGraphicsView::wheelEvent(e);
}

void ThreadLanesView::drawForeground(QPainter* p, const QRectF&) {
  const auto& doc = scene_->document();
  p->save();
  p->resetTransform();
  const int vw = viewport()->width(), vh = viewport()->height();
  QFont f = p->font();
  f.setFamily(QStringLiteral("DejaVu Sans"));
  f.setPixelSize(11);
  p->setFont(f);

  // Gutter: lane names.
  p->fillRect(QRect(0, 0, kGutter, vh), QColor(0xfa, 0xfb, 0xfc));
  p->setPen(QColor(0xd0, 0xd4, 0xd8));
  p->drawLine(kGutter, 0, kGutter, vh);
  if (doc) {
    const double H = ThreadLanesScene::kLaneH;
    const auto& lanes = scene_->lanes();
    const int first = std::max(0, static_cast<int>(std::floor(mapToScene(0, kAxisH).y() / H)));
    for (int row = first; row < static_cast<int>(lanes.size()); ++row) {
      const int y = mapFromScene(QPointF(0, row * H)).y();
      if (y > vh) break;
      const auto t = lanes[static_cast<std::size_t>(row)];
      const auto& th = doc->model().threads()[t];
      const bool sel = t == scene_->selected_thread();
      if (sel) p->fillRect(QRect(0, y, kGutter, static_cast<int>(H)), QColor(0xff, 0xe0, 0x82));
      int stuck = 0;
      // At the playback time: "still blocked" is the end's verdict only; a thread not yet started is pale.
      const auto now = scene_->time();
      for (auto w : th.waits) stuck += doc->wait_style_at(w, now) == WaitStyle::stuck;
      const bool started = th.spawn_ns == analysis::kNoTime || th.spawn_ns <= now;
      p->setPen(!started ? QColor(0xb8, 0xbe, 0xc4) : th.runtime ? QColor(0x80, 0x80, 0x80) : QColor(0x21, 0x21, 0x21));
      QFont lf = f;
      lf.setBold(stuck > 0);
      p->setFont(lf);
      QString name = QString::fromStdString(doc->thread_title(t));
      const int mark = stuck > 0 ? 14 : 0;
      p->drawText(QRect(8, y, kGutter - 14 - mark, static_cast<int>(H)), Qt::AlignVCenter | Qt::AlignLeft,
                  p->fontMetrics().elidedText(name, Qt::ElideRight, kGutter - 14 - mark));
      if (stuck > 0) {
        p->setRenderHint(QPainter::Antialiasing, true);
        p->setPen(Qt::NoPen);
        p->setBrush(palette::wait_fill(WaitStyle::stuck));
        p->drawEllipse(QPointF(kGutter - 12, y + H / 2), 5, 5);
        p->setRenderHint(QPainter::Antialiasing, false);
      }
    }
    p->setFont(f);
  }

  // Time axis.
  p->fillRect(QRect(0, 0, vw, kAxisH), QColor(0xee, 0xf1, 0xf4));
  p->setPen(QColor(0xc0, 0xc6, 0xcc));
  p->drawLine(0, kAxisH, vw, kAxisH);
  const double us_px = us_per_px();
  // Ticks every 1, 2 or 5 x 10^k ns, at least ~110 px apart.
  const double min_ns = us_px * 1000.0 * 110;
  double step = 1;
  while (step < min_ns) {
    if (step * 2 >= min_ns) { step *= 2; break; }
    if (step * 5 >= min_ns) { step *= 5; break; }
    step *= 10;
  }
  const double t0 = mapToScene(kGutter, 0).x() * 1000.0, t1 = mapToScene(vw, 0).x() * 1000.0;
  p->setPen(QColor(0x44, 0x4c, 0x55));
  for (double t = std::ceil(t0 / step) * step; t <= t1; t += step) {
    const int x = mapFromScene(QPointF(t / 1000.0, 0)).x();
    p->drawLine(x, kAxisH - 6, x, kAxisH);
    const QString label = QString::fromStdString(analysis::format_duration(static_cast<std::int64_t>(t)));
    if (x + 3 + p->fontMetrics().horizontalAdvance(label) < vw)  // never a label cut by the edge
      p->drawText(QRect(x + 3, 0, 110, kAxisH - 2), Qt::AlignLeft | Qt::AlignVCenter, label);
  }
  p->fillRect(QRect(0, 0, kGutter, kAxisH), QColor(0xe3, 0xe7, 0xeb));
  p->setPen(QColor(0x44, 0x4c, 0x55));
  p->drawText(QRect(8, 0, kGutter - 10, kAxisH), Qt::AlignVCenter | Qt::AlignLeft,
              doc ? tr("threads (%1)").arg(scene_->lanes().size()) : tr("threads"));
  p->restore();
}

}  // namespace ctxscope::viewer
